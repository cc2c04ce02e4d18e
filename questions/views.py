"""Ask your documents over HTTP (SPEC §15).

    GET  /sessions/<id>/ask?q=…            the answer as an event stream (`?format=html`: fragments)
    POST /sessions/<id>/ask                JSON {"question": "…"} → one JSON answer; a plain form
                                           → the answer page; an htmx form → the live panel
    GET  /sessions/<id>/questions          the history as JSON, newest first
    POST /sessions/<id>/questions/<q>/delete
    GET  /sessions/<id>/passages/<p>       a cited passage in its document's context

Every check (401, 404, 400, 409, the daily AI quota's 429) happens before a response starts.
"""

from __future__ import annotations

import time
from contextlib import aclosing

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from questions.answering import Done, Failed, answer_question, question_builder
from questions.models import Question
from questions.quota import acharge, spent_message
from questions.stream import sse_body
from quotas.http import too_many
from quotas.service import QuotaExceeded
from sessions_app.access import aget_session_for, get_session_for
from sessions_app.models import Passage
from sessions_app.passages import query_terms
from studyplanner.db import run_db
from studyplanner.http import BadJSON, json_error, login_required, request_data, wants_json
from studyplanner.text import strip_unstorable

NO_DOCUMENT = "Upload at least one document that could be read before asking questions."


def question_problem(text: str) -> str | None:
    """Why a question can't be asked, or None."""
    if not text.strip():
        return "Type a question first."
    if len(text) > settings.QUESTION_MAX_CHARS:
        return (
            f"A question can be at most {settings.QUESTION_MAX_CHARS:,} characters "
            f"(this one has {len(text):,})."
        )
    return None


def _question_from(request) -> str:
    # Issue 12: NULs (a form's %00) can't be stored; a JSON field of the wrong type is a 400.
    if request.method == "GET":
        return strip_unstorable(request.GET.get("q", ""))
    data = request_data(request, text_fields=("question", "q"))
    value = data.get("question", data.get("q", ""))
    return strip_unstorable(value) if isinstance(value, str) else ""


@login_required
@require_http_methods(["GET", "POST"])
async def ask(request, pk):
    started = time.monotonic()
    session = await aget_session_for(request, pk)
    htmx_form = request.method == "POST" and request.htmx and not wants_json(request)
    page = request.method == "POST" and not request.htmx and not wants_json(request)
    try:
        text = _question_from(request)
    except BadJSON as error:
        return error.response()
    problem = question_problem(text)
    if problem is None and not await session.completed_documents().aexists():
        problem, status = NO_DOCUMENT, 409
    else:
        status = 400
    if problem is not None:
        if htmx_form:
            return render(
                request, "questions/events.html#ask-problem", {"message": problem}, status=200
            )
        if page:
            messages.error(request, problem)
            return redirect(reverse("sessions:detail", args=[session.pk]) + "#ask")
        return json_error(problem, status)
    text = text.strip()

    user = await request.auser()
    uses_model = question_builder() == "openrouter"
    if htmx_form:
        # The live panel: it opens the event stream itself (htmx SSE).
        if spent := await run_db(spent_message, user, uses_model=uses_model):
            return render(request, "questions/events.html#ask-problem", {"message": spent})
        context = {"session": session, "q": text}
        return render(request, "questions/events.html#live", context)

    try:  # the daily AI quota (SPEC §16), before the response starts
        grant = await acharge(user, uses_model=uses_model)
    except QuotaExceeded as exceeded:
        if page:
            messages.error(request, exceeded.message)
            return redirect(reverse("sessions:detail", args=[session.pk]) + "#ask")
        return too_many(exceeded)
    events = answer_question(session, user, text, started=started, quota=grant)
    if request.method == "GET":
        html = request.GET.get("format") == "html"
        body = sse_body(events, html_context={"session": session, "q": text} if html else None)
        response = StreamingHttpResponse(body, content_type="text/event-stream; charset=utf-8")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response

    final = None
    sources: list[dict] = []
    async with aclosing(events):
        async for event in events:
            if event.name == "sources":
                sources = event.payload()["sources"]
            if event.final:
                final = event
                break
    if page:
        if isinstance(final, Done):
            return redirect(reverse("questions:answer", args=[session.pk, final.question.pk]))
        messages.error(request, final.message if final else "The answer could not be written.")
        return redirect(reverse("sessions:detail", args=[session.pk]) + "#ask")
    if isinstance(final, Done):
        payload = final.payload()
        return JsonResponse({**payload, "sources": sources})
    if isinstance(final, Failed):
        return json_error(final.message, 502, retryable=final.retryable)
    return json_error("The answer could not be written.", 502, retryable=True)


@login_required
@require_GET
def answer_page(request, pk, question_pk):
    """One question and its answer as a page (where a form without JavaScript lands)."""
    session = get_session_for(request, pk)
    question = _question_or_404(session, question_pk)
    return render(request, "questions/answer.html", {"session": session, "question": question})


@login_required
@require_GET
def question_list(request, pk):
    session = get_session_for(request, pk)
    if not wants_json(request):
        return redirect(reverse("sessions:detail", args=[session.pk]) + "#ask")
    questions = Question.objects.filter(session=session).newest_first()
    return JsonResponse({"questions": [q.to_dict() for q in questions]})


@login_required
@require_POST
def delete_question(request, pk, question_pk):
    session = get_session_for(request, pk)
    _question_or_404(session, question_pk).delete()
    if wants_json(request):
        return HttpResponse(status=204)
    if request.htmx:
        return HttpResponse("")  # the history row swaps itself out
    messages.success(request, "Question deleted.")
    return redirect(reverse("sessions:detail", args=[session.pk]) + "#ask")


@login_required
@require_GET
def passage_view(request, pk, passage_pk):
    """The passage with the text around it (its neighbours in the document), the document's
    name and page; the words of `?q=` highlighted."""
    session = get_session_for(request, pk)
    try:
        passage = Passage.objects.select_related("document").get(pk=passage_pk, session=session)
    except Passage.DoesNotExist:
        raise Http404("No such passage.") from None
    neighbours = list(
        Passage.objects.filter(
            document=passage.document,
            position__gte=max(0, passage.position - 2),
            position__lte=passage.position + 2,
        ).order_by("position")
    )
    q = request.GET.get("q", "")[: settings.QUESTION_MAX_CHARS]
    if wants_json(request):
        return JsonResponse(
            {
                "passage": str(passage.pk),
                "document": str(passage.document.pk),
                "name": passage.document.original_name,
                "page": passage.page,
                "heading": passage.heading,
                "start": passage.start,
                "end": passage.end,
                "text": passage.text,
            }
        )
    context = {
        "session": session,
        "passage": passage,
        "neighbours": neighbours,
        "q": q,
        "stems": query_terms(q, session.language),
    }
    return render(request, "questions/passage.html", context)


def _question_or_404(session, question_pk) -> Question:
    try:
        return Question.objects.get(pk=question_pk, session=session)
    except Question.DoesNotExist:
        raise Http404("No such question.") from None
