"""Check and count a user's daily AI work (SPEC §16), one atomic statement per request.

    try:
        grant = await aconsume(request.user, Kind.PLAN)
    except QuotaExceeded as exceeded:
        return too_many(exceeded)           # quotas.http: 429, Retry-After, JSON
    ...
    await grant.arefund()                   # the model produced nothing: give the unit back

Call it only for work that reaches the model: offline runs and answers are free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from quotas.models import Kind, QuotaOverride, QuotaUsage
from studyplanner.db import get_row, run_db

_SETTINGS = {Kind.PLAN: "QUOTA_AI_PLAN_RUNS_PER_DAY", Kind.QUESTION: "QUOTA_AI_QUESTIONS_PER_DAY"}
_NOUNS = {
    Kind.PLAN: ("AI plan generation", "AI plan generations"),
    Kind.QUESTION: ("AI answer", "AI answers"),
}


def _utc_now() -> datetime:
    return timezone.now().astimezone(UTC)


def seconds_to_midnight(now: datetime | None = None) -> int:
    """Whole seconds until the next UTC midnight, when every daily quota starts again."""
    now = (now or _utc_now()).astimezone(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    return max(1, math.ceil((midnight - now).total_seconds()))


def _in_words(seconds: int) -> str:
    hours, minutes = divmod(math.ceil(seconds / 60), 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


def _noun(kind: str, count: int) -> str:
    singular, plural = _NOUNS[Kind(kind)]
    return singular if count == 1 else plural


def daily_limit(user, kind: str) -> int:
    """The user's limit for `kind` per UTC day (0: unlimited): staff's override, else the
    site's setting."""
    # Read before every counted request: one SELECT built once (studyplanner.db.get_row).
    override = get_row(QuotaOverride, {"user": user.pk})
    own = override.limit_for(kind) if override else None
    return own if own is not None else getattr(settings, _SETTINGS[Kind(kind)])


def _used(user, kind: str, day: date) -> int:
    row = QuotaUsage.objects.filter(user=user, kind=kind, day=day).values_list("used", flat=True)
    return row.first() or 0


class QuotaExceeded(Exception):
    """Today's units of `kind` are spent; more come in `retry_after` seconds (UTC midnight)."""

    def __init__(self, kind: str, limit: int, used: int, retry_after: int):
        self.kind, self.limit, self.used, self.retry_after = kind, limit, used, retry_after
        self.message = (
            f"You have used all {limit} {_noun(kind, limit)} for today. "
            f"More at midnight UTC, in {_in_words(retry_after)}."
        )
        super().__init__(self.message)


@dataclass
class Grant:
    """One unit of today's quota, taken; `refund()` gives it back (once)."""

    user_id: int | None
    kind: str
    day: date | None  # None: nothing was counted (no limit)

    @property
    def counted(self) -> bool:
        return self.day is not None

    def refund(self) -> None:
        if self.day is None:
            return
        QuotaUsage.objects.filter(
            user_id=self.user_id, kind=self.kind, day=self.day, used__gt=0
        ).update(used=F("used") - 1)
        self.day = None

    async def arefund(self) -> None:
        await run_db(self.refund)


def consume(user, kind: str, limit: int | None = None) -> Grant:
    """Take one unit of today's `kind` for `user`, or raise QuotaExceeded. `limit`: the
    user's daily_limit, when the caller has just read it.

    The check and the count are one statement (an upsert whose update only happens below
    the limit), so of any number of simultaneous requests in any number of workers, exactly
    as many proceed as units were left.
    """
    limit = daily_limit(user, kind) if limit is None else limit
    if limit == 0:
        return Grant(user.pk, kind, None)
    now = _utc_now()
    day = now.date()
    table = connection.ops.quote_name(QuotaUsage._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, day, kind, used) VALUES (%s, %s, %s, 1) "
            f"ON CONFLICT (user_id, day, kind) DO UPDATE SET used = {table}.used + 1 "
            f"WHERE {table}.used < %s RETURNING used",
            [user.pk, connection.ops.adapt_datefield_value(day), str(kind), limit],
        )
        counted = cursor.fetchone()
    if counted is None:
        raise QuotaExceeded(kind, limit, _used(user, kind, day), seconds_to_midnight(now))
    return Grant(user.pk, kind, day)


async def aconsume(user, kind: str) -> Grant:
    return await run_db(consume, user, kind)


@dataclass(frozen=True)
class Allowance:
    """What the page shows before the learner clicks: `left` of `limit` for today."""

    kind: str
    limit: int
    used: int
    resets_in: int

    @property
    def unlimited(self) -> bool:
        return self.limit == 0

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def noun(self) -> str:
        return _noun(self.kind, self.limit)

    @property
    def resets_in_words(self) -> str:
        return _in_words(self.resets_in)


def allowance(user, kind: str) -> Allowance:
    limit = daily_limit(user, kind)
    now = _utc_now()
    used = 0 if limit == 0 else _used(user, kind, now.date())
    return Allowance(kind, limit, used, seconds_to_midnight(now))
