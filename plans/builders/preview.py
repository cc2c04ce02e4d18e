"""The live preview of an answer that is still arriving, in time linear in the answer.

The model streams the whole plan as JSON in small pieces (a real model sends ~4 characters
at a time). Re-parsing the whole answer at each piece costs O(answer) per piece — O(answer²)
per answer (480 ms of event-loop CPU for a 40-topic plan). `LivePreview` instead reads each
piece once with a small scanner that knows where the topics array's elements begin and end:
a finished topic is parsed once (`json.loads` of its own text) and kept; only the topic still
being written is parsed again (jiter's partial mode), and only when a preview is asked for.
`dirty` says whether anything that can change the preview (a string or a topic closing)
arrived since the last one.

It shows what `merge_preview(preview_from_partial(answer), previous)` would show for the
answers models give — a bare list, `{"topics": [...]}` (or "plan"/"study_plan", or an object
whose one list is the plan), fenced or after prose — which tests/test_live_preview_linear.py
checks piece by piece. The saved plan never comes from here: the final answer is parsed whole.
"""

import contextlib
import json
import re

import jiter

from plans.schema import MAX_SUBTOPICS, MAX_TEXT_LENGTH, MAX_TOPICS, Plan, _clean_text, preview_plan

_ROOT_START = re.compile(r"[\[{]")
_IN_STRING = re.compile(r'["\\]')
_OUTSIDE_STRING = re.compile(r'["\[\]{},:]')
_KEY_BEFORE = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*$')
_PLAN_KEYS = ("topics", "plan", "study_plan")
_TAIL = 80  # characters kept to read the key in front of a list in the root object


