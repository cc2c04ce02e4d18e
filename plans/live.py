"""Live generations: each one a server-side task that owns its claim; responses only watch
(SPEC §7 "Resumable streams").

A `LiveRun` runs `build_plan` in a task of its own, numbers its events (`seq`, ids
`<run-id>.<seq>`) and fans them out in memory to the `Feed` of every watcher of this
process. It keeps what a late or returning watcher needs — the `started` event, the event
holding the current plan, every `document_processed` event and the final one — and nothing
more. With nobody watching for `PLAN_DETACHED_GRACE` seconds it stops the run like a cancel;
at server shutdown it stops it and waits for the claim to be handed back.

A watcher of a run that lives in another process (another worker) follows it through the
database: `plans.relay` wakes it on PostgreSQL NOTIFY, and it reads the run's row.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass

from django.conf import settings

from plans.builders.base import PlanBuilder
from plans.generation import (
    CANCELLED,
    DETACHED,
    SHUTDOWN,
    DocumentProcessed,
    Failed,
    PlanEvent,
    Progress,
    Started,
    StopSignal,
    build_plan,
)
from plans.relay import relay
from quotas.service import Grant
from sessions_app.models import GenerationRefused, GenerationRun, StudySession, sweep_abandoned
from studyplanner.db import run_db
from studyplanner.sse import Feed, paced

logger = logging.getLogger(__name__)

PLAN_EVENTS = ("started", "progress", "document_processed")
ORPHAN_MESSAGE = (
    "The server generating this plan stopped. The documents already read are saved; "
    "Retry continues with the rest."
)


class Numbered:
    """An event with its number in its run, and what plans.stream made of it for the wire
    (`encoded`): made once per event and shared by every watcher of this process that sends
    it."""

    __slots__ = ("encoded", "event", "seq")

    def __init__(self, seq: int, event: PlanEvent):
        self.seq = seq
        self.event = event
        self.encoded: dict = {}

    @property
    def coalesce(self) -> bool:
        return self.event.coalesce

    def __repr__(self) -> str:
        return f"Numbered({self.seq}, {self.event.name})"


def _in_order(data: dict) -> dict:
    """An event's data as stored in JSON (PostgreSQL's jsonb reorders object keys), with
    each topic's keys back in the documented order (§3)."""
    if isinstance(data.get("plan"), list):
        plan = [
            {
                "order_index": t.get("order_index"),
                "title": t.get("title"),
                "subtopics": t.get("subtopics", []),
            }
            if isinstance(t, dict)
            else t
            for t in data["plan"]
        ]
        data = {**data, "plan": plan}
    return data


@dataclass(frozen=True)
class Recorded:
    """An event rebuilt from the database (a run on another worker, or one that ended)."""

    name: str
    data: dict
    final: bool = False
    coalesce: bool = False

    def payload(self) -> dict:
        return self.data


def parse_event_id(value: str | None) -> tuple[str, int] | None:
    """`<run-id>.<seq>` → (run id, seq); None for anything else."""
    run_id, _, seq = (value or "").strip().rpartition(".")
    if not run_id or not seq.isdigit():
        return None
    return run_id, int(seq)


# --- runs of this process ----------------------------------------------------------------

_live: dict[str, "LiveRun"] = {}  # session id → its live run in this process
_starting: set["LiveRun"] = set()  # every run whose task is not over (also before its claim)


