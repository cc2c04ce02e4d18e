from django.contrib import messages
from django.contrib.auth import login
from django.db.models import Count
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from sessions_app.access import (
    BadJSON,
    get_session_for,
    json_error,
    login_required,
    request_data,
    wants_json,
)
from sessions_app.forms import COMMON_LANGUAGES, SignUpForm, StudySessionForm, language_from_request
from sessions_app.models import StudySession


def session_json(session: StudySession) -> dict:
    progress = session.progress()
    return {
        "id": str(session.id),
        "title": session.title,
        "language": session.language,
        "status": session.status,
        "documents": [
            {
                "id": str(document.id),
                "name": document.original_name,
                "status": document.status,
                "error": document.error,
            }
            for document in session.documents.all()
        ],
        "draft_plan": session.draft_plan,
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


@login_required
@require_GET
def session_detail(request, pk):
    session = get_session_for(request, pk)
    if wants_json(request):
        return JsonResponse(session_json(session))
    context = {"session": session, "documents": session.documents.all()}
    return render(request, "sessions/detail.html", context)


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
