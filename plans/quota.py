"""The plan side of the daily AI quota (SPEC §16): only runs that reach the model count."""

from plans.builders.base import PlanBuilder
from plans.builders.offline import OfflineBuilder
from quotas.service import Allowance, Grant, Kind, aconsume, allowance


def uses_model(builder: PlanBuilder) -> bool:
    return builder.name != OfflineBuilder.name


async def acharge(user, builder: PlanBuilder) -> Grant:
    """Take one of today's AI plan generations for a run of `builder` (QuotaExceeded when
    none is left); an offline run takes nothing."""
    if not uses_model(builder):
        return Grant(user.pk, Kind.PLAN, None)
    return await aconsume(user, Kind.PLAN)


def plan_allowance(user, builder: PlanBuilder) -> Allowance | None:
    """What the session page says before the learner clicks; None when nothing is counted."""
    if not uses_model(builder):
        return None
    left = allowance(user, Kind.PLAN)
    return None if left.unlimited else left
