"""Headings of a PDF without bookmarks, found from its page layout (issue 13).

pypdf calls a visitor with every run of text it extracts, with the font and the matrices
that place it; from those `LayoutLines` rebuilds each line's text, size (the font size as
printed, matrices applied) and weight. `headings_from_layout` then takes the body text's
size as the one most characters have, and calls a line a heading when it stands alone in
a larger size, or in bold with a section number ("2.3 Title"). Running heads and feet
(the same line on many pages), table-of-contents lines ("Related work 3", dotted leaders)
and lines that read like prose are left out. Each size and weight of heading is a level,
the largest first — the same shape as bookmarks: [{"level", "title", "page"}], each
entry marked `"source": "layout"` (a slide deck's layout says less than its slides do).
"""

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

# A heading is at least this much larger than the body text (LaTeX's \subsection is 1.2×).
LARGER = 1.12
# Bold at the body size counts when numbered, and a little smaller still (bold fonts are
# set a hair smaller in some templates).
BOLD_AT_LEAST = 0.95
MAX_HEADING_CHARS = 120
MAX_HEADING_WORDS = 14
# A line on at least this many pages (and a tenth of them) is a running head or foot.
RUNNING_PAGES = 3
# A level of headings with no numbered one, in a document whose headings are numbered,
# is a title page's authors and dates, not a level.
MIN_NUMBERED = 3

_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi|[-,+]bd?\b|cmbx|sfbx|cmb\d", re.I)
_NUMBERED = re.compile(r"(?:\d{1,2}(?:\.\d{1,2}){0,3}\.?|[A-Z]\.)\s+\S")
_NUMBER = re.compile(r"\d{1,2}(?:\.\d{1,2}){0,3}(?=\.?\s)")
# "Chapter 1" alone on its line, the chapter's title below it (LaTeX's report and book).
_DIVISION_LABEL = re.compile(
    r"(?i:chapter|appendix|part|lecture|lesson|unit|module|kapitel|anhang|teil|vorlesung|"
    r"chapitre|annexe|partie|capítulo|apéndice|parte|capitolo|appendice|hoofdstuk)"
    r"\s+(?:\d{1,3}|[IVXLC]{1,7}|[A-Z])"
)
_TOC_END = re.compile(r"(?:\s*\.){3,}\s*\d{1,4}$|(?<=\D)\s+\d{1,4}$")
_LEADERS = re.compile(r"(?:\s*\.){3,}")
_SENTENCE_END = re.compile(r"[.,;:]$")
_DIGITS = re.compile(r"\d+")


@dataclass
class Line:
    page: int
    text: str = ""
    sizes: Counter = field(default_factory=Counter)  # (size, bold) → characters

    @property
    def style(self) -> tuple[float, bool]:
        """The size most of the line's characters have, and whether at least half of
        those are bold ("4 Using camlidl" sets its name in a typewriter face)."""
        by_size: Counter = Counter()
        for (size, _), chars in self.sizes.items():
            by_size[size] += chars
        size = by_size.most_common(1)[0][0]
        bold = self.sizes[(size, True)]
        return size, bold > 0 and 2 * bold >= by_size[size]

    @property
    def uniform(self) -> bool:
        """Most of the line is in one size: a heading, not a large symbol in a sentence."""
        by_size: Counter = Counter()
        for (size, _), chars in self.sizes.items():
            by_size[size] += chars
        total = sum(by_size.values())
        return total > 0 and by_size.most_common(1)[0][1] >= 0.8 * total


