"""The questions side of the daily AI quota (SPEC §16): only answers the model writes count.

The ask view takes the unit before the response starts (`acharge`: a 429 when none is left);
`answer_question` gives it back when the model is not asked after all (no passage found) or
failed before it wrote anything.
"""

from quotas.service import Grant, Kind, QuotaExceeded, aconsume, allowance


async def acharge(user, *, uses_model: bool) -> Grant:
    """One of today's AI answers for `user` (QuotaExceeded when none is left); an offline
    answer takes nothing."""
    if not uses_model:
        return Grant(user.pk, Kind.QUESTION, None)
    return await aconsume(user, Kind.QUESTION)


def spent_message(user, *, uses_model: bool) -> str | None:
    """The refusal the ask box shows at once when today's AI answers are spent, or None."""
    if not uses_model:
        return None
    left = allowance(user, Kind.QUESTION)
    if left.unlimited or left.left:
        return None
    return QuotaExceeded(Kind.QUESTION, left.limit, left.used, left.resets_in).message
