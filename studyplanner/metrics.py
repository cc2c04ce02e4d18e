"""What the running processes count for Prometheus (SPEC §17), and the one log line per
finished run or question.

Every package may import this module (`ai/` included): it imports nothing of the project.
The metrics are plain prometheus-client objects. With several worker processes set
PROMETHEUS_MULTIPROC_DIR (an empty directory, the same for every worker, in the
environment before the server starts): each process then writes its values to files
there and `GET /metrics` (monitoring/views.py) adds them up. Without it, each process
counts for itself, which is right for one worker only.

    record_finished("run", outcome="succeeded", builder="openrouter", ...)
    record_upstream_call(status=200, retry=False)
    with open_stream("question"):      # or @counted_stream("plan") on a body's generator
        ...
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
from collections.abc import AsyncGenerator, Callable, Iterator
from decimal import Decimal

from prometheus_client import Counter, Gauge, Histogram

logger = logging.getLogger("studyplanner.finished")

# Seconds: a plan run reads many documents (minutes); a first event comes in seconds.
DURATION_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, float("inf"))
FIRST_EVENT_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120, float("inf"))

FINISHED = Counter(
    "studyplanner_finished",
    "Plan runs and questions that ended, by kind (run, question), outcome and builder.",
    ["kind", "outcome", "builder"],
)
DURATION = Histogram(
    "studyplanner_duration_seconds",
    "How long finished plan runs and questions took, from start to end.",
    ["kind", "outcome"],
    buckets=DURATION_BUCKETS,
)
FIRST_EVENT = Histogram(
    "studyplanner_first_event_seconds",
    "Time from the start to the first event carrying the model's work (a plan event, the "
    "first answer token).",
    ["kind"],
    buckets=FIRST_EVENT_BUCKETS,
)
TOKENS = Counter(
    "studyplanner_ai_tokens",
    "Tokens the model read (prompt) and wrote (completion) for finished runs and questions.",
    ["kind", "direction", "model"],
)
COST = Counter(
    "studyplanner_ai_cost",
    "What the provider charged for finished runs and questions (its unit, USD on OpenRouter).",
    ["kind", "model"],
)
UPSTREAM_CALLS = Counter(
    "studyplanner_ai_upstream_calls",
    "Requests to the AI provider by HTTP status (or 'error': no answer) and whether the "
    "request was a retry.",
    ["status", "retry"],
)
OPEN_STREAMS = Gauge(
    "studyplanner_open_streams",
    "Event streams being sent to browsers right now.",
    ["kind"],
    multiprocess_mode="livesum",
)


def record_upstream_call(status: int | None, *, retry: bool) -> None:
    """One request to the AI provider ended: `status` None when no HTTP answer came."""
    UPSTREAM_CALLS.labels(
        status=str(status) if status else "error", retry="true" if retry else "false"
    ).inc()


@contextlib.contextmanager
def open_stream(kind: str) -> Iterator[None]:
    """Counts an event stream as open while the block runs."""
    gauge = OPEN_STREAMS.labels(kind=kind)
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()


def counted_stream(kind: str):
    """Decorates an async generator (an event stream's body) to count it as open from its
    first item until it ends or is closed."""

    def decorate(body: Callable[..., AsyncGenerator]) -> Callable[..., AsyncGenerator]:
        @functools.wraps(body)
        async def counted(*args, **kwargs):
            with open_stream(kind):
                items = body(*args, **kwargs)
                try:
                    async for item in items:
                        yield item
                finally:
                    await items.aclose()

        return counted

    return decorate


def record_finished(
    kind: str,
    *,
    outcome: str,
    builder: str,
    model: str,
    session_id: str,
    duration: float | None,
    first_event: float | None,
    documents: int | None,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    cost: Decimal | float | None,
    error: str = "",
) -> None:
    """A run ("run") or a question ("question") ended: count it and log one line.

    The line is `finished {json}` with the fields below and nothing of any document's or
    question's text; `error` is the recorded reason (our own messages and the provider's).
    """
    FINISHED.labels(kind=kind, outcome=outcome, builder=builder).inc()
    if duration is not None:
        DURATION.labels(kind=kind, outcome=outcome).observe(duration)
    if first_event is not None:
        FIRST_EVENT.labels(kind=kind).observe(first_event)
    model_label = model or "none"
    if prompt_tokens:
        TOKENS.labels(kind=kind, direction="prompt", model=model_label).inc(prompt_tokens)
    if completion_tokens:
        TOKENS.labels(kind=kind, direction="completion", model=model_label).inc(completion_tokens)
    if cost:
        COST.labels(kind=kind, model=model_label).inc(float(cost))
    fields = {
        "event": f"{kind}_finished",
        "kind": kind,
        "outcome": outcome,
        "session_id": str(session_id),
        "builder": builder,
        "model": model,
        "duration_s": None if duration is None else round(duration, 3),
        "first_event_s": None if first_event is None else round(first_event, 3),
        "documents": documents,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "cost": None if cost is None else float(cost),
        "error": error[:300],
    }
    logger.info("finished %s", json.dumps(fields, ensure_ascii=False))


def forget_this_process() -> None:
    """At a worker's shutdown: its open-streams gauge leaves the multiprocess directory
    (counters and histograms stay: what happened keeps counting)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())
