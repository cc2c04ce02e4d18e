"""Generating a session's study plan: fold its documents in, one at a time (SPEC §4, §5).

`build_plan` is an async generator of plain events — no HTTP, no SSE text; plans.live runs
it as a server-side task and the views encode its events for their watchers. It claims the
session itself (GenerationRefused before any event if it can't), and from then on it owns
the claim: whatever happens (completion, an error, a cancel request from any process, a stop
asked by its runner: nobody watching, server shutdown), the session leaves GENERATING_PLAN
with its progress saved, unless another worker has taken it over. `_finish`, called from
one place (build_plan's `finally`), is the only code that ends a live claim.
"""

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import ClassVar, ParamSpec, TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections, transaction
from django.utils import timezone

from ai import AIError
from plans.builders.base import PlanBuilder, PlanGenerationError, SourceDocument, Usage
from plans.history import new_version, prune_versions
from plans.models import PlanVersion
from plans.schema import Plan, normalize_plan
from quotas.service import Grant
from sessions_app.models import (
    EVENTS_CHANNEL,
    Document,
    GenerationRun,
    HeartbeatState,
    LostClaim,
    StudySession,
    notify,
)
from studyplanner.db import insert_row, run_db, update_row
from studyplanner.metrics import record_finished

logger = logging.getLogger(__name__)


# --- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanEvent:
    name: ClassVar[str]
    final: ClassVar[bool] = False
    coalesce: ClassVar[bool] = False  # a newer one makes it obsolete (studyplanner.sse.paced)

    def payload(self) -> dict:
        # A shallow copy: dataclasses.asdict would deep-copy every plan of every event.
        return dict(vars(self))


@dataclass(frozen=True)
class Started(PlanEvent):
    name = "started"
    run: str  # the GenerationRun's id: event ids are "<run>.<seq>" (SPEC §7)
    total: int
    resumed_from: int
    message: str
    percent: int


@dataclass(frozen=True)
class Progress(PlanEvent):
    name = "progress"
    coalesce = True
    doc: int
    total: int
    plan: Plan
    percent: int
    message: str
    document: str
    section: int = 1
    sections: int = 1


@dataclass(frozen=True)
class DocumentProcessed(PlanEvent):
    name = "document_processed"
    doc: int
    total: int
    plan: Plan
    percent: int
    message: str
    document: str
    # Titles the builder had to leave out to stay within the bounds (SPEC §5).
    dropped: tuple[str, ...] = ()

    def payload(self) -> dict:
        data = dict(vars(self))
        data["dropped"] = list(self.dropped)
        return data


@dataclass(frozen=True)
class Completed(PlanEvent):
    name = "completed"
    final = True
    plan: Plan
    percent: int = 100
    message: str = "Your study plan is ready."


@dataclass(frozen=True)
class Failed(PlanEvent):
    """The run stopped; `plan` is what was saved (the documents folded in so far)."""

    name = "error"
    final = True
    message: str
    retryable: bool
    plan: Plan = ()
    done: int = 0
    total: int = 0


@dataclass(frozen=True)
class Cancelled(PlanEvent):
    name = "cancelled"
    final = True
    message: str = "Generation cancelled. The documents already read are kept in the plan."
    plan: Plan = ()
    done: int = 0
    total: int = 0


# The events after which a generation's stream ends (the page closes its EventSource).
FINAL_EVENTS = tuple(event.name for event in (Completed, Failed, Cancelled))

LOST_MESSAGE = "This generation was stopped because the session was reset. Try again."

# --- stopping a running generation ------------------------------------------------------


class _StopRequested(Exception):
    def __init__(self, reason: str):
        self.reason = reason


# Why a run may be asked to stop (StopSignal.request), besides "lost" (its claim is gone).
CANCELLED = "cancelled"  # the learner asked, from any worker
DETACHED = "detached"  # nobody watched it for PLAN_DETACHED_GRACE seconds
SHUTDOWN = "shutdown"  # this worker is stopping


class StopSignal:
    """Set when the generation must stop: a cancel request, its runner's request (nobody
    watching, shutdown), or the claim was lost."""

    def __init__(self):
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()
        self.reason = ""

    def request(self, reason: str) -> None:
        if not self.event.is_set():
            self.reason = reason
            self.event.set()

    def check(self) -> None:
        if self.event.is_set():
            self.stop()

    def stop(self):
        if self.reason == "lost":
            raise LostClaim()
        raise _StopRequested(self.reason)


