from django.urls import path

from plans import plan_views, views

app_name = "plans"

urlpatterns = [
    path("<uuid:pk>/generate-plan", views.generate_plan, name="generate"),
    path("<uuid:pk>/plan-status", views.plan_status, name="status"),
    path("<uuid:pk>/cancel-generation", views.cancel_generation, name="cancel"),
    path("<uuid:pk>/plan", views.plan_editor, name="editor"),
    path("<uuid:pk>/plan/history", plan_views.plan_history, name="history"),
    path(
        "<uuid:pk>/plan/history/<uuid:version_pk>/restore",
        plan_views.restore_plan_version,
        name="restore",
    ),
    path("<uuid:pk>/plan/rebuild", plan_views.rebuild_plan, name="rebuild"),
    path("<uuid:pk>/plan/study", plan_views.study_view, name="study"),
    path("<uuid:pk>/plan.md", plan_views.export_markdown, name="markdown"),
]
