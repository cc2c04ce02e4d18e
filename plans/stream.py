"""The body of a generate-plan response: one watcher's events as Server-Sent Events (SPEC §7).

Each event goes out with its id `<run-id>.<seq>` (what EventSource sends back as
`Last-Event-ID` when it reconnects), as one line of JSON or, for the htmx page
(`?format=html`), as a fragment rendered from the session page's partials. The body only
watches: the generation is a task of its own (plans.live) that goes on without it.

Every text is made once and kept on the event's `Numbered` item, so the watchers of a run
share it (issue 16): the JSON of an event, a final event's fragment, a plan's full snapshot.
The page gets what changed, not the whole plan at each `progress` event: htmx out-of-band
fragments, one per topic added, changed, moved or removed since the plan THIS watcher was
last sent (a slow watcher skips coalesced events, so watchers may differ; those in step share
one rendering, kept under the seq they start from). The first plan a watcher gets, every
`document_processed` and anything it can't be sure to diff from is a full snapshot.
"""

import hashlib

from django.template.loader import render_to_string

from plans.live import Numbered, Watch
from studyplanner.metrics import counted_stream
from studyplanner.sse import PING, encode_comment, encode_event, encode_retry

RECONNECT_MS = 3000

# Final event → the partial of the session page that renders it in the HTML flavour; the
# others (started, progress, document_processed) update the live panel (`_live_fragment`).
HTML_PARTIALS = {
    "completed": "generation-completed",
    "error": "generation-error",
    "cancelled": "generation-cancelled",
}


def render_html(event, session_id) -> str:
    """A final event's fragment: it replaces the live panel."""
    context = {"event": event.payload(), "event_name": event.name, "session_id": session_id}
    return render_to_string(f"sessions/detail.html#{HTML_PARTIALS[event.name]}", context)


# --- the live plan on the page ------------------------------------------------------------


def topic_keys(plan) -> list[str]:
    """A stable, id-safe key per topic (its title's, case-insensitive: what the live preview
    merges on), unique within the plan."""
    keys, seen = [], set()
    for topic in plan:
        key = hashlib.blake2b(topic["title"].casefold().encode(), digest_size=5).hexdigest()
        while key in seen:  # titles are unique after normalising; never two equal ids anyway
            key += "x"
        seen.add(key)
        keys.append(key)
    return keys


def _rows(plan) -> list[dict]:
    return [
        {"key": key, "title": topic["title"], "subtopics": topic["subtopics"]}
        for key, topic in zip(topic_keys(plan), plan, strict=True)
    ]


def _steady(positions: list[int]) -> set[int]:
    """The longest increasing run of `positions` (as a set): the topics that can stay where
    they are while the others move around them."""
    tails: list[int] = []  # tails[n]: index in `positions` ending the best run of length n+1
    before: list[int | None] = []
    for i, value in enumerate(positions):
        low, high = 0, len(tails)
        while low < high:
            middle = (low + high) // 2
            if positions[tails[middle]] < value:
                low = middle + 1
            else:
                high = middle
        before.append(tails[low - 1] if low else None)
        if low == len(tails):
            tails.append(i)
        else:
            tails[low] = i
    kept, at = set(), tails[-1] if tails else None
    while at is not None:
        kept.add(positions[at])
        at = before[at]
    return kept


def plan_changes(old, new) -> list[dict]:
    """What turns the page's list for plan `old` into the list for `new`, as htmx
    out-of-band swaps, in the order they must run: removed and moved topics out first, then
    walking `new` in order, each topic added after the one before it (already in place),
    changed in place, or given its new subtopics at the end of its list."""
    old_rows = {row["key"]: row for row in _rows(old)}
    new_rows = _rows(new)
    at_new = {row["key"]: i for i, row in enumerate(new_rows)}
    steady = _steady([at_new[key] for key in old_rows if key in at_new])
    changes = [
        {"action": "delete", "key": key}
        for key in old_rows
        if key not in at_new or at_new[key] not in steady
    ]
    for i, row in enumerate(new_rows):
        if i not in steady:
            after = new_rows[i - 1]["key"] if i else None
            changes.append({"action": "insert", "topic": row, "after": after})
            continue
        was = old_rows[row["key"]]
        if was["title"] == row["title"] and was["subtopics"] == row["subtopics"]:
            continue
        count = len(was["subtopics"])
        if was["title"] == row["title"] and count and row["subtopics"][:count] == was["subtopics"]:
            changes.append({"action": "append", "topic": row, "more": row["subtopics"][count:]})
        else:
            changes.append({"action": "replace", "topic": row})
    return changes


def _payload(item: Numbered) -> dict:
    payload = item.encoded.get("payload")
    if payload is None:
        payload = item.encoded["payload"] = item.event.payload()
    return payload


def _live_fragment(item: Numbered, base: Numbered | None) -> str:
    """The fragment of a started/progress/document_processed event: a full snapshot when
    `base` is None, else only what changed since the event `base` (both carry a plan)."""
    event = _payload(item)
    context = {"event": event, "changes": (), "topics": None}
    if base is None:
        context.update(header=True, message=True, status=True)
        if "plan" in event:
            context["topics"] = _rows(event["plan"])
    else:
        was = _payload(base)
        context.update(
            header=(was["percent"], was.get("dropped")) != (event["percent"], event.get("dropped")),
            message=was["message"] != event["message"],
            status=False,
            changes=plan_changes(was["plan"], event["plan"]),
        )
    return render_to_string("sessions/detail.html#generation-progress", context).strip()


def _once(item: Numbered, key, make) -> str:
    text = item.encoded.get(key)
    if text is None:
        text = item.encoded[key] = make()
    return text


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
        self.shown: Numbered | None = None  # the last plan-bearing event sent (HTML flavour)

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
                run_id = _payload(item)["run"]
            yield self._html(item, run_id) if self.html else self._json(item, run_id)
            if event.final:
                return

    def _json(self, item: Numbered, run_id: str) -> str:
        def make():
            return encode_event(item.event.name, _payload(item), id=f"{run_id}.{item.seq}")

        return _once(item, ("json", run_id), make)

    def _html(self, item: Numbered, run_id: str) -> str:
        name, event_id = item.event.name, f"{run_id}.{item.seq}"
        if name in HTML_PARTIALS:

            def final():
                return encode_event(name, render_html(item.event, self.session_id), id=event_id)

            return _once(item, ("html", run_id), final)
        base = self.shown
        if base is not None and not (name == "progress" and item.seq > base.seq):
            base = None  # a document done, or an event it can't diff from: the whole plan
        if name != "started":
            self.shown = item
        key = ("html", run_id, base.seq if base is not None else None)
        return _once(item, key, lambda: encode_event(name, _live_fragment(item, base), id=event_id))

    def close(self) -> None:
        self.watch.close()


async def final_event(watch: Watch):
    """The run's final event, for a request that wants only the outcome (None if none)."""
    async for item in watch.items():
        if item is not PING and item.event.final:
            return item.event
    return None
