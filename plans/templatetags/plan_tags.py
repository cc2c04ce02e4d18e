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


@register.simple_tag(takes_context=True)
def ai_plan_allowance(context):
    """Today's AI plan generations left for the viewer, or None when none are counted
    (offline builder, no limit): `{% ai_plan_allowance as allowance %}`."""
    return plan_allowance(context["request"].user, select_builder())