async def _watch_heartbeat(session: StudySession, stop: StopSignal, interval: float) -> None:
    due = interval
    while not stop.event.is_set():
        last = session.generation_heartbeat_at
        await asyncio.sleep(due)
        refreshed = session.generation_heartbeat_at
        if refreshed is not None and refreshed != last:
            # A progress write refreshed the heartbeat (and read the cancel flag) meanwhile:
            # the next heartbeat is due an interval after it, not now.
            due = max(0.0, interval - (timezone.now() - refreshed).total_seconds())
            continue
        due = interval
        try:
            state = await session.aheartbeat()
        except Exception:  # a database hiccup must not kill the generation by itself
            logger.exception("Heartbeat of session %s failed", session.pk)
            continue
        if state == HeartbeatState.CANCEL_REQUESTED:
            stop.request("cancelled")
        elif state == HeartbeatState.LOST:
            stop.request("lost")


async def _until_stopped(steps: AsyncIterator, stop: StopSignal) -> AsyncIterator:
    """Iterate `steps`, abandoning it (and so its upstream request) as soon as `stop` is set."""
    stop.check()
    waiting_for_stop = asyncio.ensure_future(stop.event.wait())
    next_step = None
    try:
        while True:
            next_step = asyncio.ensure_future(anext(steps))
            await asyncio.wait({next_step, waiting_for_stop}, return_when=asyncio.FIRST_COMPLETED)
            if not next_step.done():
                stop.stop()
            try:
                step = next_step.result()
            except StopAsyncIteration:
                return
            next_step = None
            yield step
    finally:
        waiting_for_stop.cancel()
        if next_step is not None and not next_step.done():
            # Cancelling the pending step closes the model's stream (no tokens for nobody).
            next_step.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await next_step
        with contextlib.suppress(Exception):
            await steps.aclose()


# --- database blocks (each one short; see studyplanner.db) ------------------------------

P = ParamSpec("P")
T = TypeVar("T")
_DATABASE_DOWN = (OperationalError, InterfaceError)


_pool_reset_at = float("-inf")


def _reset_pool() -> None:
    """Start the connection pool afresh after the database was unreachable: psycopg's pool
    would otherwise wait out its own reconnection backoff (1, 2, 4, 8 s …) after the
    database is back. At most once a second per process; connections in use finish first."""
    global _pool_reset_at
    if time.monotonic() - _pool_reset_at < 1.0:
        return
    _pool_reset_at = time.monotonic()
    database = connections["default"]
    if database.vendor == "postgresql" and database.settings_dict["OPTIONS"].get("pool"):
        with contextlib.suppress(Exception):
            database.close_pool()


