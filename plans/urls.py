from django.urls import path

from plans import views

app_name = "plans"

urlpatterns = [
    path("<uuid:pk>/generate-plan", views.generate_plan, name="generate"),
    path("<uuid:pk>/plan-status", views.plan_status, name="status"),
    path("<uuid:pk>/cancel-generation", views.cancel_generation, name="cancel"),
    path("<uuid:pk>/plan", views.plan_editor, name="editor"),
]
