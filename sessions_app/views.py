from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.db import transaction
from django.db.models import Count
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from sessions_app.access import (
    BadJSON,
    get_session_for,
    json_error,
    login_required,
    request_data,
    wants_json,
)
from sessions_app.forms import COMMON_LANGUAGES, SignUpForm, StudySessionForm, language_from_request
from sessions_app.models import Document, GenerationRefused, StudySession
from sessions_app.uploads import add_documents


def document_json(document: Document) -> dict:
    return {
        "id": str(document.id),
        "name": document.original_name,
        "status": document.status,
        "error": document.error,
        "size": document.size,
        "content_type": document.content_type,
        "page_count": document.page_count,
    }


def session_json(session: StudySession) -> dict:
    progress = session.progress()
    return {
        "id": str(session.id),
        "title": session.title,
        "language": session.language,
        "status": session.status,
        "documents": [document_json(d) for d in session.documents.defer("content_text")],
        "draft_plan": session.plan,
        "progress": {"done": progress.done, "total": progress.total},
        "created_at": session.created_at.isoformat(),
        "updated_at": session.updated_at.isoformat(),
    }


@login_required
@require_http_methods(["GET", "POST"])
def session_list(request):
    form = StudySessionForm(initial={"language": language_from_request(request)})
    if request.method == "POST":
        try:
            form = StudySessionForm(request_data(request))
        except BadJSON as error:
            return json_error(str(error), 400)
        if form.is_valid():
            session = form.save(commit=False)
            session.owner = request.user
            session.save()
            if wants_json(request):
                return JsonResponse(session_json(session), status=201)
            return redirect("sessions:detail", pk=session.pk)
        if wants_json(request):
            return json_error("The session could not be created.", 400, fields=form.errors)

    sessions = (
        StudySession.objects.owned_by(request.user)
        .annotate(document_count=Count("documents"))
        .order_by("-updated_at")
    )
    if wants_json(request):
        return JsonResponse(
            {
                "sessions": [
                    {
                        "id": str(s.id),
                        "title": s.title,
                        "language": s.language,
                        "status": s.status,
                        "document_count": s.document_count,
                        "updated_at": s.updated_at.isoformat(),
                    }
                    for s in sessions
                ]
            }
        )
    context = {"sessions": sessions, "form": form, "languages": COMMON_LANGUAGES}
    return render(request, "sessions/list.html", context, status=400 if form.errors else 200)


def detail_context(session: StudySession, **extra) -> dict:
    """Everything the session page and its partials need."""
    from plans.editor import topics_from_plan

    refusal = session.refusal()
    context = {
        "session": session,
        "documents": list(session.documents.defer("content_text")),
        "progress": session.progress(),
        "can_generate": refusal is None,
        "cannot_generate": refusal.message if refusal else "",
        "max_upload_mb": settings.MAX_UPLOAD_MB,
    }
    if session.status == StudySession.Status.EDITING_PLAN:
        context["editor_topics"] = topics_from_plan(session.plan)
    return {**context, **extra}


@login_required
@require_GET
def session_detail(request, pk):
    session = get_session_for(request, pk)
    if wants_json(request):
        return JsonResponse(session_json(session))
    template = "sessions/detail.html"
    if request.htmx and request.GET.get("panel") == "live":
        template += "#generation-live"  # the Generate button swaps in the live panel
    return render(request, template, detail_context(session))


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("sessions:list")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.username}! Create your first study session.")
        return redirect("sessions:list")
    return render(
        request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200
    )


def refuse(request, session, message: str, status: int = 409):
    """A refusal the learner can act on: JSON with the status, else a message on the page."""
    if wants_json(request):
        return json_error(message, status)
    messages.error(request, message)
    if request.htmx and not request.htmx.boosted:
        return HttpResponseClientRefresh()  # a fragment swap can't show a page message
    return redirect("sessions:detail", pk=session.pk)


def _why_documents_are_locked(session: StudySession) -> str | None:
    if session.status == StudySession.Status.GENERATING_PLAN:
        return "A plan is being generated; wait for it to finish or cancel it first."
    if session.status == StudySession.Status.EDITING_PLAN:
        return "Choose “Add more documents” first; the plan then takes in only the new ones."
    return None


@login_required
@require_POST
def upload_documents(request, pk):
    session = get_session_for(request, pk)
    uploads = request.FILES.getlist("file")
    if not uploads:
        return refuse(request, session, "Choose at least one file to upload.", 400)
    if reason := _why_documents_are_locked(session):
        return refuse(request, session, reason)
    documents = add_documents(session, uploads)
    if wants_json(request):
        return JsonResponse({"documents": [document_json(d) for d in documents]}, status=201)
    failed = [d for d in documents if d.status == Document.Status.FAILED]
    if added := len(documents) - len(failed):
        messages.success(request, f"Added {added} document{'' if added == 1 else 's'}.")
    for document in failed:
        messages.error(request, f"{document.original_name}: {document.error}")
    return redirect("sessions:detail", pk=session.pk)


@login_required
@require_POST
def delete_document(request, pk, document_pk):
    session = get_session_for(request, pk)
    document = get_object_or_404(Document, pk=document_pk, session=session)
    if reason := _why_documents_are_locked(session):
        return refuse(request, session, reason)
    document.file.delete(save=False)
    document.delete()
    if wants_json(request):
        return JsonResponse({"deleted": str(document_pk)})
    messages.success(request, f"Deleted {document.original_name}.")
    return redirect("sessions:detail", pk=session.pk)


@login_required
@require_POST
def reopen_session(request, pk):
    """EDITING_PLAN → UPLOADING: add more documents; the next run folds in only those."""
    session = get_session_for(request, pk)
    try:
        session.reopen()
    except GenerationRefused as refused:
        return refuse(request, session, refused.message)
    if wants_json(request):
        return JsonResponse(session_json(session))
    return redirect("sessions:detail", pk=session.pk)


@login_required
@require_http_methods(["GET", "POST"])
def delete_session(request, pk):
    """Confirm (GET), then delete the session with its documents and stored files (POST)."""
    session = get_session_for(request, pk)
    if session.status == StudySession.Status.GENERATING_PLAN and not session.is_stale:
        return refuse(request, session, "Cancel the running generation before deleting.")
    if request.method == "GET":
        return render(request, "sessions/delete.html", {"session": session})
    stored = [d.file.name for d in session.documents.exclude(file="")]
    storage = Document._meta.get_field("file").storage
    with transaction.atomic():
        session.delete()
        transaction.on_commit(lambda: [storage.delete(name) for name in stored])
    if wants_json(request):
        return JsonResponse({"deleted": str(pk)})
    messages.success(request, f"Deleted “{session.title}”.")
    return redirect("sessions:list")
