"""Generating a session's study plan: fold its documents in, one at a time (SPEC §4, §5).

`build_plan` is an async generator of plain events — no HTTP, no SSE text; the views
encode them. It takes a session its caller has already claimed, and whatever happens
(completion, an error, a cancel request from any process, the consumer going away) the
session leaves GENERATING_PLAN with its progress saved, unless another worker has taken
it over.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import ClassVar

from django.conf import settings
from django.utils import timezone

from ai import AIError
from plans.builders.base import PlanBuilder, PlanGenerationError, SourceDocument, Usage
from plans.history import record_version
from plans.models import PlanVersion
from plans.schema import Plan, normalize_plan
from quotas.service import Grant
from sessions_app.models import (
    Document,
    GenerationRun,
    HeartbeatState,
    LostClaim,
    StudySession,
)
from studyplanner.db import run_db
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


class _StopSignal:
    """Set when the generation must stop: a cancel request, or the claim was lost."""

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


# Generations running in this process, so a cancel request that lands here stops them at
# once; other processes see the database flag on their next heartbeat.
_running: dict[str, _StopSignal] = {}


def signal_cancel(session_id) -> bool:
    """Stop a generation of this process right away (the database flag is set separately)."""
    stop = _running.get(str(session_id))
    if stop is None:
        return False
    stop.loop.call_soon_threadsafe(stop.request, "cancelled")
    return True


async def _watch_heartbeat(session: StudySession, stop: _StopSignal, interval: float) -> None:
    while not stop.event.is_set():
        await asyncio.sleep(interval)
        try:
            state = await session.aheartbeat()
        except Exception:  # a database hiccup must not kill the generation by itself
            logger.exception("Heartbeat of session %s failed", session.pk)
            continue
        if state == HeartbeatState.CANCEL_REQUESTED:
            stop.request("cancelled")
        elif state == HeartbeatState.LOST:
            stop.request("lost")


async def _until_stopped(steps: AsyncIterator, stop: _StopSignal) -> AsyncIterator:
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


def _start_run(session: StudySession, builder: PlanBuilder):
    documents, start_over = session.documents_to_fold()
    folded = [] if start_over else list(session.folded_document_ids)
    plan = [] if start_over else session.plan
    run = GenerationRun.objects.create(
        session=session,
        builder=builder.name,
        model=getattr(builder, "model", ""),
        documents_total=len(folded) + len(documents),
        resumed_from=len(folded),
    )
    return documents, folded, plan, run


def _load_document(document: Document) -> SourceDocument:
    text, outline = Document.objects.values_list("content_text", "outline").get(pk=document.pk)
    return SourceDocument(name=document.original_name, text=text, outline=outline or [])


def _record_usage(run: GenerationRun, usage: Usage) -> list[str]:
    run.prompt_tokens = usage.prompt_tokens
    run.completion_tokens = usage.completion_tokens
    run.cost = usage.cost
    if usage.model:
        run.model = usage.model
    return ["prompt_tokens", "completion_tokens", "cost", "model"]


def _save_document_folded(session, run, plan, folded, usage, document=None, dropped=()) -> bool:
    """Save the plan after a document (and keep it in the plan's history); True when a
    cancel was requested meanwhile."""
    cancel_requested = session.save_progress(plan, folded)
    if document is not None:
        record_version(
            session,
            plan,
            PlanVersion.Source.DOCUMENT,
            label=document.original_name,
            dropped=dropped,
            document_id=document.pk,
        )
    run.documents_processed += 1
    run.save(update_fields=["documents_processed", *_record_usage(run, usage)])
    return cancel_requested


def _end_run(session: StudySession, run, outcome, usage: Usage, error="", plan=None) -> None:
    """Complete the session with `plan` (success), or hand it back to UPLOADING with its
    progress; then close the run."""
    if outcome == GenerationRun.Outcome.SUCCEEDED:
        session.complete_with_plan(normalize_plan(plan))
    elif not session.release_to_uploading() and run is None:
        return  # the claim had ended already: nothing here is ours to close
    if run is None:
        # The run row may exist without this code having it (the client left while it was
        # being created): whatever runs under this claim end with it.
        session.generation_runs.end(outcome, error)
        return
    run.outcome = outcome
    run.error = error
    run.finished_at = timezone.now()
    run.save(update_fields=["outcome", "error", "finished_at", *_record_usage(run, usage)])
    _report(run)


def _mark_first_event(run: GenerationRun) -> None:
    run.first_event_at = timezone.now()
    GenerationRun.objects.filter(pk=run.pk).update(first_event_at=run.first_event_at)


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


def end_claim(session: StudySession, reason: str) -> None:
    """Hand back a claim whatever became of its generation (a no-op if it was handed back
    already: every write is fenced by the claim's token)."""
    _end_run(session, None, GenerationRun.Outcome.CANCELLED, Usage(), reason)


# --- the service ------------------------------------------------------------------------


def _percent(done_documents: float, total: int) -> int:
    return 100 if total == 0 else min(100, int(100 * done_documents / total))


async def build_plan(
    session: StudySession,
    *,
    builder: PlanBuilder,
    language: str | None = None,
    heartbeat_interval: float | None = None,
    quota: Grant | None = None,
) -> AsyncIterator[PlanEvent]:
    """Fold the session's unprocessed documents into its plan, yielding events.

    The caller must have claimed the session (`claim_for_generation`). Documents go in
    upload order; after each one the plan and the progress are saved, so a later run
    resumes at the first document not yet folded in and calls the builder only for those.
    A run that fails before the model produced anything gives its `quota` unit back.
    """
    language = language or session.language
    interval = heartbeat_interval or settings.PLAN_HEARTBEAT_INTERVAL
    run = None
    saved_plan, folded, total = session.plan, list(session.folded_document_ids), 0
    stop = _StopSignal()
    _running[str(session.pk)] = stop
    watchdog = asyncio.ensure_future(_watch_heartbeat(session, stop, interval))
    ending = None  # (outcome, error for the run, final event), once the run is decided
    try:
        documents, folded, saved_plan, run = await run_db(_start_run, session, builder)
        plan = saved_plan
        total = len(folded) + len(documents)
        resumed_from = len(folded)
        message = (
            f"Resuming at document {resumed_from + 1} of {total}."
            if resumed_from
            else f"Starting: {total} document{'s' if total != 1 else ''} to read."
        )
        yield Started(total, resumed_from, message, _percent(resumed_from, total))

        for number, document in enumerate(documents, start=resumed_from + 1):
            stop.check()
            source = await run_db(_load_document, document)
            reading = f"Reading document {number} of {total}: {source.name}"
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
                if run.first_event_at is None:
                    await run_db(_mark_first_event, run)
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
            cancel_requested = await run_db(
                _save_document_folded,
                session,
                run,
                plan,
                [*folded, str(document.pk)],
                builder.usage,
                document,
                dropped,
            )
            saved_plan, folded = plan, [*folded, str(document.pk)]
            if run.first_event_at is None:
                await run_db(_mark_first_event, run)
            yield DocumentProcessed(
                number,
                total,
                plan,
                _percent(number, total),
                f"Finished document {number} of {total}: {source.name}"
                + (f" ({len(dropped)} left out: the plan is full)" if dropped else ""),
                source.name,
                dropped,
            )
            if cancel_requested:  # asked in another process; seen here between documents
                stop.request("cancelled")

        stop.check()
        await run_db(
            _end_run, session, run, GenerationRun.Outcome.SUCCEEDED, builder.usage, plan=plan
        )
        ending = (GenerationRun.Outcome.SUCCEEDED, "", Completed(plan))
    except _StopRequested:
        ending = (
            GenerationRun.Outcome.CANCELLED,
            "Cancelled by the learner.",
            Cancelled(Cancelled.message, saved_plan, len(folded), total),
        )
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
        if _running.get(str(session.pk)) is stop:
            del _running[str(session.pk)]
        if ending is None:
            # The consumer went away (client disconnected, task cancelled): hand the session
            # back, shielded so a second cancellation can't leave it stuck in GENERATING_PLAN.
            cleanup = asyncio.ensure_future(
                run_db(
                    _end_run,
                    session,
                    run,
                    GenerationRun.Outcome.CANCELLED,
                    builder.usage,
                    "The client disconnected.",
                )
            )
            await asyncio.shield(cleanup)
    outcome, error, event = ending
    if outcome != GenerationRun.Outcome.SUCCEEDED:
        await run_db(_end_run, session, run, outcome, builder.usage, error)
    produced = (run and run.first_event_at) or builder.usage.completion_tokens
    if quota is not None and outcome == GenerationRun.Outcome.FAILED and not produced:
        await quota.arefund()
    yield event