class LayoutLines:
    """A pypdf `visitor_text` that keeps every extracted line with its size and weight."""

    def __init__(self) -> None:
        self.lines: list[Line] = []
        self.page = 0
        self._current = Line(0)
        self._bold_fonts: dict[int, bool] = {}

    def start_page(self, page: int) -> None:
        self._close()
        self.page = page
        self._current = Line(page)

    def finish(self) -> list[Line]:
        self._close()
        return self.lines

    def __call__(self, text, cm, tm, font, font_size) -> None:
        if not text:
            return
        try:
            scale = math.hypot(tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
            size = round(float(font_size) * scale, 1)
        except (TypeError, ValueError, IndexError):
            size = 0.0
        style = (size, self._is_bold(font))
        pieces = text.split("\n")
        for number, piece in enumerate(pieces):
            if number:
                self._close()
            if piece:
                self._current.text += piece
                self._current.sizes[style] += len(piece.strip())

    def _is_bold(self, font) -> bool:
        key = id(font)
        if key not in self._bold_fonts:
            name = ""
            try:
                if font is not None:
                    name = str(font.get("/BaseFont", ""))
            except (AttributeError, TypeError, ValueError):
                name = ""
            self._bold_fonts[key] = bool(_BOLD_FONT.search(name.split("+")[-1]))
        return self._bold_fonts[key]

    def _close(self) -> None:
        line = self._current
        if line.text.strip() and line.sizes:
            line.text = " ".join(line.text.split())
            self.lines.append(line)
        self._current = Line(self.page)


def headings_from_layout(lines: list[Line], clean=lambda text: text) -> list[dict]:
    """The headings among `lines`, as outline entries; [] when the layout shows none.

    `clean` normalises a title's text (the extraction's own `clean`).
    """
    body = _body_style(lines)
    if body is None:
        return []
    body_size = body[0]
    candidates = [line for line in lines if _is_heading(line, body_size)]
    candidates = _without_running_lines(candidates, lines)
    candidates = _joined(candidates, lines)
    candidates = _labels_joined(candidates)
    candidates = _without_toc_lines(candidates)
    numbered = [line for line in candidates if _numbered(line.text)]
    if len(numbered) >= MIN_NUMBERED:
        styles = {line.style for line in numbered}
        candidates = [line for line in candidates if line.style in styles]
    if not candidates:
        return []
    # Each size and weight is a level, the largest first; within one, "1.1" is below "1".
    kinds = sorted({_kind(line) for line in candidates}, key=lambda k: (-k[0], not k[1], k[2]))
    levels = {kind: level for level, kind in enumerate(kinds, start=1)}
    # What comes before the first heading of the top level is a title page's subtitle.
    first = next(i for i, line in enumerate(candidates) if levels[_kind(line)] == 1)
    return [
        {
            "level": levels[_kind(line)],
            "title": clean(line.text),
            "page": line.page + 1,
            "source": "layout",
        }
        for line in candidates[first:]
    ]


def _kind(line: Line) -> tuple[float, bool, int]:
    """A heading's size, weight and numbering depth ("2.3" is 2; "2", "Chapter 2" and no
    number are 1)."""
    size, bold = line.style
    match = _NUMBER.match(line.text)
    return size, bold, match.group().count(".") + 1 if match else 1


def _body_style(lines: list[Line]) -> tuple[float, bool] | None:
    counts: Counter = Counter()
    for line in lines:
        counts.update(line.sizes)
    if not counts:
        return None
    sizes: Counter = Counter()
    for (size, _), chars in counts.items():
        sizes[size] += chars
    size = sizes.most_common(1)[0][0]
    return (size, False) if size > 0 else None


def _is_heading(line: Line, body_size: float) -> bool:
    text = line.text
    if not (2 <= len(text) <= MAX_HEADING_CHARS) or len(text.split()) > MAX_HEADING_WORDS:
        return False
    if sum(ch.isalpha() for ch in text) < 2 or not line.uniform:
        return False
    first = next((ch for ch in text if ch.isalnum()), "")
    if not first or first.islower() or _LEADERS.search(text):
        return False
    size, bold = line.style
    numbered = bool(_NUMBERED.match(text))
    # A sentence is no heading, but a numbered heading in large type may end in a full
    # stop, as plain TeX sets them: "1. Greetings!."
    if _SENTENCE_END.search(text) and not (numbered and size >= body_size * LARGER):
        return False
    if size >= body_size * LARGER:
        return True
    return bold and size >= body_size * BOLD_AT_LEAST and numbered


def _without_running_lines(candidates: list[Line], lines: list[Line]) -> list[Line]:
    """Lines repeated on several pages (page numbers aside) are running heads or feet;
    "Chapter 1" and "Chapter 2" are not one line."""
    pages: defaultdict[str, set[int]] = defaultdict(set)
    for line in lines:
        pages[_running_key(line.text)].add(line.page)
    page_count = len({line.page for line in lines})
    needed = max(RUNNING_PAGES, page_count // 10)
    return [line for line in candidates if len(pages[_running_key(line.text)]) < needed]


def _running_key(text: str) -> str:
    """The line with its page numbers blurred, but not its section number: "1.4 Exercises"
    and "2.4 Exercises" are two headings; "Page 3" and "Page 4" one running foot."""
    text = text.casefold()
    if _DIVISION_LABEL.match(text):
        return text
    match = _NUMBER.match(text)
    start = match.end() if match else 0
    return text[:start] + _DIGITS.sub("#", text[start:])


def _joined(candidates: list[Line], lines: list[Line]) -> list[Line]:
    """A heading wrapped over two lines is one: "Application Program" + "Interface",
    "Using the library in a stdio-free" + "environment"."""
    chosen = {id(line) for line in candidates}
    joined: list[Line] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if id(line) not in chosen:
            continue
        heading = Line(line.page, line.text, Counter(line.sizes))
        while index < len(lines):
            following = lines[index]
            if (
                following.page != heading.page
                or following.style != heading.style
                or not following.uniform
                or _NUMBERED.match(following.text)
                or len(heading.text) + len(following.text) >= MAX_HEADING_CHARS
                or _SENTENCE_END.search(following.text)
            ):
                break
            heading.text = f"{heading.text} {following.text}"
            heading.sizes += following.sizes
            index += 1
        joined.append(heading)
    return joined


def _numbered(text: str) -> bool:
    return bool(_NUMBERED.match(text) or _DIVISION_LABEL.match(text))


def _labels_joined(candidates: list[Line]) -> list[Line]:
    """ "Chapter 1" over "Introduction" is one heading, "Chapter 1 Introduction", at the
    label's level."""
    joined: list[Line] = []
    for line in candidates:
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and previous.page == line.page
            and _DIVISION_LABEL.fullmatch(previous.text)
            and not _numbered(line.text)
        ):
            previous.text = f"{previous.text} {line.text}"
        else:
            joined.append(line)
    return joined


def _without_toc_lines(candidates: list[Line]) -> list[Line]:
    """A table of contents repeats the headings with page numbers: "Related work 3"."""
    texts = {line.text.casefold() for line in candidates}
    kept = []
    for line in candidates:
        match = _TOC_END.search(line.text)
        if match and line.text[: match.start()].strip().casefold() in texts:
            continue
        kept.append(line)
    return kept
