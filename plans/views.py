from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from plans import live
from plans.builders import select_builder
from plans.editor import (
    apply_action,
    attach_problems,
    deleted_topic_from_form,
    duplicate_titles,
    raw_plan,
    topics_from_form,
    topics_from_plan,
)
from plans.history import record_version
from plans.live import signal_cancel
from plans.models import PlanVersion
from plans.quota import acharge
from plans.schema import PlanValidationError, normalize_plan
from plans.stream import GenerationStream, final_event
from quotas.http import too_many
from quotas.service import QuotaExceeded
from sessions_app.access import aget_session_for, get_session_for
from sessions_app.languages import normalize_language_tag
from sessions_app.models import GenerationRefused
from sessions_app.pages import detail_context, refuse
from studyplanner.db import run_db
from studyplanner.http import BadJSON, json_error, login_required, request_data, wants_json


@login_required
@require_http_methods(["GET", "POST"])
async def generate_plan(request, pk):
    """GET: the plan generation as an event stream (SPEC §7). POST: the same, as one JSON answer.

    With `Last-Event-ID` (or `?last_event_id=`) the stream resumes that run, live or ended;
    with `?attach=1` it watches the session's live run if there is one (any worker). Else it
    claims the session and starts a run, which a second request gets 409 for. Every check
    (401, 404, 409, a bad X-Language) happens before the response starts.
    """
    session = await aget_session_for(request, pk)
    page = request.method == "POST" and not wants_json(request)  # a form without JavaScript
    language = session.language
    if "X-Language" in request.headers:
        language = normalize_language_tag(request.headers["X-Language"])
        if language is None:
            return json_error("X-Language must be a language code such as en, de or pt-BR.", 400)
    last_event_id = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id")
    builder = select_builder()
    user = await request.auser()
    try:
        watch = await live.watch_or_start(
            session,
            builder=builder,
            language=language,
            last_event_id=last_event_id,
            attach=request.GET.get("attach") == "1",
            # The daily AI quota (SPEC §16), only for a new run: refused before it starts.
            charge=lambda: acharge(user, session, builder),
        )
    except QuotaExceeded as exceeded:
        return refuse(request, session, exceeded.message, 429) if page else too_many(exceeded)
    except GenerationRefused as refused:
        if page:
            return refuse(request, session, refused.message)
        return json_error(refused.message, 409, reason=refused.reason)

    if request.method == "POST":
        return await _generate_without_streaming(request, session, watch)

    response = StreamingHttpResponse(
        GenerationStream(watch, session_id=session.pk, html=request.GET.get("format") == "html"),
        content_type="text/event-stream; charset=utf-8",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event through at once
    return response


async def _generate_without_streaming(request, session, watch):
    """The whole generation in one request: JSON for API clients; for a page without
    JavaScript, back to the session page with the outcome as a message."""
    try:
        final = await final_event(watch)
    finally:
        watch.close()
    if not wants_json(request):
        if final is not None and final.name == "completed":
            messages.success(request, final.payload()["message"])
        elif final is not None:
            messages.error(request, final.payload()["message"])
        return redirect(reverse("sessions:detail", args=[session.pk]))
    if final is None:
        return json_error("The generation ended without a result.", 502, retryable=True)
    data = final.payload()
    if final.name == "completed":
        return JsonResponse({"plan": data["plan"]})
    if final.name == "cancelled":
        return json_error(data["message"], 409, reason="cancelled")
    return json_error(data["message"], 502, retryable=data.get("retryable", True))


def _plan_status(session) -> dict:
    progress = session.progress()
    return {
        "status": session.status,
        "progress": {"done": progress.done, "total": progress.total},
        "plan": session.plan,
        "stale": session.is_stale,
        "cancel_requested": session.cancel_requested_at is not None,
    }


@login_required
@require_GET
async def plan_status(request, pk):
    session = await aget_session_for(request, pk)
    return JsonResponse(await run_db(_plan_status, session))


@login_required
@require_POST
async def cancel_generation(request, pk):
    """Ask the running generation to stop, wherever it runs (a flag in the database)."""
    session = await aget_session_for(request, pk)
    if not await session.arequest_cancel():
        if wants_json(request):
            return json_error(
                "No generation is running for this session.", 409, reason="not_generating"
            )
        return redirect(reverse("sessions:detail", args=[session.pk]))
    if not signal_cancel(session.pk):
        # Not running in this process. If no process has sent a heartbeat lately either,
        # nobody will ever read the flag: end the generation here.
        silent_for = 3 * settings.PLAN_HEARTBEAT_INTERVAL
        if await run_db(session.release_if_abandoned, silent_for) and wants_json(request):
            return JsonResponse({"status": "cancelled"})
    if wants_json(request):
        return JsonResponse({"status": "cancelling"}, status=202)
    if request.htmx and not request.htmx.boosted:
        return HttpResponse(status=204)  # the stream itself reports `cancelled`
    return redirect(reverse("sessions:detail", args=[session.pk]))


@login_required
@require_http_methods(["GET", "POST"])
def plan_editor(request, pk):
    """The learner's edits: a JSON body {"plan": [...]} or the editor form (SPEC §6, §8).

    Both go through the same validation as the model's output. Every saved plan is kept in
    the history. An htmx request gets the editor fragment back, also when the plan is
    invalid: then with 422, which base.html's htmx config swaps like a 200 (django-htmx's
    debug handler only takes over 400/403/404/500 answers).
    """
    session = get_session_for(request, pk)
    if request.method == "GET":
        if wants_json(request):
            return JsonResponse({"status": session.status, "plan": session.plan})
        return redirect(reverse("sessions:detail", args=[session.pk]) + "#plan-editor")
    if request.content_type == "application/json":
        return _save_plan_from_json(request, session)

    action = request.POST.get("action", "save")
    topics, focus, deleted = apply_action(topics_from_form(request.POST), action, request.POST)
    try:
        if duplicates := duplicate_titles(topics):
            raise PlanValidationError(duplicates)
        plan = session.save_edited_plan(normalize_plan(raw_plan(topics)))
    except GenerationRefused as refused:
        return refuse(request, session, refused.message)
    except PlanValidationError as invalid:
        general = attach_problems(topics, invalid.problems)
        context = detail_context(
            session,
            editor_topics=topics,
            editor_invalid=True,
            editor_errors=general,
            editor_focus=_first_problem(topics) or (focus.id(topics) if focus else ""),
            # Nothing was saved: a pending delete can still be undone.
            editor_deleted=deleted
            or (deleted_topic_from_form(request.POST) if action != "undo-delete" else None),
        )
        status = 422 if request.htmx else 400
        return render(request, _editor_template(request), context, status=status)
    record_version(session, plan, PlanVersion.Source.EDIT, label=_edit_label(action, deleted))
    if not request.htmx:
        if deleted is not None:
            messages.success(request, f"Deleted “{deleted.title}”. The plan before is in History.")
        else:
            messages.success(request, "Plan saved.")
        return redirect(reverse("sessions:detail", args=[session.pk]) + "#plan-editor")
    rows = topics_from_plan(plan)
    context = detail_context(
        session,
        editor_topics=rows,
        editor_saved=deleted is None,
        editor_deleted=deleted,
        editor_focus=focus.id(rows) if focus else "",
    )
    return render(request, _editor_template(request), context)


def _first_problem(topics) -> str:
    """The id of the first field marked invalid, where the learner goes next."""
    for topic in topics:
        if topic.errors:
            return f"t{topic.key}-title"
        if topic.subtopic_errors:
            return f"t{topic.key}-sub{min(topic.subtopic_errors)}"
    return ""


def _edit_label(action: str, deleted) -> str:
    if deleted is not None:
        return f"Deleted the topic “{deleted.title}”"
    verb = action.partition(":")[0]
    return {
        "up": "Moved a topic",
        "down": "Moved a topic",
        "delete-sub": "Removed a subtopic",
        "sub-up": "Moved a subtopic",
        "sub-down": "Moved a subtopic",
        "undo-delete": "Undid a topic's deletion",
    }.get(verb, "Your edit")


def _editor_template(request) -> str:
    return "sessions/detail.html#plan-editor" if request.htmx else "sessions/detail.html"


def _save_plan_from_json(request, session):
    try:
        data = request_data(request)
    except BadJSON as error:
        return error.response()
    if "plan" not in data:
        return json_error('Send the plan as {"plan": [...]}.', 400)
    try:
        plan = session.save_edited_plan(normalize_plan(data["plan"]))
        record_version(session, plan, PlanVersion.Source.EDIT, label="Saved through the API")
    except GenerationRefused as refused:
        return json_error(refused.message, 409, reason=refused.reason)
    except PlanValidationError as invalid:
        problems = [
            {"topic": p.topic, "subtopic": p.subtopic, "message": str(p)} for p in invalid.problems
        ]
        return json_error("The plan is not valid.", 400, problems=problems)
    return JsonResponse({"plan": plan})
