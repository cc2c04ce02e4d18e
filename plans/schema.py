"""The plan format (SPEC §3) and the one function every incoming plan goes through.

    [{"order_index": 1, "title": "Limits", "subtopics": ["Epsilon-delta definition"]}, ...]

`normalize_plan` repairs what can be repaired without guessing (whitespace, empty entries,
duplicate titles, numbering, bare-string topics) and rejects the rest with every reason at
once, each tied to the topic/subtopic it concerns so a form can show it beside the field.
"""

import re
from dataclasses import dataclass
from typing import Any

from studyplanner.text import strip_unstorable

MAX_TOPICS = 60
MAX_SUBTOPICS = 30
MAX_TEXT_LENGTH = 200

Plan = list[dict[str, Any]]

_WHITESPACE = re.compile(r"\s+")
# Control characters that aren't whitespace (PostgreSQL's jsonb refuses a NUL outright).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")


@dataclass(frozen=True)
class PlanProblem:
    message: str
    topic: int | None = None  # 1-based position in the input list
    subtopic: int | None = None  # 1-based position within that topic's subtopics

    def __str__(self) -> str:
        where = ""
        if self.topic is not None:
            where = f"Topic {self.topic}"
            if self.subtopic is not None:
                where += f", subtopic {self.subtopic}"
            where += ": "
        return where + self.message


class PlanValidationError(ValueError):
    def __init__(self, problems: list[PlanProblem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))

    @property
    def messages(self) -> list[str]:
        return [str(p) for p in self.problems]


def _clean_text(value: str) -> str:
    """Whitespace collapsed; NULs, other control characters and lone surrogates (which the
    database can't store and a model may emit) removed, so every source of plans gets the
    same repair."""
    return _WHITESPACE.sub(" ", _CONTROL.sub("", strip_unstorable(value))).strip()


def _topic_parts(raw: Any, position: int, problems: list[PlanProblem]):
    """(title, subtopics) of one input topic, or None when it can't be read."""
    if isinstance(raw, str):
        return raw, []  # a bare title is a topic without subtopics
    if not isinstance(raw, dict):
        problems.append(PlanProblem(f"must be an object with a title, not {_kind(raw)}", position))
        return None
    title = raw.get("title", "")
    if title is None:
        title = ""
    if not isinstance(title, str):
        problems.append(PlanProblem(f"the title must be text, not {_kind(title)}", position))
        return None
    subtopics = raw.get("subtopics", [])
    if subtopics is None:
        subtopics = []
    if not isinstance(subtopics, list):
        problems.append(PlanProblem(f"subtopics must be a list, not {_kind(subtopics)}", position))
        return None
    return title, subtopics


