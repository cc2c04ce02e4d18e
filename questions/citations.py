"""Citation markers in an answer: `[n]` refers to source n of the `sources` event.

A model may cite a source that was never sent ("[7]" of five) or write several at once
("[1, 3]"). `MarkerFilter` cleans the answer while it streams, so no token ever shows a
marker that points nowhere: valid numbers are kept (one marker each, "[1][3]"), the rest are
removed, and everything else passes through unchanged.
"""

from __future__ import annotations

import re

_MARKER = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")
_MARKER_PREFIX = re.compile(r"\[[\d,;\s]{0,24}")


class MarkerFilter:
    """Feed the answer piece by piece; get back what may be shown so far."""

    def __init__(self, valid: set[int]):
        self.valid = valid
        self.pending = ""  # a "[" and what followed it, while it may still be a marker

    def feed(self, piece: str) -> str:
        out = []
        text = self.pending + piece
        self.pending = ""
        i = 0
        while i < len(text):
            bracket = text.find("[", i)
            if bracket < 0:
                out.append(text[i:])
                break
            out.append(text[i:bracket])
            match = _MARKER.match(text, bracket)
            if match:
                out.append(self._rewrite(match.group(1)))
                i = match.end()
                continue
            prefix = _MARKER_PREFIX.match(text, bracket)
            if prefix.end() == len(text):  # "[1, " so far: wait for the rest
                self.pending = text[bracket:]
                break
            out.append("[")
            i = bracket + 1
        return "".join(out)

    def flush(self) -> str:
        rest, self.pending = self.pending, ""
        return rest

    def _rewrite(self, numbers: str) -> str:
        kept = [int(n) for n in re.split(r"\s*[,;]\s*", numbers) if int(n) in self.valid]
        return "".join(f"[{n}]" for n in dict.fromkeys(kept))


def clean_answer(text: str, valid: set[int]) -> str:
    """The whole answer with its markers cleaned (the same as streaming it through)."""
    markers = MarkerFilter(valid)
    return markers.feed(text) + markers.flush()


def cited_numbers(text: str) -> list[int]:
    """The source numbers a cleaned answer cites, in order of first appearance."""
    return list(dict.fromkeys(int(n) for n in re.findall(r"\[(\d{1,3})\]", text)))