class LiveRun:
    def __init__(
        self,
        session: StudySession,
        *,
        builder: PlanBuilder,
        language: str,
        quota: Grant | None = None,
    ):
        self.session_id = str(session.pk)
        self.loop = asyncio.get_running_loop()
        self.stop = StopSignal()
        self.run_id = ""
        self.seq = 0
        self.started: Numbered | None = None
        self.current: Numbered | None = None  # the latest event holding the plan
        self.processed: list[Numbered] = []
        self.final: Numbered | None = None
        self.feeds: set[Feed] = set()
        self.grace_timer: asyncio.TimerHandle | None = None
        self.claimed: asyncio.Future = self.loop.create_future()
        events = build_plan(
            session, builder=builder, language=language, stop=self.stop, quota=quota
        )
        _starting.add(self)
        self.task = asyncio.ensure_future(self._own(events))

    async def _own(self, events: AsyncIterator[PlanEvent]) -> None:
        # Never cancelled by a request: only `stop` ends it early; build_plan ends the claim.
        try:
            async with aclosing(events):
                async for event in events:
                    self._publish(event)
                    # Let the watchers send it before the generator goes on: what follows
                    # an event may be seconds of the builder's own work on the loop (reading
                    # a long document into its prompt), which would hold the event back.
                    await asyncio.sleep(0)
        except GenerationRefused as refused:
            self.claimed.set_exception(refused)
        except Exception as error:
            logger.exception("The live run of session %s crashed", self.session_id)
            if not self.claimed.done():
                self.claimed.set_exception(error)
        finally:
            _starting.discard(self)
            if _live.get(self.session_id) is self:
                del _live[self.session_id]
            if self.grace_timer is not None:
                self.grace_timer.cancel()
            for feed in self.feeds:
                feed.finish()
            self.feeds.clear()

    def _publish(self, event: PlanEvent) -> None:
        self.seq += 1
        item = Numbered(self.seq, event)
        if isinstance(event, Started):
            self.run_id = event.run
            self.started = item
            _live[self.session_id] = self
            self.claimed.set_result(self)
        if event.name in PLAN_EVENTS:
            self.current = item
        if isinstance(event, DocumentProcessed):
            self.processed.append(item)
        if event.final:
            self.final = item
        timeout = settings.SSE_SEND_TIMEOUT
        now = time.monotonic()
        for feed in tuple(self.feeds):
            feed.put(item)
            if feed.stalled(timeout, now) or feed.detached:
                logger.warning(
                    "Detached a watcher of run %s: %s",
                    self.run_id,
                    feed.detached or f"its sends blocked for more than {timeout} s",
                )
                feed.detach(feed.detached or "stalled")
                self.unwatch(feed)

    # --- watchers -------------------------------------------------------------------------

    def watch(self, after: int | None) -> Feed:
        """A feed of this run for a new watcher: replayed up to now, then live."""
        feed = Feed(ping_interval=settings.SSE_PING_INTERVAL)
        for item in self.replay(after):
            feed.put(item)
        if self.final is not None:
            feed.finish()
            return feed
        self.feeds.add(feed)
        if self.grace_timer is not None:
            self.grace_timer.cancel()
            self.grace_timer = None
        return feed

    def replay(self, after: int | None) -> list[Numbered]:
        """What a watcher that saw the events up to `after` (None: nothing) gets at once:
        the `document_processed` events it missed, the current plan, the final event."""
        if after is None:
            items = [self.started] if self.started else []
            if self.current is not None and self.current is not self.started:
                items.append(self.current)
        else:
            items = [item for item in self.processed if item.seq > after]
            current = self.current
            if current is not None and current.event.name != "started":
                if current.seq > after:
                    if current not in items:
                        items.append(current)
                else:  # seen already: its plan again, as a progress event (no duplicate)
                    items.append(Numbered(current.seq, _as_progress(current.event)))
        if self.final is not None and (after is None or self.final.seq > after):
            items.append(self.final)
        return items

    def unwatch(self, feed: Feed) -> None:
        if feed not in self.feeds:
            return
        self.feeds.discard(feed)
        if not self.feeds and self.final is None:
            self._detached()

    def _detached(self) -> None:
        grace = settings.PLAN_DETACHED_GRACE
        if self.feeds or self.final is not None:
            return
        if grace <= 0:
            self.stop.request(DETACHED)
        elif self.grace_timer is None:
            self.grace_timer = self.loop.call_later(grace, self._grace_over)

    def _grace_over(self) -> None:
        self.grace_timer = None
        if not self.feeds:
            logger.info("Nobody watched run %s for its grace: stopping it", self.run_id)
            self.stop.request(DETACHED)


def _as_progress(event: PlanEvent) -> PlanEvent:
    if isinstance(event, DocumentProcessed):
        return Progress(
            event.doc, event.total, event.plan, event.percent, event.message, event.document
        )
    return event


# --- watching: the interface the views use ---------------------------------------------


class Watch:
    """One client's view of a run: `items()` yields Numbered items (and PING); `close()`
    may be called from any thread."""

    run_id = ""

    def items(self) -> AsyncIterator:
        raise NotImplementedError

    def close(self) -> None:
        pass


class LocalWatch(Watch):
    def __init__(self, run: LiveRun, after: int | None):
        self.run = run
        self.run_id = run.run_id
        self.feed = run.watch(after)

    async def items(self):
        try:
            async for item in self.feed:
                yield item
        finally:
            self.run.unwatch(self.feed)

    def close(self) -> None:
        loop = self.run.loop
        if not loop.is_closed():
            loop.call_soon_threadsafe(self.run.unwatch, self.feed)


