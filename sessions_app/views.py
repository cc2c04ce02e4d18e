from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.db import transaction
from django.db.models import Count
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sessions_app.access import get_session_for
from sessions_app.forms import SignUpForm, StudySessionForm
from sessions_app.languages import COMMON_LANGUAGES, language_from_request
from sessions_app.models import (
    Document,
    GenerationRefused,
    SignUpAttempt,
    StudySession,
    requeue_stale_extractions,
)
from sessions_app.multipart import UploadRequestError, check_csrf, read_upload
from sessions_app.pages import detail_context, refuse
from sessions_app.uploads import UploadRefused, add_documents
from sessions_app.worker import ensure_in_process_worker
from studyplanner.http import BadJSON, json_error, login_required, request_data, wants_json


@login_required
@require_http_methods(["GET", "POST"])
def session_list(request):
    form = StudySessionForm(initial={"language": language_from_request(request)})
    if request.method == "POST":
        try:
            form = StudySessionForm(request_data(request, text_fields=("title", "language")))
        except BadJSON as error:
            return error.response()
        if form.is_valid():
            try:
                session = _create_session(request.user, form)
            except SessionLimitReached as limit:
                if wants_json(request):
                    return json_error(limit.message, 409)
                messages.error(request, limit.message)
                return redirect("sessions:list")
            if wants_json(request):
                return JsonResponse(session.to_dict(), status=201)
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


class SessionLimitReached(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _create_session(user, form: StudySessionForm) -> StudySession:
    """Save the form's session unless the owner has MAX_SESSIONS_PER_USER already; the
    owner's row is locked while counting, so parallel requests can't pass the cap."""
    limit = settings.MAX_SESSIONS_PER_USER
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        if StudySession.objects.owned_by(user).count() >= limit:
            raise SessionLimitReached(
                f"You have {limit} study sessions, the most an account can hold. "
                "Delete one you no longer need to start a new one."
            )
        session = form.save(commit=False)
        session.owner = user
        session.save()
    return session


@login_required
@require_GET
def session_detail(request, pk):
    session = get_session_for(request, pk)
    if wants_json(request):
        return JsonResponse(session.to_dict())
    template = "sessions/detail.html"
    if request.htmx and request.GET.get("panel") == "live":
        template += "#generation-live"  # the Generate button swaps in the live panel
    return render(request, template, detail_context(session))


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("sessions:list")
    if request.method == "POST" and not SignUpAttempt.allow(request.META.get("REMOTE_ADDR")):
        minutes = f"{settings.SIGNUP_WINDOW_MINUTES:g}"
        return render(
            request,
            "registration/signup.html",
            {
                "form": SignUpForm(),
                "throttled": f"Too many sign-up attempts from your network. Try again in "
                f"{minutes} minutes.",
            },
            status=429,
        )
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.username}! Create your first study session.")
        return redirect("sessions:list")
    return render(
        request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200
    )


