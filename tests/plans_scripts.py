"""Scripted model answers for plan-generation tests: the fake provider answers each fold
request with the plan scripted for the document named in its prompt."""

import json
import re

from tests.fakes import RecordedRequest, Reply

_DOCUMENT = re.compile(r'New document "([^"]+)"')

WEEK_PLANS = {
    "week1.md": [
        {
            "order_index": 1,
            "title": "Limits",
            "subtopics": ["Epsilon-delta definition", "One-sided limits"],
        },
    ],
    "week2.md": [
        {
            "order_index": 1,
            "title": "Limits",
            "subtopics": ["Epsilon-delta definition", "One-sided limits"],
        },
        {"order_index": 2, "title": "Derivatives", "subtopics": ["Product rule", "Chain rule"]},
    ],
    "week3.md": [
        {
            "order_index": 1,
            "title": "Limits",
            "subtopics": ["Epsilon-delta definition", "One-sided limits"],
        },
        {"order_index": 2, "title": "Derivatives", "subtopics": ["Product rule", "Chain rule"]},
        {"order_index": 3, "title": "Integrals", "subtopics": ["Riemann sums"]},
    ],
}


def plan_json(topics) -> str:
    return json.dumps({"topics": topics}, ensure_ascii=False)


def document_in(request: RecordedRequest) -> str | None:
    match = _DOCUMENT.search(request.user_prompt or "")
    return match.group(1) if match else None


class ScriptedPlans:
    """A responder: the plan for the document in the prompt, streamed as `stream_options` say."""

    def __init__(self, plans: dict[str, list] | None = None, **stream_options):
        self.plans = plans or WEEK_PLANS
        self.stream_options = {"chunk_size": 16, **stream_options}

    def __call__(self, request: RecordedRequest) -> Reply:
        name = document_in(request)
        if name not in self.plans:
            return Reply.error(400, message=f"unexpected prompt for {name!r}")
        return Reply.answer(request, plan_json(self.plans[name]), **self.stream_options)
