"""The AI builder: any OpenAI-compatible chat API folds each document into the plan.

For each document (cut into sections that fit PLAN_MAX_INPUT_TOKENS) the model streams
the complete updated plan as JSON. The growing answer is parsed with jiter's partial mode,
so topics appear while the model writes. The final answer is recovered from code fences or
prose if need be, validated by `normalize_plan`, and an unusable answer gets exactly one
repair request before the run fails with a clear message.
"""

import asyncio
import contextlib
import json
import math
import re
import time
from collections.abc import AsyncIterator

import jiter
from django.conf import settings

from ai import AIError, AIOutputTruncatedError, get_client
from plans.builders.base import FoldStep, PlanGenerationError, SourceDocument, Usage
from plans.builders.preview import LivePreview
from plans.prompts import PLAN_RESPONSE_FORMAT, SYSTEM_PROMPT, fold_prompt, repair_prompt
from plans.schema import (
    Plan,
    PlanValidationError,
    normalize_plan,
    normalize_plan_within_bounds,
    preview_plan,
)

CHARS_PER_TOKEN = 4  # a deliberately cautious estimate for prose in most languages
# Each answer is the whole plan again: room for twice the current plan plus what's new,
# within what common models allow.
MIN_OUTPUT_TOKENS = 4096
MAX_OUTPUT_TOKENS = 16384
MIN_SECTION_CHARS = 4000
# A mid-stream failure after content was shown re-runs that section, this many times.
SECTION_RERUNS = 1
# The live preview is made at most this often (seconds): studyplanner.sse.paced sends
# progress at most every 0.1 s, so previews made more often would be thrown away.
PREVIEW_INTERVAL = 0.1

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.S)
_HEADING_START = re.compile(r"\n(?=#{1,6} |\d+(?:\.\d+)*\.? +\S|[A-Z][a-z]+ \d+[:.] )")


class PlanOutputError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


# --- reading the model's answer -----------------------------------------------------------


def _unwrap(value) -> object:
    if isinstance(value, dict):
        for key in ("topics", "plan", "study_plan"):
            if key in value:
                return value[key]
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
    return value


def extract_plan_json(text: str) -> object:
    """The plan inside an answer: bare JSON, fenced JSON, or JSON inside prose."""
    text = text.strip().lstrip("\ufeff")
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        candidate = candidate.strip()
        try:
            return _unwrap(json.loads(candidate))
        except ValueError:
            pass
        for start, char in enumerate(candidate):
            if char in "[{":
                try:
                    value, _ = decoder.raw_decode(candidate, start)
                except ValueError:
                    continue
                value = _unwrap(value)
                if isinstance(value, list):
                    return value
    raise PlanOutputError(["The answer contained no JSON plan."])


def parse_plan_output(text: str) -> Plan:
    try:
        return normalize_plan(extract_plan_json(text))
    except PlanValidationError as invalid:
        raise PlanOutputError(invalid.messages) from None


BOUNDS_ADVICE = (
    "The plan is over the limits. Merge related topics (and related subtopics) into broader "
    "ones so that everything fits within the limits; do not leave material out."
)


def parse_plan_output_within_bounds(text: str) -> tuple[Plan, list[str]]:
    """The answer's plan, cut to the size bounds if the model still went over them (after
    being asked to merge), with the titles that were cut."""
    try:
        return normalize_plan_within_bounds(extract_plan_json(text))
    except PlanValidationError as invalid:
        raise PlanOutputError(invalid.messages) from None


def preview_from_partial(text: str) -> Plan:
    """The topics complete so far in an answer that is still arriving."""
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return []
    try:
        value = jiter.from_json(text[start:].encode(), partial_mode=True)
    except ValueError:
        return []
    return preview_plan(_unwrap(value))


def merge_preview(written: Plan, previous: Plan) -> Plan:
    """What to show while the model rewrites the plan: the topics it has written so far,
    then the previous plan's topics it hasn't reached yet (so the plan never shrinks).

    A topic the model is still writing keeps the saved subtopics it hasn't repeated yet:
    the live view never shows a saved topic with fewer subtopics than it had. Only the
    final answer may really remove some (it is what gets saved).
    """
    saved = {topic["title"].casefold(): topic["subtopics"] for topic in previous}
    seen = set()
    shown = []
    for topic in written:
        key = topic["title"].casefold()
        seen.add(key)
        if key in saved:
            have = {s.casefold() for s in topic["subtopics"]}
            kept = [s for s in saved[key] if s.casefold() not in have]
            topic = {**topic, "subtopics": [*topic["subtopics"], *kept]}
        shown.append(topic)
    rest = [t for t in previous if t["title"].casefold() not in seen]
    return preview_plan(shown + rest)


