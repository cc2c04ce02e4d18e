from django.urls import path

from monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("sessions/<uuid:pk>/reset", views.reset_session, name="reset_session"),
]