class LivePreview:
    """Feed it the pieces of one answer; ask for `preview()` when one is due."""

    def __init__(self, previous: Plan):
        # The plan before this answer (a saved, normalised plan), as `merge_preview` reads it.
        self._previous = [(t["title"].casefold(), t) for t in preview_plan(previous)]
        self._saved = {key: t["subtopics"] for key, t in self._previous}
        self._written: dict[str, tuple[str, dict[str, str]]] = {}  # finished topics, merged
        self._shown: dict[str, tuple[str, list[str]]] = {}  # their merged form, cached
        self.dirty = False
        self._started = False  # the root value (first `{` or `[`) has begun
        self._finished = False  # the plan's list has been closed: nothing more to read
        self._stack: list[str] = []  # containers open (outside strings)
        self._in_string = False
        self._escaped = False
        self._key_next = False  # in an object, the next string is a key
        self._in_key = False  # the open string is a key
        self._tail = ""  # the answer's last characters, for _KEY_BEFORE
        self._array_depth: int | None = None  # len(_stack) inside the plan's list
        self._array_known = False  # the list's key is one of _PLAN_KEYS (or it is the root)
        self._element: list[str] | None = None  # text of the topic being written
        self._element_is_string = False

    def feed(self, piece: str) -> None:
        if self._finished or not piece:
            return
        tail, i, n = self._tail, 0, len(piece)
        if not self._started:
            found = _ROOT_START.search(piece)
            if found is None:
                self._tail = (tail + piece)[-_TAIL:]
                return
            i = found.start()
        segment = i if self._element is not None else None  # where this piece's part begins
        while i < n:
            if self._escaped:
                self._escaped = False
                i += 1
                continue
            found = (_IN_STRING if self._in_string else _OUTSIDE_STRING).search(piece, i)
            if found is None:
                break
            i = found.start()
            char = piece[i]
            if self._in_string:
                if char == "\\":
                    self._escaped = True
                else:
                    self._in_string = False
                    if self._element is not None and not self._in_key:
                        self.dirty = True  # a title or subtopic is complete
                        if self._element_is_string and len(self._stack) == self._array_depth:
                            self._finish_element(piece, segment, i)
                            segment = None
                i += 1
                continue
            depth = len(self._stack)
            at_array_level = self._array_depth is not None and depth == self._array_depth
            if char == '"':
                self._in_string, self._in_key = True, self._key_next
                if at_array_level and self._element is None:
                    self._element, self._element_is_string, segment = [], True, i
            elif char == ":":
                self._key_next = False
            elif char == ",":
                self._key_next = bool(self._stack) and self._stack[-1] == "{"
            elif char in "[{":
                self._key_next = char == "{"
                if not self._started:
                    self._started = True
                    if char == "[":
                        self._array_depth, self._array_known = 1, True
                elif at_array_level and self._element is None:
                    self._element, self._element_is_string, segment = [], False, i
                elif char == "[" and depth == 1 and self._stack[0] == "{":
                    key = _KEY_BEFORE.search(tail + piece[:i])
                    known = key is not None and key.group(1) in _PLAN_KEYS
                    if known or (self._array_depth is None and not self._array_known):
                        # `_unwrap`: a known key wins; otherwise the object's list.
                        self._array_depth, self._array_known = 2, known
                        if self._written:
                            self.dirty = True  # the topics read so far weren't the plan
                        self._written, self._shown, self._element = {}, {}, None
                self._stack.append(char)
            else:  # "]" or "}"
                if self._stack:
                    self._stack.pop()
                self._key_next = False
                depth = len(self._stack)
                if self._element is not None and depth == self._array_depth:
                    self._finish_element(piece, segment, i)
                    segment = None
                elif self._array_depth is not None and depth == self._array_depth - 1:
                    # The plan's list is closed.
                    if self._array_known:
                        self._finished = True
                        break
                    self._array_depth = None
                if not self._stack:
                    self._finished = True  # the root value is complete
                    break
            i += 1
        if self._element is not None and segment is not None:
            self._element.append(piece[segment:])
        self._tail = (tail + piece)[-_TAIL:]

    def _finish_element(self, piece: str, segment: int | None, end: int) -> None:
        text = "".join(self._element or ()) + piece[segment or 0 : end + 1]
        self._element = None
        try:
            topic = json.loads(text)
        except ValueError:
            return
        read = _read_topic(topic)
        if read is not None:
            key = _add(self._written, *read)
            self._shown.pop(key, None)

    def preview(self) -> Plan:
        """What to show now: the finished topics, the one being written, then the previous
        plan's topics not reached yet — `merge_preview(preview_plan(written), previous)`,
        with the finished topics' part computed once."""
        self.dirty = False
        current = None
        if self._element:
            text = "".join(self._element)
            self._element[:] = [text]
            with contextlib.suppress(ValueError):
                current = _read_topic(jiter.from_json(text.encode(), partial_mode=True))
        written, changed = self._written, None
        if current is not None:
            key = current[0].casefold()
            if key in written or len(written) < MAX_TOPICS:
                title, subtopics = written.get(key, (current[0], {}))
                written = {**written, key: (title, dict(subtopics))}
                changed = _add(written, *current)
        shown = []
        for key, (title, subtopics) in written.items():
            if key == changed or key not in self._shown:
                merged = self._merged(key, title, subtopics)
                if key == changed:
                    shown.append(merged)
                    continue
                self._shown[key] = merged
            shown.append(self._shown[key])
        shown.extend(
            (t["title"], t["subtopics"]) for key, t in self._previous if key not in written
        )
        return [
            {"order_index": n, "title": title, "subtopics": list(subtopics)}
            for n, (title, subtopics) in enumerate(shown[:MAX_TOPICS], start=1)
        ]

    def _merged(self, key: str, title: str, subtopics: dict[str, str]) -> tuple[str, list[str]]:
        """A written topic plus the saved subtopics it hasn't repeated yet (`merge_preview`)."""
        merged = list(subtopics.values())
        for sub in self._saved.get(key, ()):
            if sub.casefold() not in subtopics:
                merged.append(sub)
        return title, merged[:MAX_SUBTOPICS]


def _read_topic(item) -> tuple[str, list[str]] | None:
    """(title, subtopics) of one written topic as `preview_plan` reads it, or None."""
    if isinstance(item, str):
        item = {"title": item}
    if not isinstance(item, dict) or not isinstance(item.get("title"), str):
        return None
    title = _clean_text(item["title"])[:MAX_TEXT_LENGTH]
    if not title:
        return None
    subtopics = item.get("subtopics")
    return title, subtopics if isinstance(subtopics, list) else []


def _add(written: dict, title: str, subtopics: list) -> str | None:
    """Merge one topic into `written` as `preview_plan` does; its key, or None if no room."""
    key = title.casefold()
    if key not in written:
        if len(written) == MAX_TOPICS:
            return None
        written[key] = (title, {})
    have = written[key][1]
    for sub in subtopics:
        if not isinstance(sub, str) or len(have) == MAX_SUBTOPICS:
            continue
        if sub := _clean_text(sub)[:MAX_TEXT_LENGTH]:
            have.setdefault(sub.casefold(), sub)
    return key