def _with_bounds_advice(problems: list[str]) -> list[str]:
    if any("the limit is" in p and ("topics" in p or "subtopics" in p) for p in problems):
        return [*problems, BOUNDS_ADVICE]
    return problems


# --- long documents -------------------------------------------------------------------------


def split_into_sections(text: str, max_chars: int) -> list[str]:
    """Cut `text` into pieces of at most `max_chars`, preferring headings, then page
    breaks, then paragraph breaks, then line ends, then spaces — never mid-word."""
    sections = []
    rest = text.strip()
    while len(rest) > max_chars:
        window = rest[: max_chars + 1]
        cut = -1
        for boundary in (
            _HEADING_START,
            re.compile("\f"),
            re.compile(r"\n\s*\n"),
            re.compile("\n"),
            re.compile(r"\s"),
        ):
            positions = [
                m.start() for m in boundary.finditer(window) if m.start() >= max_chars // 3
            ]
            if positions:
                cut = positions[-1]
                break
        if cut <= 0:
            cut = max_chars  # one unbroken word longer than a section: nothing better exists
        sections.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        sections.append(rest)
    return sections or [""]


# --- the builder ----------------------------------------------------------------------------


class OpenRouterBuilder:
    name = "openrouter"

    def __init__(
        self, *, client=None, model: str | None = None, max_input_tokens: int | None = None
    ):
        self.client = client or get_client()
        self.model = model or settings.MODEL_PLAN
        self.max_input_tokens = max_input_tokens or settings.PLAN_MAX_INPUT_TOKENS
        self.usage = Usage()

    def _options(self, plan: Plan) -> dict:
        plan_tokens = len(json.dumps(plan, ensure_ascii=False)) // CHARS_PER_TOKEN
        options = {
            "model": self.model,
            "response_format": PLAN_RESPONSE_FORMAT,
            "max_tokens": min(MAX_OUTPUT_TOKENS, MIN_OUTPUT_TOKENS + 2 * plan_tokens),
        }
        if "openrouter.ai" in settings.OPENROUTER_BASE_URL:
            # Only route to providers that honour the JSON schema.
            options["extra_body"] = {"provider": {"require_parameters": True}}
        return options

    def _section_budget(self, plan: Plan) -> int:
        budget = self.max_input_tokens * CHARS_PER_TOKEN
        overhead = len(SYSTEM_PROMPT) + len(json.dumps(plan, ensure_ascii=False)) + 1000
        growth = budget // 10  # the plan grows from one section to the next
        return max(MIN_SECTION_CHARS, budget - overhead - growth)

    async def fold(
        self, plan: Plan, document: SourceDocument, *, language: str
    ) -> AsyncIterator[FoldStep]:
        sections = split_into_sections(document.text, self._section_budget(plan))
        dropped: list[str] = []
        for number, section in enumerate(sections, start=1):
            prompt = fold_prompt(
                plan, document.name, section, language=language, part=number, parts=len(sections)
            )
            async for step in self._fold_section(plan, prompt, number, len(sections)):
                if step.final:
                    plan = step.plan
                    dropped.extend(step.dropped)
                else:
                    yield step
        yield FoldStep(
            plan,
            final=True,
            done=1.0,
            section=len(sections),
            sections=len(sections),
            dropped=tuple(dropped),
        )

    async def _fold_section(self, plan: Plan, prompt: str, section: int, sections: int):
        expected_chars = max(1200, int(len(json.dumps(plan, ensure_ascii=False)) * 1.2) + 400)
        attempt_prompt, repaired = prompt, False
        while True:
            answer = ""
            try:
                async for answer, preview in self._stream_answer(attempt_prompt, plan):
                    if preview is not None:
                        # Smooth whatever the answer's real length: an estimate that is too
                        # short no longer pins the bar at 95 % for most of the document.
                        done = min(0.95, 1 - math.exp(-len(answer) / expected_chars))
                        yield FoldStep(preview, done=done, section=section, sections=sections)
                if repaired:
                    # Asked once to merge: what is still over the bounds is cut, and said.
                    result, dropped = parse_plan_output_within_bounds(answer)
                else:
                    result, dropped = parse_plan_output(answer), []
                yield FoldStep(
                    result, final=True, section=section, sections=sections, dropped=tuple(dropped)
                )
                return
            except (PlanOutputError, AIOutputTruncatedError) as unusable:
                if repaired:
                    raise PlanGenerationError(
                        "The AI model's answer could not be turned into a study plan, even after "
                        "asking it to correct itself. Try again, or choose another model.",
                        retryable=True,
                    ) from unusable
                problems = (
                    _with_bounds_advice(unusable.problems)
                    if isinstance(unusable, PlanOutputError)
                    else [
                        "The answer was cut off at the output limit before the plan was "
                        "complete. Write the whole plan again, keeping every existing topic and "
                        "subtopic; keep new subtopics short."
                    ]
                )
                attempt_prompt, repaired = repair_prompt(prompt, answer, problems), True

    async def _stream_answer(self, prompt: str, plan: Plan):
        """Yield (answer so far, visible plan) whenever the visible plan changes, and last
        (whole answer, None).

        The answer is read piece by piece into a `LivePreview` (linear in the answer), and
        a preview is made at most once per PREVIEW_INTERVAL: at once if none was made for
        that long, else when the interval is over — even if no piece arrives meanwhile.

        A retryable failure after some of the answer arrived re-runs the request (the client
        itself only retries before the first token).
        """
        for rerun in range(SECTION_RERUNS + 1):
            # What the learner sees already: the plan before this answer.
            live = LivePreview(plan)
            shown = live.preview()
            stream = self.client.stream(SYSTEM_PROMPT, prompt, **self._options(plan))
            reader = _AnswerReader(stream, live)
            try:
                while await reader.preview_due():
                    preview = live.preview()
                    reader.due = time.monotonic() + PREVIEW_INTERVAL
                    if preview != shown:
                        shown = preview
                        yield reader.text, preview
            except AIError as error:
                if not (error.retryable and reader.text and rerun < SECTION_RERUNS):
                    raise
                continue
            finally:
                await reader.aclose()
                if stream.completion is not None:
                    c = stream.completion
                    self.usage.add(c.prompt_tokens, c.completion_tokens, c.cost, c.model)
            yield reader.text, None
            return