def locked_out(request, response=None, credentials=None):
    """What django-axes answers once an IP address or an account is locked out (429)."""
    minutes = f"{settings.AXES_COOLOFF_TIME.total_seconds() / 60:g}"
    message = (
        f"Too many failed log-ins for this account or from your network. "
        f"Try again in {minutes} minutes."
    )
    if wants_json(request):
        return json_error(message, 429)
    context = {"minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT}
    return render(request, "registration/locked_out.html", context, status=429)


def _why_documents_are_locked(session: StudySession) -> str | None:
    if session.is_generating:  # a stale claim (its worker died) locks nothing
        return "A plan is being generated; wait for it to finish or cancel it first."
    if session.status == StudySession.Status.EDITING_PLAN:
        return "Choose “Add more documents” first; the plan then takes in only the new ones."
    return None


# Django's CSRF middleware would read the body with Django's parser before the view; the
# upload reads it itself (sessions_app.multipart) and then runs the same CSRF check.
@csrf_exempt
@login_required
@require_POST
def upload_documents(request, pk):
    session = get_session_for(request, pk)
    try:
        refused = read_upload(request)
    except UploadRequestError as error:
        if forbidden := check_csrf(request):
            return forbidden
        return refuse(request, session, error.message, 400)
    if forbidden := check_csrf(request):
        return forbidden
    uploads = request.FILES.getlist("file")
    if not uploads and not refused:
        return refuse(request, session, "Choose at least one file to upload.", 400)
    if reason := _why_documents_are_locked(session):
        return refuse(request, session, reason)
    try:
        documents = add_documents(session, uploads, refused)
    except UploadRefused as refusal:
        return refuse(request, session, refusal.message)
    if wants_json(request):
        return JsonResponse({"documents": [d.to_dict() for d in documents]}, status=201)
    failed = [d for d in documents if d.status == Document.Status.FAILED]
    if added := len(documents) - len(failed):
        messages.success(request, f"Added {added} document{'' if added == 1 else 's'}.")
    if failed:
        # Each reason is shown once, next to its file in the list.
        names = ", ".join(d.original_name for d in failed)
        messages.error(request, f"Couldn't read {names}: the reason is shown next to each file.")
    return redirect("sessions:detail", pk=session.pk)


@login_required
@require_GET
def document_status(request, pk):
    """The document list as it is now: the page polls it while documents are being read
    (an HTML fragment), API clients get JSON. A document whose worker died is queued again
    here, so a page never waits on a dead worker."""
    session = get_session_for(request, pk)
    requeue_stale_extractions(session)
    context = detail_context(session)
    if context["extracting"]:
        ensure_in_process_worker()
    if wants_json(request):
        return JsonResponse({"documents": [d.to_dict() for d in context["documents"]]})
    context["extraction_finished"] = not context["extracting"]
    return render(request, "sessions/detail.html#document-list", context)


@login_required
@require_POST
def delete_document(request, pk, document_pk):
    session = get_session_for(request, pk)
    document = get_object_or_404(Document, pk=document_pk, session=session)
    if reason := _why_documents_are_locked(session):
        return refuse(request, session, reason)
    document.file.delete(save=False)
    document.delete()
    # The plan stays as it is (SPEC §3): the document only leaves the list of those folded in.
    was_in_plan = session.forget_folded_document(document_pk)
    if wants_json(request):
        return JsonResponse({"deleted": str(document_pk), "was_in_plan": was_in_plan})
    if was_in_plan:
        messages.success(
            request,
            f"Deleted {document.original_name}. Its topics stay in the plan until you edit "
            "them; “Rebuild from the remaining documents” builds the plan again without it.",
        )
        return redirect("sessions:detail", pk=session.pk)
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
        return JsonResponse(session.to_dict())
    return redirect("sessions:detail", pk=session.pk)


@login_required
@require_http_methods(["GET", "POST"])
def delete_session(request, pk):
    """Confirm (GET), then delete the session with its documents and stored files (POST)."""
    session = get_session_for(request, pk)
    if session.is_generating:
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


@login_required
@require_http_methods(["GET", "POST"])
def edit_session(request, pk):
    """Rename the session or change its plan language (fields `title`, `language`)."""
    session = get_session_for(request, pk)
    if request.method == "GET":
        return redirect("sessions:detail", pk=session.pk)
    try:
        data = request_data(request)
        prefix = "edit" if "edit-title" in data else None
        form = StudySessionForm(data, instance=session, prefix=prefix)
    except BadJSON as error:
        return json_error(str(error), 400)
    if not form.is_valid():
        if wants_json(request):
            return json_error("The session could not be changed.", 400, fields=form.errors)
        session.refresh_from_db()
        context = detail_context(session, edit_form=form, edit_open=True)
        return render(request, "sessions/detail.html", context, status=400)
    # Only these fields: a generation may have saved the plan since `session` was loaded.
    form.save(commit=False)
    session.save(update_fields=["title", "language", "updated_at"])
    if wants_json(request):
        return JsonResponse(session.to_dict())
    messages.success(request, "Session updated.")
    return redirect("sessions:detail", pk=session.pk)


@login_required
@require_GET
def download_document(request, pk, document_pk):
    """The uploaded file, to its owner only (uploads are never served publicly)."""
    session = get_session_for(request, pk)
    document = get_object_or_404(Document, pk=document_pk, session=session)
    if not document.file:
        raise Http404("This document has no stored file.")
    try:
        stored = document.file.open("rb")
    except FileNotFoundError:
        raise Http404("The stored file is missing.") from None
    return FileResponse(stored, as_attachment=True, filename=document.original_name)
