"""Page helpers the session page's views share, in this app and in `plans`."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django_htmx.http import HttpResponseClientRefresh

from sessions_app.forms import StudySessionForm
from sessions_app.languages import COMMON_LANGUAGES
from sessions_app.models import Document, StudySession
from studyplanner.http import json_error, wants_json

_EXTRACTING = (Document.Status.PENDING, Document.Status.PROCESSING)


def detail_context(session: StudySession, **extra) -> dict:
    """Everything the session page and its partials need (the plan editor's rows come from
    the plans app's template tag, or from `extra` when the editor re-renders a form)."""
    refusal = session.refusal()
    documents = list(session.documents.defer("content_text"))
    context = {
        "session": session,
        "documents": documents,
        "failed_count": sum(1 for d in documents if d.status == Document.Status.FAILED),
        # Issue 12: the document list polls for news while any is still being read.
        "extracting": any(d.status in _EXTRACTING for d in documents),
        "progress": session.progress(),
        "can_generate": refusal is None,
        "cannot_generate": refusal.message if refusal else "",
        "max_upload_mb": settings.MAX_UPLOAD_MB,
        "edit_form": StudySessionForm(instance=session, prefix="edit"),
        "languages": COMMON_LANGUAGES,
    }
    return {**context, **extra}


def refuse(request, session, message: str, status: int = 409):
    """A refusal the learner can act on: JSON with the status, else a message on the page."""
    if wants_json(request):
        return json_error(message, status)
    messages.error(request, message)
    if request.htmx and not request.htmx.boosted:
        return HttpResponseClientRefresh()  # a fragment swap can't show a page message
    return redirect("sessions:detail", pk=session.pk)
