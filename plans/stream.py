"""The body of a generate-plan response: the events as Server-Sent Events (SPEC §7).

Events are paced (pings while the model thinks, progress at most every 100 ms) and encoded
as one line of JSON, or, for the htmx page (`?format=html`), as fragments rendered from the
session page's partials. The body also owns the session's claim for as long as Django
holds the response: see `GenerationStream.close`.
"""

import asyncio
import concurrent.futures
import contextlib
from contextlib import aclosing

from django.conf import settings
from django.template.loader import render_to_string

from plans.generation import PlanEvent, end_claim
from sessions_app.models import StudySession
from studyplanner.db import run_db
from studyplanner.metrics import counted_stream
from studyplanner.sse import PING, encode_comment, encode_event, encode_retry, paced

RECONNECT_MS = 3000
UNREAD_GRACE = 10.0  # seconds a response may wait for its body to be read

# Event → the partial of the session page that renders it in the HTML flavour.
HTML_PARTIALS = {
    "started": "generation-progress",
    "progress": "generation-progress",
    "document_processed": "generation-progress",
    "completed": "generation-completed",
    "error": "generation-error",
    "cancelled": "generation-cancelled",
}


def render_html(event: PlanEvent, session_id) -> str:
    context = {"event": event.payload(), "event_name": event.name, "session_id": session_id}
    return render_to_string(f"sessions/detail.html#{HTML_PARTIALS[event.name]}", context)


class GenerationStream:
    """An async iterable of SSE text for a claimed session's generation.

    Django closes every response when its request is over — also when the client left
    before the body was read, or while a write was blocked — by calling `close()`, usually
    from a worker thread. Nothing may then keep the session in GENERATING_PLAN: an unread
    body gives the claim back, and a body abandoned half-way stops its generation, whose
    own cleanup hands the session back with its progress.
    """

    def __init__(self, session: StudySession, events, *, html: bool, unread_grace=UNREAD_GRACE):
        self.session = session
        self.events = events
        self.html = html
        self.loop = asyncio.get_running_loop()
        self.body = self._chunks()  # Django asks for the iterator as soon as it gets the body
        self.started = False
        # If the client leaves while Django's middleware still handles the response, Django
        # drops it without closing it; a body nobody starts reading ends its claim itself.
        self.unread_timer = self.loop.call_later(unread_grace, self._unread)

    def __aiter__(self):
        return self.body

    def _unread(self) -> None:
        if not self.started:
            self.ending = asyncio.ensure_future(self._end())

    @counted_stream("plan")  # the open-streams gauge of /metrics
    async def _chunks(self):
        self.started = True
        self.unread_timer.cancel()
        yield encode_retry(RECONNECT_MS)  # the first bytes go out before any work
        async with aclosing(paced(self.events, ping_interval=settings.SSE_PING_INTERVAL)) as items:
            event_id = 0
            async for item in items:
                if item is PING:
                    yield encode_comment("ping")
                    continue
                event_id += 1
                data = render_html(item, self.session.pk) if self.html else item.payload()
                yield encode_event(item.name, data, id=event_id)
                if item.final:
                    return

    def close(self) -> concurrent.futures.Future:
        self.loop.call_soon_threadsafe(self.unread_timer.cancel)
        # Not waited for: from Django's worker thread, the cleanup needs that very thread.
        return asyncio.run_coroutine_threadsafe(self._end(), self.loop)

    async def _end(self) -> None:
        # Stops a generation whose body was abandoned half-way; a finished or cancelled body
        # is closed already, an unread one simply won't start.
        with contextlib.suppress(RuntimeError):  # "already running": its consumer is on it
            await self.body.aclose()
        await self.events.aclose()
        # Whatever the generation reached — never started, stopped, finished — the claim
        # ends with the request.
        await run_db(end_claim, self.session, "The client disconnected.")
