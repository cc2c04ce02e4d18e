"""The quota hook of the AI path (SPEC §16).

`_charge_question_quota` is THE call site: `questions.answering` calls it once per question,
right before the model is called, and never on the offline path. The quotas helper (issue 15)
replaces its body with the real check-and-decrement; it should raise `QuotaRefused` with a
message a learner can read when the quota is spent (the answer then ends with an `error`
event and no model call is made). Today it allows everything.
"""


class QuotaRefused(Exception):
    """The learner's AI questions are spent; the message is shown to them as it is."""


def _charge_question_quota(user) -> None:
    """Check and count one AI-answered question for `user` (synchronous, a database block).

    Currently a no-op: no quota is enforced until the quotas app plugs in here.
    """
    return None
