"""The plan side of the daily AI quota (SPEC §16): only runs that will call the model count."""

from plans.builders.base import PlanBuilder
from plans.builders.offline import OfflineBuilder
from quotas.service import Allowance, Grant, Kind, allowance, consume, daily_limit
from sessions_app.models import StudySession
from studyplanner.db import run_db


def uses_model(builder: PlanBuilder) -> bool:
    return builder.name != OfflineBuilder.name


def _charge(user, session: StudySession) -> Grant:
    limit = daily_limit(user, Kind.PLAN)
    documents, _ = session.documents_to_fold() if limit else ([], False)
    if not documents:  # unlimited, or nothing left to read
        return Grant(user.pk, Kind.PLAN, None)
    return consume(user, Kind.PLAN, limit)


async def acharge(user, session: StudySession, builder: PlanBuilder) -> Grant:
    """Take one of today's AI plan generations for a run of `builder` on `session`
    (QuotaExceeded when none is left). Free: the offline builder, and a run with no document
    left to read (it only reopens the editor). One database block."""
    if uses_model(builder):
        return await run_db(_charge, user, session)
    return Grant(user.pk, Kind.PLAN, None)


def plan_allowance(user, builder: PlanBuilder) -> Allowance | None:
    """What the session page says before the learner clicks; None when nothing is counted."""
    if not uses_model(builder):
        return None
    left = allowance(user, Kind.PLAN)
    return None if left.unlimited else left
