"""A document's headings — from its outline or its text — arranged as topics and subtopics.

Part of the offline plan builder. The text comes as plans.builders.offline.readable's
`ReadableText`, with page numbers, running headers and footers and code already blanked.
Lines that look like headings but aren't — code, sentences, numbered list items, table
rows, tables of contents — are left out here.
"""

import re
from collections import Counter
from dataclasses import dataclass, field

from plans.builders.offline.readable import ReadableText, toc_pages
from plans.builders.offline.titles import (
    CONTAINER_WORDS,
    DIVISION_WORDS,
    KEYWORD_LINE,
    LABEL,
    PART_WORDS,
    clean_title,
    has_letters,
    is_date,
    is_junk,
    looks_like_code,
    reads_like_title,
)
from plans.schema import MAX_TEXT_LENGTH, MAX_TOPICS


@dataclass
class DocumentTopic:
    """One topic a document contributes, before it is merged into the plan."""

    title: str
    subtopics: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Heading:
    rank: float  # smaller is higher: 0 a part, 1 a chapter or "#", 2 a "##" or a lecture …
    title: str
    line: int  # position in the document, to interleave headings found by different rules
    numbered: bool = False  # "2 Title", "2. Title": a chapter (or section), never a part


# --- lines that are headings ----------------------------------------------------------