def _kind(value: Any) -> str:
    return {
        type(None): "null",
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def normalize_plan(raw: Any) -> Plan:
    """Validate and normalise a plan; raise PlanValidationError listing every problem
    (see `_normalize`)."""
    plan, _ = _normalize(raw, cut_to_bounds=False)
    return plan


def normalize_plan_within_bounds(raw: Any) -> tuple[Plan, list[str]]:
    """`normalize_plan`, except that a plan over the size bounds is cut to them instead of
    rejected; returns the plan and what was left out ("Title" for a topic, "Title: sub"
    for a subtopic), so the caller can say so (SPEC §5: nothing is dropped silently)."""
    return _normalize(raw, cut_to_bounds=True)


def _normalize(raw: Any, *, cut_to_bounds: bool) -> tuple[Plan, list[str]]:
    """Validate and normalise a plan; raise PlanValidationError listing every problem.

    Repairs: trims and collapses whitespace, drops empty subtopics and topics that are
    entirely empty, merges topics whose titles differ only in case (subtopics combined,
    first position kept), drops repeated subtopics, renumbers order_index from 1 in list
    order, ignores unknown keys. Rejects: a non-list, topics or subtopics that aren't text,
    a topic with subtopics but no title, and anything over the size bounds.
    """
    if not isinstance(raw, list):
        raise PlanValidationError(
            [PlanProblem(f"The plan must be a list of topics, not {_kind(raw)}.")]
        )

    problems: list[PlanProblem] = []
    topics: list[dict[str, Any]] = []
    by_title: dict[str, dict[str, Any]] = {}

    for position, raw_topic in enumerate(raw, start=1):
        parts = _topic_parts(raw_topic, position, problems)
        if parts is None:
            continue
        raw_title, raw_subtopics = parts
        title = _clean_text(raw_title)

        subtopics: list[str] = []
        for sub_position, raw_sub in enumerate(raw_subtopics, start=1):
            if raw_sub is None:
                continue
            if not isinstance(raw_sub, str):
                problems.append(
                    PlanProblem(f"must be text, not {_kind(raw_sub)}", position, sub_position)
                )
                continue
            sub = _clean_text(raw_sub)
            if not sub:
                continue
            if len(sub) > MAX_TEXT_LENGTH:
                problems.append(
                    PlanProblem(
                        f"is {len(sub)} characters long; the limit is {MAX_TEXT_LENGTH}",
                        position,
                        sub_position,
                    )
                )
                continue
            subtopics.append(sub)

        if not title:
            if subtopics:
                problems.append(PlanProblem("has subtopics but no title", position))
            continue
        if len(title) > MAX_TEXT_LENGTH:
            problems.append(
                PlanProblem(
                    f"the title is {len(title)} characters long; the limit is {MAX_TEXT_LENGTH}",
                    position,
                )
            )
            continue

        topic = by_title.get(title.casefold())
        if topic is None:
            topic = {"title": title, "subtopics": [], "_seen": set(), "_position": position}
            by_title[title.casefold()] = topic
            topics.append(topic)
        for sub in subtopics:
            if sub.casefold() not in topic["_seen"]:
                topic["_seen"].add(sub.casefold())
                topic["subtopics"].append(sub)

    dropped: list[str] = []
    if cut_to_bounds:
        dropped.extend(topic["title"] for topic in topics[MAX_TOPICS:])
        topics = topics[:MAX_TOPICS]
        for topic in topics:
            extra = topic["subtopics"][MAX_SUBTOPICS:]
            dropped.extend(f"{topic['title']}: {sub}" for sub in extra)
            topic["subtopics"] = topic["subtopics"][:MAX_SUBTOPICS]
    if len(topics) > MAX_TOPICS:
        problems.append(
            PlanProblem(f"The plan has {len(topics)} topics; the limit is {MAX_TOPICS}.")
        )
    for topic in topics:
        if len(topic["subtopics"]) > MAX_SUBTOPICS:
            problems.append(
                PlanProblem(
                    f"“{topic['title']}” has {len(topic['subtopics'])} subtopics; "
                    f"the limit is {MAX_SUBTOPICS}",
                    topic["_position"],
                )
            )
    if problems:
        raise PlanValidationError(problems)

    plan = [
        {"order_index": index, "title": topic["title"], "subtopics": topic["subtopics"]}
        for index, topic in enumerate(topics, start=1)
    ]
    return plan, dropped


def preview_plan(raw: Any) -> Plan:
    """The well-formed part of a plan that is still being written, for live display.

    Keeps topics that already have a title and the subtopics that are complete text,
    merged and cut to the size bounds so that it never raises. What is eventually saved
    still goes through `normalize_plan` whole.
    """
    if not isinstance(raw, list):
        return []
    topics: dict[str, dict[str, Any]] = {}
    for item in raw:
        if isinstance(item, str):
            item = {"title": item}
        if not isinstance(item, dict) or not isinstance(item.get("title"), str):
            continue
        title = _clean_text(item["title"])[:MAX_TEXT_LENGTH]
        if not title:
            continue
        if title.casefold() not in topics:
            if len(topics) == MAX_TOPICS:
                continue
            topics[title.casefold()] = {"title": title, "subtopics": {}}
        subtopics = topics[title.casefold()]["subtopics"]
        raw_subtopics = item.get("subtopics")
        for sub in raw_subtopics if isinstance(raw_subtopics, list) else []:
            if not isinstance(sub, str) or len(subtopics) == MAX_SUBTOPICS:
                continue
            if sub := _clean_text(sub)[:MAX_TEXT_LENGTH]:
                subtopics.setdefault(sub.casefold(), sub)
    return normalize_plan(
        [{"title": t["title"], "subtopics": list(t["subtopics"].values())} for t in topics.values()]
    )
