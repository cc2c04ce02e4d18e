"""The health dashboard's numbers (SPEC §17), each one aggregate query in the database.

Nothing here loads the rows of a table into Python: counts, sums and the hourly series are
GROUP BY queries; a percentile is PostgreSQL's `percentile_cont` or, on SQLite, the same
interpolation read from the (at most two) rows at its position in the ordered column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.apps import apps
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    F,
    FloatField,
    Func,
    QuerySet,
    Sum,
)
from django.db.models.expressions import Expression
from django.db.models.functions import Cast, TruncHour

from sessions_app.models import GenerationRun, StudySession

OUTCOMES = ["succeeded", "failed", "cancelled", "running"]


class Seconds(Func):
    """end - start in seconds, as a float (NULL when either is NULL)."""

    output_field = FloatField()
    arity = 2

    def as_sql(self, compiler, connection, **extra):  # PostgreSQL and others
        return self.as_sql_template(
            compiler, connection, "EXTRACT(EPOCH FROM (%s - %s))::double precision"
        )

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql_template(
            compiler, connection, "((julianday(%s) - julianday(%s)) * 86400.0)"
        )

    def as_sql_template(self, compiler, connection, template):
        end, start = (compiler.compile(e) for e in self.get_source_expressions())
        return template % (end[0], start[0]), [*end[1], *start[1]]


class PercentileCont(Aggregate):
    """PostgreSQL's continuous percentile of an ordered column."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def percentiles(
    queryset: QuerySet, expression: Expression, fractions: tuple[float, ...] = (0.5, 0.95)
) -> list[float | None]:
    """The `fractions` percentiles of `expression` over `queryset` (NULLs left out), by
    linear interpolation between the closest ranks like percentile_cont; None for no rows."""
    values = queryset.annotate(_v=expression).filter(_v__isnull=False)
    if connection.vendor == "postgresql":
        found = values.aggregate(
            **{f"p{n}": PercentileCont(F("_v"), fraction) for n, fraction in enumerate(fractions)}
        )
        return [found[f"p{n}"] for n in range(len(fractions))]
    return _ranked_percentiles(values, fractions)