async def _write(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """The owner's database writes: retried with backoff while the database is unreachable
    (a restart, a failover), for up to PLAN_STALE_AFTER — after that another worker may take
    the session over anyway. Each attempt is one short block (run_db)."""
    deadline = time.monotonic() + settings.PLAN_STALE_AFTER
    wait = 0.05
    while True:
        try:
            return await run_db(fn, *args, **kwargs)
        except _DATABASE_DOWN:
            if time.monotonic() + wait > deadline:
                raise
            logger.warning("The database is unreachable; retrying %s in %.2f s", fn, wait)
            await asyncio.sleep(wait * (0.5 + random.random()))
            await asyncio.to_thread(_reset_pool)  # its own thread: closing may wait
            wait = min(wait * 2, 1.0)


def _event_pointer(run: GenerationRun, seq: int, name: str) -> str:
    """What NOTIFY carries: a pointer (the data is in the rows), far below its 8,000 bytes."""
    return f"{run.pk}.{seq}.{name}.{run.session_id}"


def _claim_and_start_run(session: StudySession, builder: PlanBuilder):
    """The claim, the run row and the texts of the documents to fold in: one block."""
    session.claim_for_generation()
    return _start_run(session, builder)


def _start_run(session: StudySession, builder: PlanBuilder):
    documents, start_over = session.documents_to_fold(with_texts=True)
    folded = [] if start_over else list(session.folded_document_ids)
    plan = [] if start_over else session.plan
    run = GenerationRun(
        session=session,
        builder=builder.name,
        model=getattr(builder, "model", ""),
        documents_total=len(folded) + len(documents),
        resumed_from=len(folded),
    )
    insert_row(run)
    return documents, _load_documents(documents), folded, plan, run


def _load_documents(documents: list[Document]) -> dict:
    """What the builder reads of `documents` (from documents_to_fold(with_texts=True)), by pk."""
    return {
        document.pk: SourceDocument(
            name=document.original_name,
            text=document.text_to_fold,
            outline=document.outline_to_fold or [],
        )
        for document in documents
    }


def _record_usage(run: GenerationRun, usage: Usage) -> list[str]:
    run.prompt_tokens = usage.prompt_tokens
    run.completion_tokens = usage.completion_tokens
    run.cost = usage.cost
    if usage.model:
        run.model = usage.model
    return ["prompt_tokens", "completion_tokens", "cost", "model"]


def _journal_entry(seq: int, event: "DocumentProcessed") -> dict:
    data = event.payload()
    del data["plan"]  # the session row holds the plan
    return {"seq": seq, **data}


def _save_document_folded(session, run, plan, folded, usage, seq, event, document) -> bool:
    """Save the plan after a document (and keep it in the plan's history), note its
    `document_processed` event (number `seq`) on the run for watchers anywhere; True when a
    cancel was requested meanwhile."""
    # The run row is written when the run ends: meanwhile its progress rides on the
    # session's own write (its journal), which also carries the NOTIFY for other workers.
    # The run in memory changes only once that write went through (it may be retried).
    _record_usage(run, usage)  # the builder's totals so far
    processed = [*run.events.get("processed", []), _journal_entry(seq, event)]
    journal = {**run.journal(), "processed": processed}
    notice = (EVENTS_CHANNEL, _event_pointer(run, seq, event.name))
    version = new_version(  # pruned once, when the run ends (_finish_writes)
        session,
        plan,
        PlanVersion.Source.DOCUMENT,
        label=document.original_name,
        folded_document_ids=folded,
        dropped=event.dropped,
        document_id=document.pk,
    )
    # One statement on PostgreSQL (two elsewhere): the plan, the journal, the NOTIFY and
    # the version, the version only if the claim still holds.
    cancel_requested = session.save_progress(plan, folded, journal, notice, also_insert=version)
    run.documents_processed += 1
    run.events = {**run.events, "processed": processed}
    if run.first_event_at is None:
        run.first_event_at = timezone.now()
    return cancel_requested


def _finish_blocks(session: StudySession, run, outcome, usage: Usage, error, plan, seq, event):
    """Complete the session with `plan` (success), or hand it back to UPLOADING with its
    progress; then close the run with its final event (number `seq`).

    On PostgreSQL in one transaction, so a watcher on another worker never sees the session
    ended and its run not (it would take the run for an orphan). SQLite has no other worker,
    and a transaction there would only lock out readers for longer."""
    database = connections["default"]
    ending = transaction.atomic() if database.vendor == "postgresql" else contextlib.nullcontext()
    with ending:
        _finish_writes(session, run, outcome, usage, error, plan, seq, event)


def _finish_writes(session: StudySession, run, outcome, usage: Usage, error, plan, seq, event):
    if run is not None and run.documents_processed:
        prune_versions(session)  # the run's versions were kept without pruning
    # The session's write carries the NOTIFY (delivered when this block commits).
    notice = None if run is None else (EVENTS_CHANNEL, _event_pointer(run, seq, event.name))
    notified = True
    if outcome == GenerationRun.Outcome.SUCCEEDED:
        session.complete_with_plan(normalize_plan(plan), notice)
    elif not session.release_to_uploading(notice):
        if run is None:
            return  # the claim had ended already: nothing here is ours to close
        notified = False
    if run is None:
        # Ended before its run row was known here: whatever runs this claim had end with it.
        session.generation_runs.end(outcome, error)
        return
    run.outcome = outcome
    run.error = error
    run.finished_at = timezone.now()
    run.events = {**run.events, "final": {"seq": seq, "name": event.name, "data": event.payload()}}
    # Everything the run did is written now, in its one UPDATE (see _save_document_folded).
    fields = ["outcome", "error", "finished_at", "events", "documents_processed"]
    fields += ["first_event_at", *_record_usage(run, usage)]
    update_row(GenerationRun, {"id": run.pk}, {name: getattr(run, name) for name in fields})
    if not notified:
        notify(*notice)
    _report(run)


def _report(run: GenerationRun) -> None:
    """The finished run's metrics and its one log line (never a document's text)."""
    first_event = run.first_event_at and (run.first_event_at - run.started_at).total_seconds()
    record_finished(
        "run",
        outcome=run.outcome,
        builder=run.builder,
        model=run.model,
        session_id=str(run.session_id),
        duration=(run.finished_at - run.started_at).total_seconds(),
        first_event=first_event,
        documents=run.documents_processed,
        prompt_tokens=run.prompt_tokens,
        completion_tokens=run.completion_tokens,
        cost=run.cost,
        error=run.error,
    )


async def _finish(session: StudySession, run, ending, usage: Usage, plan, seq, lost) -> PlanEvent:
    """THE end of a live claim, in every outcome (called once, from build_plan's finally):
    retried while the database is down, not interrupted by a cancellation. Returns the final
    event: `lost` (a Failed) instead of a completion if the claim turned out to be gone."""
    outcome, error, event = ending

    async def finish() -> PlanEvent:
        try:
            await _write(_finish_blocks, session, run, outcome, usage, error, plan, seq, event)
            return event
        except LostClaim:  # completing failed: the session was reset or taken over
            failed = GenerationRun.Outcome.FAILED
            reason = "The session was reset or taken over by another worker."
            await _write(_finish_blocks, session, run, failed, usage, reason, plan, seq, lost)
            return lost

    work = asyncio.ensure_future(finish())
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await work
        raise


# --- the service ------------------------------------------------------------------------


def _percent(done_documents: float, total: int) -> int:
    return 100 if total == 0 else min(100, int(100 * done_documents / total))


SHUTDOWN_MESSAGE = (
    "The server restarted while building your plan. The documents already read are saved; "
    "Retry continues with the rest."
)
DETACHED_MESSAGE = (
    "Generation paused because nobody was watching it. The documents already read are kept "
    "in the plan."
)
DB_MESSAGE = (
    "We lost the connection to our database while building the plan. The documents already "
    "read are saved; try again."
)


def _stopped(reason: str, saved_plan, done: int, total: int):
    """(outcome, error for the run, final event) of a run stopped for `reason`."""
    if reason == DETACHED:
        return (
            GenerationRun.Outcome.CANCELLED,
            "Nobody watched the generation for PLAN_DETACHED_GRACE seconds.",
            Cancelled(DETACHED_MESSAGE, saved_plan, done, total),
        )
    if reason == SHUTDOWN:
        return (
            GenerationRun.Outcome.FAILED,
            "The worker shut down.",
            Failed(SHUTDOWN_MESSAGE, True, saved_plan, done, total),
        )
    return (
        GenerationRun.Outcome.CANCELLED,
        "Cancelled by the learner.",
        Cancelled(Cancelled.message, saved_plan, done, total),
    )


async def build_plan(
    session: StudySession,
    *,
    builder: PlanBuilder,
    language: str | None = None,
    heartbeat_interval: float | None = None,
    stop: StopSignal | None = None,
    quota: Grant | None = None,
) -> AsyncIterator[PlanEvent]:
    """Claim the session and fold its unprocessed documents into its plan, yielding events.

    Raises GenerationRefused (before any event) when the session can't be claimed.
    Documents go in upload order; after each one the plan and the progress are saved, so a
    later run resumes at the first document not yet folded in and calls the builder only for
    those. Its events are numbered 1, 2, … in the order yielded (the `seq` of SPEC §7's ids);
    what a watcher on another worker needs is in the session's journal while it runs and
    in the run row once it ended (`GenerationRun.events`).
    `stop` lets the caller stop it (StopSignal.request: CANCELLED, DETACHED, SHUTDOWN).
    A run that fails before the model produced anything gives its `quota` unit back.
    """
    language = language or session.language
    interval = heartbeat_interval or settings.PLAN_HEARTBEAT_INTERVAL
    stop = stop or StopSignal()
    claimed = await run_db(_claim_and_start_run, session, builder)
    documents, sources, folded, saved_plan, run = claimed
    # From here on this generator owns the claim: `finally` ends it, whatever happens.
    plan = saved_plan
    total = len(folded) + len(documents)
    seq = 0
    watchdog = asyncio.ensure_future(_watch_heartbeat(session, stop, interval))
    ending = None  # (outcome, error for the run, final event), once the run is decided
    try:
        resumed_from = len(folded)
        message = (
            f"Resuming at document {resumed_from + 1} of {total}."
            if resumed_from
            else f"Starting: {total} document{'s' if total != 1 else ''} to read."
        )
        seq += 1
        yield Started(str(run.pk), total, resumed_from, message, _percent(resumed_from, total))

        for number, document in enumerate(documents, start=resumed_from + 1):
            stop.check()
            source = sources[document.pk]
            reading = f"Reading document {number} of {total}: {source.name}"
            seq += 1
            yield Progress(number, total, plan, _percent(number - 1, total), reading, source.name)
            dropped: tuple[str, ...] = ()
            async for step in _until_stopped(builder.fold(plan, source, language=language), stop):
                if step.final:
                    plan, dropped = step.plan, tuple(step.dropped)
                    continue
                message = reading
                if step.sections > 1:
                    message += f" (part {step.section} of {step.sections})"
                share = (step.section - 1 + step.done) / step.sections
                if run.first_event_at is None:  # written with the run's next write
                    run.first_event_at = timezone.now()
                seq += 1
                yield Progress(
                    number,
                    total,
                    step.plan,
                    _percent(number - 1 + min(share, 0.99), total),
                    message,
                    source.name,
                    step.section,
                    step.sections,
                )
            processed = DocumentProcessed(
                number,
                total,
                plan,
                _percent(number, total),
                f"Finished document {number} of {total}: {source.name}"
                + (f" ({len(dropped)} left out: the plan is full)" if dropped else ""),
                source.name,
                dropped,
            )
            cancel_requested = await _write(
                _save_document_folded,
                session,
                run,
                plan,
                [*folded, str(document.pk)],
                builder.usage,
                seq + 1,
                processed,
                document,
            )
            saved_plan, folded = plan, [*folded, str(document.pk)]
            sources.pop(document.pk)  # its text is no longer needed
            seq += 1
            yield processed
            if cancel_requested:  # asked in another process; seen here between documents
                stop.request(CANCELLED)

        stop.check()
        ending = (GenerationRun.Outcome.SUCCEEDED, "", Completed(plan))
    except _StopRequested as stopped:
        ending = _stopped(stopped.reason, saved_plan, len(folded), total)
    except LostClaim:
        ending = (
            GenerationRun.Outcome.FAILED,
            "The session was reset or taken over by another worker.",
            Failed(LOST_MESSAGE, True, saved_plan, len(folded), total),
        )
    except (AIError, PlanGenerationError) as error:
        ending = (
            GenerationRun.Outcome.FAILED,
            str(error),
            Failed(error.user_message, error.retryable, saved_plan, len(folded), total),
        )
    except _DATABASE_DOWN as error:
        logger.warning("Generating the plan of session %s lost the database: %r", session.pk, error)
        ending = (
            GenerationRun.Outcome.FAILED,
            repr(error),
            Failed(DB_MESSAGE, True, saved_plan, len(folded), total),
        )
    except Exception as error:
        logger.exception("Generating the plan of session %s failed", session.pk)
        ending = (
            GenerationRun.Outcome.FAILED,
            repr(error),
            Failed(
                "Something went wrong on our side while building the plan. "
                "The documents already read are saved; try again.",
                True,
                saved_plan,
                len(folded),
                total,
            ),
        )
    finally:
        watchdog.cancel()
        closing = ending is None  # the consumer went away (closed or cancelled us)
        if closing:
            ending = (
                GenerationRun.Outcome.CANCELLED,
                "The generation's runner went away.",
                Cancelled(Cancelled.message, saved_plan, len(folded), total),
            )
        lost = Failed(LOST_MESSAGE, True, saved_plan, len(folded), total)
        final = await _finish(session, run, ending, builder.usage, plan, seq + 1, lost)
        produced = run.first_event_at or builder.usage.completion_tokens
        if quota is not None and ending[0] == GenerationRun.Outcome.FAILED and not produced:
            await quota.arefund()
    yield final
