"""The body of a generate-plan response: one watcher's events as Server-Sent Events (SPEC §7).

Each event goes out with its id `<run-id>.<seq>` (what EventSource sends back as
`Last-Event-ID` when it reconnects), as one line of JSON or, for the htmx page
(`?format=html`), as a fragment rendered from the session page's partials. The body only
watches: the generation is a task of its own (plans.live) that goes on without it.
"""

from django.template.loader import render_to_string

from plans.live import Watch
from studyplanner.metrics import counted_stream
from studyplanner.sse import PING, encode_comment, encode_event, encode_retry

RECONNECT_MS = 3000

# Event → the partial of the session page that renders it in the HTML flavour.
HTML_PARTIALS = {
    "started": "generation-progress",
    "progress": "generation-progress",
    "document_processed": "generation-progress",
    "completed": "generation-completed",
    "error": "generation-error",
    "cancelled": "generation-cancelled",
}


def render_html(event, session_id) -> str:
    context = {"event": event.payload(), "event_name": event.name, "session_id": session_id}
    return render_to_string(f"sessions/detail.html#{HTML_PARTIALS[event.name]}", context)


class GenerationStream:
    """An async iterable of SSE text for one watcher of a run.

    Django closes every response when its request is over — also one whose body was never
    read — by calling `close()` (from a worker thread): the watcher then leaves the run, which
    goes on for its grace (PLAN_DETACHED_GRACE) if nobody else watches.
    """

    def __init__(self, watch: Watch, *, session_id, html: bool):
        self.watch = watch
        self.session_id = session_id
        self.html = html

    def __aiter__(self):
        return self._chunks()

    @counted_stream("plan")  # the open-streams gauge of /metrics
    async def _chunks(self):
        yield encode_retry(RECONNECT_MS)  # the first bytes go out before any work
        run_id = self.watch.run_id
        async for item in self.watch.items():
            if item is PING:
                yield encode_comment("ping")
                continue
            event = item.event
            if event.name == "started":
                run_id = event.payload()["run"]
            data = render_html(event, self.session_id) if self.html else event.payload()
            yield encode_event(event.name, data, id=f"{run_id}.{item.seq}")
            if event.final:
                return

    def close(self) -> None:
        self.watch.close()


async def final_event(watch: Watch):
    """The run's final event, for a request that wants only the outcome (None if none)."""
    async for item in watch.items():
        if item is not PING and item.event.final:
            return item.event
    return None