def _ranked_percentiles(values: QuerySet, fractions: tuple[float, ...]) -> list[float | None]:
    """Without percentile_cont (SQLite): one query numbers the ordered values and keeps
    only the (at most two) rows around each fraction's position, which are interpolated."""
    try:
        inner, params = values.values_list("_v").order_by().query.sql_with_params()
    except EmptyResultSet:
        return [None for _ in fractions]
    # The ranks within 1 of each position: floor(position) and the next one among them.
    wanted = " OR ".join(
        f"(i BETWEEN {f!r} * (n - 1) - 1 AND {f!r} * (n - 1) + 1)" for f in fractions
    )
    sql = (
        'SELECT i, n, v FROM (SELECT "_v" AS v, ROW_NUMBER() OVER (ORDER BY "_v") - 1 AS i, '
        f"COUNT(*) OVER () AS n FROM ({inner}) AS picked) AS ranked "
        f"WHERE {wanted}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return [None for _ in fractions]
    count = rows[0][1]
    at = {i: v for i, _, v in rows}
    found = []
    for fraction in fractions:
        position = fraction * (count - 1)
        low = math.floor(position)
        high = min(low + 1, count - 1)
        found.append(at[low] + (at[high] - at[low]) * (position - low))
    return found


@dataclass
class ModelUsage:
    model: str
    count: int
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal | None


@dataclass
class Summary:
    """One kind of work (plan runs, questions) over one window."""

    label: str
    since: datetime
    outcomes: dict[str, int]
    duration_p50: float | None
    duration_p95: float | None
    first_event_p50: float | None
    first_event_p95: float | None
    usage: list[ModelUsage]
    errors: list[tuple[str, int]] = field(default_factory=list)
    anchor: str = ""

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    @property
    def success_rate(self) -> float | None:
        """Succeeded of those that succeeded or failed (the learner's cancels left out)."""
        decided = self.outcomes["succeeded"] + self.outcomes["failed"]
        return None if not decided else self.outcomes["succeeded"] / decided

    @property
    def prompt_tokens(self) -> int:
        return sum(u.prompt_tokens for u in self.usage)

    @property
    def completion_tokens(self) -> int:
        return sum(u.completion_tokens for u in self.usage)

    @property
    def cost(self) -> Decimal:
        return sum((u.cost or Decimal(0) for u in self.usage), Decimal(0))


def summarize(
    queryset: QuerySet,
    *,
    label: str,
    since: datetime,
    duration: Expression,
    first_event: Expression,
) -> Summary:
    """Counts, percentiles, usage by model and the 5 most frequent errors of `queryset`
    (already limited to the window)."""
    queryset = queryset.order_by()
    counted = dict(queryset.values_list("outcome").annotate(n=Count("pk")))
    outcomes = {outcome: counted.get(outcome, 0) for outcome in OUTCOMES}
    finished = queryset.exclude(outcome="running")
    usage = [
        ModelUsage(row["model"] or "—", row["n"], row["p"] or 0, row["c"] or 0, row["cost"])
        for row in finished.values("model")
        .annotate(
            n=Count("pk"),
            p=Sum("prompt_tokens"),
            c=Sum("completion_tokens"),
            cost=Sum("cost"),
        )
        .order_by("-n", "model")
    ]
    errors = list(
        finished.filter(outcome="failed")
        .exclude(error="")
        .values_list("error")
        .annotate(n=Count("pk"))
        .order_by("-n", "error")[:5]
    )
    duration_p50, duration_p95 = percentiles(finished, duration)
    first_event_p50, first_event_p95 = percentiles(queryset, first_event)
    return Summary(
        label=label,
        since=since,
        outcomes=outcomes,
        duration_p50=duration_p50,
        duration_p95=duration_p95,
        first_event_p50=first_event_p50,
        first_event_p95=first_event_p95,
        usage=usage,
        errors=errors,
    )


def run_summary(since: datetime, label: str) -> Summary:
    return summarize(
        GenerationRun.objects.since(since),
        label=label,
        since=since,
        duration=Seconds("finished_at", "started_at"),
        first_event=Seconds("first_event_at", "started_at"),
    )


def question_summary(since: datetime, label: str) -> Summary | None:
    """The same for questions (the `questions` app's Question), when that app is installed."""
    if not apps.is_installed("questions"):
        return None
    question = apps.get_model("questions", "Question")
    in_seconds = Cast("duration_ms", FloatField()) / 1000.0
    return summarize(
        question.objects.filter(created_at__gte=since),
        label=label,
        since=since,
        duration=in_seconds,
        first_event=Cast("first_token_ms", FloatField()) / 1000.0,
    )


@dataclass(frozen=True)
class Bar:
    """One hour of the chart: its start and how many runs began in it, by outcome."""

    hour: datetime
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def runs_per_hour(now: datetime, hours: int = 24) -> list[Bar]:
    """Runs started in each of the last `hours` whole hours (the current one last)."""
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    rows = (
        GenerationRun.objects.since(start)
        .order_by()
        .annotate(hour=TruncHour("started_at", tzinfo=UTC))
        .values_list("hour", "outcome")
        .annotate(n=Count("pk"))
    )
    by_hour: dict[datetime, dict[str, int]] = {}
    for hour, outcome, n in rows:
        by_hour.setdefault(hour, {})[outcome] = n
    return [
        Bar(hour, {o: by_hour.get(hour, {}).get(o, 0) for o in OUTCOMES})
        for hour in (start + timedelta(hours=h) for h in range(hours))
    ]


def generating_sessions() -> tuple[list[StudySession], list[StudySession]]:
    """The sessions generating right now, and the stale ones (their worker stopped)."""
    generating = StudySession.objects.filter(status=StudySession.Status.GENERATING_PLAN)
    stale = list(generating.stale().select_related("owner")[:50])
    stale_ids = {s.pk for s in stale}
    live = [s for s in generating.select_related("owner")[:100] if s.pk not in stale_ids]
    return live, stale