class _AnswerReader:
    """Reads one streamed answer in a task of its own (one per answer, not per piece),
    feeding each piece to the LivePreview, and wakes the builder only when a preview is due
    or the answer is over: the builder's loop turns once per preview, not once per piece,
    and can wait for a due time without cancelling a read. The task closes the stream."""

    def __init__(self, stream, live: LivePreview):
        self._parts: list[str] = []  # the answer so far (joined when asked for)
        self.due = 0.0  # no preview before this time.monotonic()
        self._stream, self._live = stream, live
        self._end: BaseException | None = None  # what the stream raised, or its end
        self._waiter: asyncio.Future | None = None
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            async for piece in self._stream:
                self._parts.append(piece)
                was_dirty = self._live.dirty
                self._live.feed(piece)
                # Wake the builder when a preview is due, or when one becomes pending (so
                # that it sets a timer for when it is due).
                if self._live.dirty and (not was_dirty or time.monotonic() >= self.due):
                    self._wake()
            self._end = StopAsyncIteration()
        except Exception as error:
            self._end = error
        finally:
            self._wake()
            await self._stream.aclose()

    @property
    def text(self) -> str:
        """The answer so far."""
        if len(self._parts) > 1:
            self._parts[:] = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def preview_due(self) -> bool:
        """Wait until a preview is due (True) or the answer is complete (False); raise
        what the stream raised."""
        loop = asyncio.get_running_loop()
        while True:
            wait = None
            if self._live.dirty:
                wait = self.due - time.monotonic()
                if wait <= 0:
                    return True
            if isinstance(self._end, StopAsyncIteration):
                return False  # a pending preview: the whole answer comes next anyway
            if self._end is not None:
                raise self._end
            self._waiter = loop.create_future()
            timer = loop.call_later(wait, self._wake) if wait is not None else None
            try:
                await self._waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()

    async def aclose(self) -> None:
        if not self._task.done():
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