class EndedWatch(Watch):
    """A run that is over: its final event again, and the end."""

    def __init__(self, run_id: str, final: Numbered):
        self.run_id = run_id
        self.final = final

    async def items(self):
        yield self.final


class RemoteWatch(Watch):
    """A run that lives in another process, followed through its database rows.

    What it sends: at once the `started` event (a fresh watcher) or the `document_processed`
    events missed since the given id, and the current plan (the session's plan as saved
    after the last document, as a `progress` event); then each `document_processed` event
    and the final event, woken by NOTIFY within a few milliseconds of the owner's commit,
    or at the latest after PLAN_HEARTBEAT_INTERVAL (a missed notification). Progress inside
    a document stays with the owner's own watchers: the database holds the plan per
    document. A missed `document_processed` event carries the plan as it is now.
    """

    def __init__(self, session_id: str, run_id: str, after: int | None):
        self.session_id = session_id
        self.run_id = run_id
        self.after = after

    def items(self):
        return paced(self._events(), ping_interval=settings.SSE_PING_INTERVAL)

    async def _events(self):
        wake = asyncio.Event()
        relay.follow(self.run_id, wake)
        try:
            await relay.ready()
            sent, first = self.after, True
            while True:
                wake.clear()
                state = await run_db(_remote_state, self.session_id, self.run_id)
                if state is None:
                    return
                for item in state.catch_up(sent, with_plan=first):
                    sent = item.seq
                    yield item
                    if item.event.final:
                        return
                first = False
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(settings.PLAN_HEARTBEAT_INTERVAL):
                        await wake.wait()
        finally:
            relay.unfollow(self.run_id, wake)


@dataclass
class _RemoteState:
    run: GenerationRun
    plan: list
    owned: bool  # the session is still generating under a fresh heartbeat

    def catch_up(self, sent: int | None, *, with_plan: bool) -> list[Numbered]:
        """The items after `sent`; `with_plan`: the current plan too (on attaching)."""
        run, journal = self.run, self.run.events or {}
        processed = journal.get("processed", [])
        items = []
        if sent is None:
            total, resumed = run.documents_total, run.resumed_from
            started = Started(str(run.pk), total, resumed, "Generating the plan.", 0)
            items.append(Numbered(1, started))
            sent = 1
            missed = processed[-1:]  # a new watcher needs the current state only
        else:
            missed = [entry for entry in processed if entry["seq"] > sent]
        for entry in missed:
            data = {key: value for key, value in entry.items() if key != "seq"}
            items.append(
                Numbered(entry["seq"], Recorded("document_processed", {**data, "plan": self.plan}))
            )
        if with_plan and not missed and self.plan and "final" not in journal:
            done = run.resumed_from + run.documents_processed
            total = run.documents_total
            percent = 100 if not total else int(100 * done / total)
            progress = {
                "doc": done,
                "total": total,
                "plan": self.plan,
                "percent": percent,
                "message": f"{done} of {total} documents read.",
                "document": "",
            }
            items.append(Numbered(max(sent, 1), Recorded("progress", progress, coalesce=True)))
        if "final" in journal:
            final = journal["final"]
            event = Recorded(final["name"], _in_order(final["data"]), final=True)
            items.append(Numbered(final["seq"], event))
        elif not self.owned:
            last = processed[-1]["seq"] if processed else sent
            failed = Failed(
                ORPHAN_MESSAGE, True, self.plan, run.documents_processed, run.documents_total
            )
            items.append(Numbered(last + 1, failed))
        return items


def _remote_state(session_id: str, run_id: str) -> _RemoteState | None:
    runs = GenerationRun.objects.select_related("session")
    run = runs.filter(pk=run_id, session_id=session_id).first()
    if run is None:
        return None
    session = run.session
    run.progress_in(session)  # while it runs, its progress is on the session's row
    running = run.outcome == GenerationRun.Outcome.RUNNING
    if running and not session.is_generating and "final" not in run.events:
        # Its worker died (kill -9): close the orphan, and say so to the watcher.
        orphan = GenerationRun.objects.filter(pk=run.pk)
        orphan.end(GenerationRun.Outcome.FAILED, ORPHAN_MESSAGE, session.generation_journal)
    return _RemoteState(run, session.plan, session.is_generating and running)


def _run_of(session_id: str, run_id: str | None):
    """The run `run_id` of the session (None: its running run, if a live worker holds it)."""
    runs = GenerationRun.objects.filter(session_id=session_id)
    if run_id is None:
        session = StudySession.objects.get(pk=session_id)
        if not session.is_generating:
            return None
        return runs.running().order_by("-started_at").first()
    return runs.filter(pk=run_id).first()


