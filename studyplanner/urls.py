from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from monitoring.views import metrics
from sessions_app.views import signup

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="sessions:list", permanent=False)),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", signup, name="signup"),
    path("sessions/", include("sessions_app.urls")),
    path("sessions/", include("plans.urls")),
    path("sessions/", include("questions.urls")),
    path("admin/health/", include("monitoring.urls")),
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),
    # Browsers ask for /favicon.ico by themselves (admin pages, files opened directly).
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
]

handler400 = "studyplanner.errors.bad_request"
handler404 = "studyplanner.errors.not_found"
handler500 = "studyplanner.errors.server_error"
