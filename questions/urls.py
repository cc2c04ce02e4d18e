from django.urls import path

from questions import views

app_name = "questions"

urlpatterns = [
    path("<uuid:pk>/ask", views.ask, name="ask"),
    path("<uuid:pk>/questions", views.question_list, name="list"),
    path("<uuid:pk>/questions/<uuid:question_pk>", views.answer_page, name="answer"),
    path("<uuid:pk>/questions/<uuid:question_pk>/delete", views.delete_question, name="delete"),
    path("<uuid:pk>/passages/<int:passage_pk>", views.passage_view, name="passage"),
]