async def watch(session: StudySession, last_event_id: str | None) -> Watch | None:
    """Watch the session's live run (any worker), or resume the run of `last_event_id`:
    None if there is nothing to watch (no live run; an id not of this session)."""
    _background()
    parsed = parse_event_id(last_event_id)
    run_id, after = parsed if parsed else (None, None)
    local = _live.get(str(session.pk))
    if local is not None and (run_id is None or local.run_id == run_id):
        return LocalWatch(local, after)
    try:
        run = await run_db(_run_of, str(session.pk), run_id)
    except (ValueError, StudySession.DoesNotExist):  # not a run id at all
        return None
    if run is None:
        return None
    final = (run.events or {}).get("final")
    if final is not None:
        event = Recorded(final["name"], _in_order(final["data"]), final=True)
        return EndedWatch(str(run.pk), Numbered(final["seq"], event))
    return RemoteWatch(str(session.pk), str(run.pk), after)


async def start(
    session: StudySession, *, builder: PlanBuilder, language: str, quota: Grant | None = None
) -> Watch:
    """Claim the session and start its run in this process (GenerationRefused if the claim
    fails); the caller watches it. The run owns its claim from the moment it is made, even
    if the caller goes away meanwhile."""
    _background()
    run = LiveRun(session, builder=builder, language=language, quota=quota)
    watch = LocalWatch(run, None)  # watching from the start: the grace counts from its leaving
    try:
        await asyncio.shield(run.claimed)
    except BaseException:
        run.unwatch(watch.feed)
        raise
    watch.run_id = run.run_id
    return watch


async def watch_or_start(
    session: StudySession,
    *,
    builder: PlanBuilder,
    language: str,
    last_event_id: str | None = None,
    attach: bool = False,
    charge: Callable[[], Awaitable[Grant]] | None = None,
) -> Watch:
    """What a generate-plan request watches (SPEC §7): the run of `last_event_id` (live or
    ended), or with `attach` the session's live run; otherwise — or if there is none — a new
    run, for which `charge` takes the quota first (QuotaExceeded; given back if the run
    can't start). GenerationRefused when none can start (a run is live and the request
    neither resumes nor attaches: 409)."""
    attach = attach or last_event_id is not None
    watching = await watch(session, last_event_id) if attach else None
    if watching is not None:
        return watching
    grant = await charge() if charge is not None else None
    try:
        return await start(session, builder=builder, language=language, quota=grant)
    except GenerationRefused as refused:
        if grant is not None:
            await grant.arefund()
        if attach and refused.reason == "already_generating":
            watching = await watch(session, None)  # started meanwhile, maybe elsewhere
            if watching is not None:
                return watching
        raise


def signal_cancel(session_id) -> bool:
    """Stop this process's run of the session at once (the database flag is set apart)."""
    run = _live.get(str(session_id))
    if run is None:
        return False
    run.loop.call_soon_threadsafe(run.stop.request, CANCELLED)
    return True


relay.on_cancel = signal_cancel


async def shutdown(within: float = 10.0) -> None:
    """Server shutdown: stop every run of this process and wait until each has saved its
    progress and handed its claim back."""
    runs = list(_starting)
    for run in runs:
        run.stop.request(SHUTDOWN)
    if runs:
        await asyncio.wait([run.task for run in runs], timeout=within)
    await relay.close()


# --- the periodic sweep -----------------------------------------------------------------

_sweeper: asyncio.Task | None = None


def _background() -> None:
    """Start this process's relay listener (PostgreSQL) and sweep, once per event loop."""
    global _sweeper
    relay.ensure_started()
    loop = asyncio.get_running_loop()
    if _sweeper is None or _sweeper.done() or _sweeper.get_loop() is not loop:
        _sweeper = loop.create_task(_sweep_forever())


async def _sweep_forever() -> None:
    """Release sessions whose worker died and close orphaned runs, now and then (any
    process may do it; each pass is two conditional UPDATEs)."""
    interval = max(settings.PLAN_STALE_AFTER / 2, 1.0)
    while True:
        await asyncio.sleep(interval)
        try:
            released, closed = await run_db(sweep_abandoned)
            if released or closed:
                logger.info("Sweep: released %s stale sessions, closed %s runs", released, closed)
        except Exception:
            logger.warning("The sweep of abandoned generations failed", exc_info=True)
