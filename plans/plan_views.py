"""The plan's history (restore, rebuild) and its read-only forms: the study view and the
Markdown export (SPEC §3, §8)."""

import re

from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from plans.history import rebuild_from_remaining_documents, restore_version
from plans.models import PlanVersion
from sessions_app.access import get_session_for
from sessions_app.models import GenerationRefused
from sessions_app.pages import refuse
from studyplanner.http import json_error, login_required, wants_json


def _version_dict(version: PlanVersion) -> dict:
    return {
        "id": str(version.id),
        "created_at": version.created_at.isoformat(),
        "source": version.source,
        "label": version.label,
        "description": version.description,
        "topics": version.topic_count,
        "dropped": version.dropped,
        "plan": version.plan,
    }


@login_required
@require_GET
def plan_history(request, pk):
    """Every saved plan of the session, newest first, each with Restore."""
    session = get_session_for(request, pk)
    versions = list(session.plan_versions.all())
    if wants_json(request):
        return JsonResponse({"versions": [_version_dict(v) for v in versions]})
    return render(
        request,
        "plans/history.html",
        {"session": session, "versions": versions, "current": session.plan},
    )


@login_required
@require_POST
def restore_plan_version(request, pk, version_pk):
    """Make an earlier version the plan again (itself a new version: nothing is lost)."""
    session = get_session_for(request, pk)
    version = get_object_or_404(PlanVersion, pk=version_pk, session=session)
    try:
        restore_version(session, version)
    except GenerationRefused as refused:
        return refuse(request, session, refused.message)
    if wants_json(request):
        return JsonResponse({"status": session.status, "plan": session.plan})
    messages.success(
        request,
        f"Restored the plan of {version.created_at:%d %b, %H:%M} "
        f"({version.topic_count} topic{'s' if version.topic_count != 1 else ''}). "
        "The plan before it is in History.",
    )
    return redirect(reverse("sessions:detail", args=[session.pk]))


@login_required
@require_http_methods(["GET", "POST"])
def rebuild_plan(request, pk):
    """ "Rebuild from the remaining documents": confirm (GET), then empty the plan so the next
    generation reads every document again (POST). The current plan stays in History."""
    session = get_session_for(request, pk)
    if request.method == "GET":
        return render(
            request,
            "plans/rebuild.html",
            {"session": session, "documents": session.completed_documents()},
        )
    try:
        version = rebuild_from_remaining_documents(session)
    except GenerationRefused as refused:
        return refuse(request, session, refused.message)
    if wants_json(request):
        previous = str(version.pk) if version is not None else None
        return JsonResponse({"status": session.status, "previous_version": previous})
    return redirect(reverse("sessions:detail", args=[session.pk]) + "#generation")


# Characters a Markdown viewer would take as markup ("<stdio.h>" a tag, "__init__" bold).
_MD_MARKUP = re.compile(r"([\\`*_\[\]<>#~])")
_MD_ENTITY = re.compile(r"&(?=#?\w+;)")
_MD_LIST_START = re.compile(r"^(\d+)([.)])|^([-+>=])")


def _md(text: str, *, line_start: bool = False) -> str:
    """Plan text as Markdown that renders back to the same text (CommonMark escapes)."""
    text = _MD_ENTITY.sub(r"\\&", _MD_MARKUP.sub(r"\\\1", text))
    if line_start:  # "1. …" or "- …" at the start of a list item would open a nested list
        text = _MD_LIST_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", text)
    return text


def _markdown(session) -> str:
    lines = [f"# {_md(session.title)}", ""]
    for topic in session.plan:
        lines.append(f"## {topic['order_index']}. {_md(topic['title'])}")
        lines.append("")
        lines.extend(f"- {_md(subtopic, line_start=True)}" for subtopic in topic["subtopics"])
        if topic["subtopics"]:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


@login_required
@require_GET
def study_view(request, pk):
    """The plan to read and print: compact, no form fields."""
    session = get_session_for(request, pk)
    return render(request, "plans/study.html", {"session": session, "plan": session.plan})


@login_required
@require_GET
def export_markdown(request, pk):
    session = get_session_for(request, pk)
    if not session.plan:
        if wants_json(request):
            return json_error("This session has no plan yet.", 404)
        raise Http404("This session has no plan yet.")
    response = HttpResponse(_markdown(session), content_type="text/markdown; charset=utf-8")
    filename = f"{slugify(session.title) or 'study-plan'}.md"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