_NUMBERED = re.compile(r"(?P<number>\d{1,2}(?:\.\d{1,3}){0,4})(?P<dot>\.?)\s+(?P<rest>\S.*)$")
_ROMAN_NUMBERED = re.compile(r"(?P<number>[IVXLCDM]{1,7})\.\s+(?P<rest>\S.*)$")
_LETTERED = re.compile(r"(?P<number>[A-Z])[.)]\s+(?P<rest>\S.*)$")
_ROMAN = re.compile(r"M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})")
_ATX = re.compile(r" {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r" {0,3}(={2,}|-{2,})[ \t]*$")
_BULLET = re.compile(r"[-*+•▪◦·‣○●■□➢➤►✓]\s")


def _indent(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.lstrip().expandtabs(4))


def _next_to_code(lines: list[str], i: int) -> bool:
    """A "# comment" right next to code is a comment, not a heading."""
    return any(
        0 <= j < len(lines) and lines[j].strip() and looks_like_code(lines[j])
        for j in (i - 1, i + 1)
    )


# --- headings in the text -------------------------------------------------------------


def text_headings(text: ReadableText) -> list[Heading]:
    """Markdown headings when there are some; else numbered and keyword headings."""
    # A "#" line in a PDF's text is not Markdown ("# of students").
    markdown = [] if text.paged else _markdown_headings(text)
    if len(markdown) >= 2:
        return markdown
    numbered = _without_toc_entries(_numbered_headings(text))
    if not numbered:
        return markdown
    # A lone "# Title" sits above the numbered headings.
    return sorted([Heading(-1, h.title, h.line) for h in markdown] + numbered, key=lambda h: h.line)


_PAGE_NUMBER_END = re.compile(r"(?<=\D)\s+\d{1,4}$")


def _toc_block(lines: list[str]) -> set[int]:
    """Lines of a table of contents printed amid other text (a paper's first page): runs
    of three or more lines that each end in a page number, with or without leaders."""
    ends = [bool(line) and bool(_PAGE_NUMBER_END.search(line.rstrip(" ."))) for line in lines]
    block: set[int] = set()
    run: list[int] = []
    for i, (line, ends_in_number) in enumerate([*zip(lines, ends, strict=True), ("", False)]):
        if ends_in_number:
            run.append(i)
        elif line or i == len(lines):  # blank lines don't break a run
            if len(run) >= 3:
                block.update(run)
            run = []
    return block


def _without_toc_entries(headings: list[Heading]) -> list[Heading]:
    """A table of contents repeats the headings with their page numbers ("Related work 3"
    before "Related work"): such entries are left out."""
    titles = {h.title.casefold() for h in headings}
    return [
        h
        for h in headings
        if not (
            (match := _PAGE_NUMBER_END.search(h.title))
            and h.title[: match.start()].casefold() in titles
        )
    ]


def outline_headings(outline: list[dict]) -> list[Heading]:
    entries = [
        (position, entry)
        for position, entry in enumerate(outline or [])
        if isinstance(entry, dict) and isinstance(entry.get("title"), str)
    ]
    labelled = _sequence_labels(entries)
    headings = []
    for position, entry in entries:
        level = entry.get("level")
        raw = " ".join(entry["title"].split())
        match = LABEL.match(raw)
        numbered = bool(match and match.group("label")[0].isdigit())
        if match and position in labelled:
            raw = raw[match.end() :]
        title = clean_title(raw)
        if has_letters(title):
            rank = level if isinstance(level, int) and not isinstance(level, bool) else 1
            headings.append(Heading(rank, title, position, numbered))
    return headings


def _sequence_labels(entries: list[tuple[int, dict]]) -> set[int]:
    """Positions of the entries whose leading "A", "B", "III" or "Appendix C" is a label.

    A letter or numeral in front of a title is a label when the entries of the same level
    count with it ("A A sample session", "B Invoking R"; "I Gnuplot", "II Plotting
    styles") or a word says so ("Appendix C", "Part II"); "A Complete Example" alone keeps
    its "A".
    """
    found: dict[object, list[tuple[int, int, int]]] = {}  # level → (position, letter, roman)
    explicit = set()
    for position, entry in entries:
        match = LABEL.match(" ".join(entry["title"].split()))
        if not match or match.group("label")[0].isdigit():
            continue
        label = match.group("label")
        if match.start("label") > 0:  # "Appendix C", "Part II"
            explicit.add(position)
        letter = ord(label) - ord("A") + 1 if len(label) == 1 else 0
        found.setdefault(entry.get("level"), []).append(
            (position, letter, _roman_value(label) or 0)
        )
    labelled = set(explicit)
    for items in found.values():
        letters = {letter for _, letter, _ in items if letter}
        romans = {roman for _, _, roman in items if roman}
        for position, letter, roman in items:
            if (letter and (letter - 1 in letters or letter + 1 in letters)) or (
                roman and (roman - 1 in romans or roman + 1 in romans)
            ):
                labelled.add(position)
    return labelled


def _markdown_headings(text: ReadableText) -> list[Heading]:
    lines = text.lines
    headings = []
    for i, line in enumerate(lines):
        if not line or (not text.paged and _indent(line) >= 4):
            continue
        stripped = line.strip()
        if len(stripped) > 2 * MAX_TEXT_LENGTH:  # a paragraph, whatever it starts with
            continue
        if stripped.startswith("#"):
            match = _ATX.fullmatch(line.lstrip())
            if match and len(match.group(2).split()) <= 30 and not _next_to_code(lines, i):
                title = clean_title(match.group(2))
                if has_letters(title):
                    headings.append(Heading(len(match.group(1)), title, i))
        elif (
            i + 1 < len(lines)
            and lines[i + 1][:4].lstrip()[:1] in ("=", "-")
            and (match := _SETEXT.fullmatch(lines[i + 1]))
            and (i == 0 or not lines[i - 1].strip())
            and not _BULLET.match(stripped)
            and "|" not in stripped
            and not stripped.startswith(">")
        ):
            title = clean_title(stripped)
            if not _ends_sentence(stripped) and reads_like_title(title, max_words=15):
                headings.append(Heading(1 if match.group(1)[0] == "=" else 2, title, i))
    return headings


class _Sequence:
    """One kind of numbering (1, 2, 3 or I, II or A, B). Headings go on; lists restart at 1."""

    def __init__(self, first: int | None):
        self.first = first  # the value a sequence must start with (None: any)
        self.reset()

    def reset(self) -> None:
        self.last: int | None = None
        self.style: str | None = None
        self.seen: set[tuple[int, str]] = set()
        self.rejected: tuple[int, int] | None = None  # last refused value and its line

    def accepts(self, value: int, style: str, title: str, line: int) -> bool:
        if (value, title.casefold()) in self.seen:  # a table of contents, then the text
            self.last = value
            return True
        continues_list = (
            self.rejected is not None
            and value == self.rejected[0] + 1
            and line - self.rejected[1] <= 12
        )
        if self.last is None:
            fits = self.first is None or value == self.first
        else:
            fits = self.last < value <= self.last + 3 and style == self.style
        if continues_list or not fits:
            self.rejected = (value, line)
            return False
        self.last, self.style = value, style
        self.seen.add((value, title.casefold()))
        return True


def _numbered_headings(text: ReadableText) -> list[Heading]:
    lines = text.lines
    toc = toc_pages(text)
    arabic, roman, lettered = _Sequence(None), _Sequence(1), _Sequence(1)
    lower_ranks = ((2.4, roman), (2.6, lettered), (3, arabic))
    headings: list[Heading] = []
    used_as_title = -1

    def accept(rank: float, title: str, line: int, numbered: bool = False) -> None:
        headings.append(Heading(rank, title, line, numbered))
        for sequence_rank, sequence in lower_ranks:
            if sequence_rank > rank:
                sequence.reset()

    toc_lines = _toc_block(lines)
    for i, line in enumerate(lines):
        if not line or i == used_as_title or text.page_of[i] in toc or i in toc_lines:
            continue
        if not text.paged and _indent(line) >= 4:
            continue
        stripped = line.strip()
        if len(stripped) > 150 or " | " in stripped or _BULLET.match(stripped):
            continue
        first = stripped[0]
        word = stripped.split(None, 1)[0].casefold()
        if (word in DIVISION_WORDS or word.startswith("§")) and (
            match := KEYWORD_LINE.match(stripped)
        ):
            keyword = match.group("word").casefold()
            # "section 4.9." in lower case at a line's start is a sentence going on.
            if keyword not in DIVISION_WORDS or match.group("word")[0].islower():
                continue
            number = match.group("number")
            if not number[0].isdigit() and not (
                (len(number) == 1 and number.isupper()) or _roman_value(number)
            ):
                continue
            rest = _without_page_number(match.group("rest"), i, text)
            if _ends_sentence(rest):
                continue
            if rest:
                title = clean_title(rest)
                # After "Lecture 3:" even a title in lower case is one.
                capitalised = title[:1].upper() + title[1:]
                if not reads_like_title(capitalised if match.group("separator") else title):
                    continue
            else:  # "Chapter 3" alone, its title on the next line
                title = f"{match.group('word')} {number}"
                following = _next_filled(lines, i, text.page_of)
                if following is not None:
                    candidate = clean_title(lines[following])
                    if reads_like_title(candidate, max_words=10) and not _starts_heading(
                        lines[following]
                    ):
                        title, used_as_title = candidate, following
            accept(_keyword_rank(keyword, number), title, i)
        elif first.isdigit() and (match := _NUMBERED.match(stripped)):
            parts = match.group("number").split(".")
            while len(parts) > 1 and parts[-1] == "0":  # "1.0 Introduction"
                parts.pop()
            rest = _without_page_number(match.group("rest"), i, text)
            title = clean_title(rest)
            if (
                is_date(stripped)
                or _ends_sentence(rest)
                or not reads_like_title(title)
                or not _starts_with_letter(title)
            ):
                continue
            if len(parts) == 1:
                style = "dot" if match.group("dot") else "plain"
                if arabic.accepts(int(parts[0]), style, title, i):
                    accept(3, title, i, numbered=True)
            else:
                accept(2 + len(parts), title, i, numbered=True)
        elif first in "IVXLCDM" and (match := _ROMAN_NUMBERED.match(stripped)):
            title = _list_title(match.group("rest"))
            value = _roman_value(match.group("number"))
            if value and title and roman.accepts(value, ".", title, i):
                accept(2.4, title, i)
            else:  # "C. Title" after "B. Title"
                _accept_lettered(stripped, i, lettered, accept)
        elif first.isupper() and len(stripped) > 3 and stripped[1] in ".)":
            _accept_lettered(stripped, i, lettered, accept)

    # One "A." or one "I." is an initial or a list, not a numbering scheme.
    for rank in (2.4, 2.6):
        if sum(h.rank == rank for h in headings) < 2:
            headings = [h for h in headings if h.rank != rank]
    return headings


def _without_page_number(rest: str, i: int, text: ReadableText) -> str:
    """A heading at the top or bottom of a page may carry its page number: "The rule 57"."""
    if i in text.edges:
        stripped = re.sub(r"(?<=\D)\s+\d{1,4}$", "", rest)
        if has_letters(stripped):
            return stripped
    return rest


def _accept_lettered(stripped: str, i: int, lettered: _Sequence, accept) -> None:
    match = _LETTERED.match(stripped)
    if not match:
        return
    title = _list_title(match.group("rest"))
    value = ord(match.group("number")) - ord("A") + 1
    if title and lettered.accepts(value, ".", title, i):
        accept(2.6, title, i)


def _list_title(rest: str) -> str | None:
    """The title after "IV." or "B.", unless the line reads like a sentence."""
    title = clean_title(rest)
    return title if not _ends_sentence(rest) and reads_like_title(title) else None


def _starts_with_letter(title: str) -> bool:
    return title[0].isalpha() or title[0] in "\"'\u201c\u2018(¿¡"


def _keyword_rank(keyword: str, number: str) -> float:
    if keyword in PART_WORDS:
        return 0
    if keyword in CONTAINER_WORDS:
        return 1
    depth = number.count(".") + 1 if number[0].isdigit() else 1
    return 2 if depth == 1 else 2 + depth  # "Section 2.3" sits with "2.3 Title"


def _roman_value(numeral: str) -> int | None:
    numeral = numeral.upper()
    if not numeral or not _ROMAN.fullmatch(numeral):
        return None
    values = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
    total = 0
    for current, following in zip(numeral, [*numeral[1:], ""], strict=True):
        value = values[current]
        total += -value if following and values[following] > value else value
    return total


def _next_filled(lines: list[str], i: int, page_of: list[int]) -> int | None:
    for j in range(i + 1, min(i + 4, len(lines))):
        if page_of[j] != page_of[i]:
            return None
        if lines[j].strip():
            return j
    return None


def _starts_heading(line: str) -> bool:
    stripped = line.strip()
    if stripped.startswith("#") or _NUMBERED.match(stripped):
        return True
    match = KEYWORD_LINE.match(stripped)
    return bool(match and match.group("word").casefold() in DIVISION_WORDS)


def _ends_sentence(raw: str) -> bool:
    """Numbered list items and prose end like sentences; headings don't."""
    raw = raw.rstrip()
    return raw.endswith((".", ",", ";")) and not raw.endswith("..")


# --- slides and the document's own title ----------------------------------------------


def slide_titles(text: ReadableText) -> list[tuple[int, str]]:
    """(page, title) of each slide whose first line reads like a title; [] if not slides."""
    if not text.slides:
        return []
    titles = []
    last_page = -1
    for i, line in enumerate(text.lines):
        page = text.page_of[i]
        if not line.strip() or page == last_page:
            continue
        last_page = page
        title = clean_title(line)
        if reads_like_title(title, max_words=10, max_length=90) and not is_junk(title):
            titles.append((page, title))
    return titles


def title_line(text: ReadableText) -> str | None:
    """The document's first line, when it is short and reads like a title."""
    first = next((line for line in text.lines if line.strip()), None)
    if first is None:
        return None
    title = clean_title(first)
    return title if reads_like_title(title, max_words=10, max_length=80) else None


# --- arranging headings into topics ---------------------------------------------------


MANY_SECTIONS = 8


def arrange(headings: list[Heading]) -> list[DocumentTopic]:
    """Topics from the highest meaningful level of headings, subtopics from the next one."""
    headings = _without_junk(headings)
    if not headings:
        return []
    count = Counter(h.rank for h in headings)
    ranks = sorted(count)
    # A lone heading above all the others, at the very start, is the document's title when
    # it says so (a Word title, a part, "# Title" over numbered sections), stands over many
    # sections (a syllabus), or over sections with their own sections (a book). Over a few
    # plain sections it is the topic — a lecture's "Derivatives" over "Product rule" and
    # "Chain rule" — and they are its subtopics.
    lone_top = count[ranks[0]] == 1 and headings[0].rank == ranks[0] and len(ranks) > 1
    # Not when its sections are more than a plan's topics: then it holds them together.
    if (
        lone_top
        and (ranks[0] < 1 or len(ranks) > 2 or count[ranks[1]] >= MANY_SECTIONS)
        and count[ranks[1]] <= MAX_TOPICS
    ):
        headings, ranks = headings[1:], ranks[1:]
    # A few parts or books over many chapters: the chapters make the better topics.
    if len(ranks) > 1 and _are_parts(headings, ranks[0], ranks[1]):
        headings = _descend(headings, ranks[0], ranks[1])
        ranks = ranks[1:]
    topic_rank = ranks[0]
    topics: list[DocumentTopic] = []
    section: list[Heading] = []  # the headings below the current topic (or before the first)

    def close_section() -> None:
        if not section:
            return
        # The highest headings of a section are its subtopics, whatever their level: a
        # "###" straight under a "#" counts. Before the first topic they stand on their own.
        top = min(h.rank for h in section)
        titles = [h.title for h in section if h.rank == top]
        if topics:
            topics[-1].subtopics.extend(titles)
        else:
            topics.extend(DocumentTopic(title) for title in titles)
        section.clear()

    for heading in headings:
        if heading.rank == topic_rank:
            close_section()
            topics.append(DocumentTopic(heading.title))
        else:
            section.append(heading)
    close_section()
    return topics


MAX_PARTS = 8
CHAPTERS_IN_A_PART = 10


def _children(headings: list[Heading], top: float, below: float) -> list[int]:
    """How many `below` headings each `top` heading has, in order."""
    counts: list[int] = []
    for heading in headings:
        if heading.rank == top:
            counts.append(0)
        elif heading.rank == below and counts:
            counts[-1] += 1
    return counts


def _are_parts(headings: list[Heading], top: float, below: float) -> bool:
    """Whether the top headings are parts or books: a handful, not numbered as chapters,
    holding many chapters between them (dozens in one at least) — and their chapters fit
    in a plan. Numbered chapters are never flattened away, however many sections they
    hold ("1. Introduction", "2. Unified system" over 17 sections stay the topics)."""
    tops = [h for h in headings if h.rank == top]
    if not 2 <= len(tops) <= MAX_PARTS or any(h.numbered for h in tops):
        return False
    children = _children(headings, top, below)
    chapters = sum(children)
    topics = chapters + children.count(0)
    return (
        chapters >= 3 * len(tops) and max(children) >= CHAPTERS_IN_A_PART and topics <= MAX_TOPICS
    )


def _descend(headings: list[Heading], top: float, below: float) -> list[Heading]:
    """The parts' chapters as the topics; a part without chapters stays, as a chapter."""
    children = iter(_children(headings, top, below))
    kept = []
    for heading in headings:
        if heading.rank != top:
            kept.append(heading)
        elif next(children) == 0:
            kept.append(Heading(below, heading.title, heading.line, heading.numbered))
    return kept


def _without_junk(headings: list[Heading]) -> list[Heading]:
    kept = []
    skipping_below: float | None = None
    for heading in headings:
        if skipping_below is not None and heading.rank > skipping_below:
            continue
        skipping_below = None
        if is_junk(heading.title):
            skipping_below = heading.rank
        else:
            kept.append(heading)
    return kept
