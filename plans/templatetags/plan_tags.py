"""What the session page (sessions_app's template) needs from this app, without an import
of it: `{% load plan_tags %}`."""

from django import template

from plans.builders import select_builder
from plans.editor import topics_from_plan
from plans.generation import FINAL_EVENTS
from plans.quota import plan_allowance

register = template.Library()


@register.simple_tag
def editor_rows(plan):
    """The plan editor's rows for `plan`: `{% editor_rows session.plan as editor_topics %}`."""
    return topics_from_plan(plan)


@register.simple_tag
def final_event_names() -> str:
    """The events that end a generation's stream, comma-separated (`sse-swap`, app.js)."""
    return ",".join(FINAL_EVENTS)


@register.simple_tag
def plan_notes(session) -> dict:
    """What the session page says about the plan's history: the topics each folded document
    had to leave out ({document id: [titles]}), and the version a rebuild just set aside
    (for its Undo)."""
    # The newest fold of each document decides: a later one (after a rebuild) that left
    # nothing out clears the note.
    newest_fold: dict[str, list[str]] = {}
    versions = session.plan_versions.filter(source="document", document_id__isnull=False)
    for document_id, titles in versions.values_list("document_id", "dropped"):
        newest_fold.setdefault(str(document_id), titles)
    dropped = {document_id: titles for document_id, titles in newest_fold.items() if titles}
    newest = session.plan_versions.first()
    rebuilt = None
    if newest is not None and newest.source == "rebuild" and not session.draft_plan:
        rebuilt = newest
    return {"dropped": dropped, "rebuilt": rebuilt, "has_history": newest is not None}


@register.filter
def dropped_for(dropped: dict, document_id: str) -> list[str]:
    """`notes.dropped|dropped_for:doc_id`: what that document's fold left out."""
    return dropped.get(document_id, [])


@register.filter
def in_list(value, values) -> bool:
    return value in values


@register.simple_tag(takes_context=True)
def ai_plan_allowance(context):
    """Today's AI plan generations left for the viewer, or None when none are counted
    (offline builder, no limit): `{% ai_plan_allowance as allowance %}`."""
    return plan_allowance(context["request"].user, select_builder())
