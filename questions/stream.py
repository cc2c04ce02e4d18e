"""The body of an ask response: the answer's events as Server-Sent Events (SPEC §7, §15).

JSON data by default; for the htmx page (`?format=html`) each event's data is an HTML
fragment rendered from the partials of `questions/events.html`. A comment (`: ping`) goes
out while the model is silent. When the client goes away Django cancels the body; `paced`
then cancels the answer's task, whose `async with` closes the upstream request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

from django.conf import settings
from django.template.loader import render_to_string

from questions.answering import AskEvent, Done, Failed, Sources
from studyplanner.metrics import counted_stream
from studyplanner.sse import PING, encode_comment, encode_event, paced


def render_html(event: AskEvent, context: dict) -> str:
    context = {**context, "event": event.payload(), "event_name": event.name}
    if isinstance(event, Sources):
        context["sources"] = [s.to_dict() for s in event.sources]
        context["stems"] = event.stems
    if isinstance(event, (Done, Failed)):
        context["question"] = event.question
    return render_to_string(f"questions/events.html#{event.name}", context)


@counted_stream("question")  # the open-streams gauge of /metrics
async def sse_body(events: AsyncIterator[AskEvent], *, html_context: dict | None = None):
    async with aclosing(
        paced(events, ping_interval=settings.SSE_PING_INTERVAL, min_gap=0)
    ) as items:
        event_id = 0
        async for item in items:
            if item is PING:
                yield encode_comment("ping")
                continue
            event_id += 1
            html = html_context is not None
            data = render_html(item, html_context) if html else item.payload()
            yield encode_event(item.name, data, id=event_id)
            if item.final:
                return
