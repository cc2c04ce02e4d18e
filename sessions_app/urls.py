from django.urls import path

from sessions_app import views

app_name = "sessions"

urlpatterns = [
    path("", views.session_list, name="list"),
    path("<uuid:pk>/", views.session_detail, name="detail"),
    path("<uuid:pk>/documents", views.upload_documents, name="upload"),
    path("<uuid:pk>/documents/status", views.document_status, name="document_status"),
    path(
        "<uuid:pk>/documents/<uuid:document_pk>/delete",
        views.delete_document,
        name="delete_document",
    ),
    path(
        "<uuid:pk>/documents/<uuid:document_pk>/file",
        views.download_document,
        name="download_document",
    ),
    path("<uuid:pk>/edit", views.edit_session, name="edit"),
    path("<uuid:pk>/reopen", views.reopen_session, name="reopen"),
    path("<uuid:pk>/delete", views.delete_session, name="delete"),
]
