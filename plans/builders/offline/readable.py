"""A document's text as lines and pages, with what can never be a heading blanked out.

Part of the offline plan builder. The text follows sessions_app.models.Document's
conventions: PDF pages separated by "\\f", DOCX headings as Markdown "#" markers. Front
matter, fenced code, page numbers and running headers and footers are blanked here; the
pages that are slides or tables of contents are told apart for plans.builders.offline.structure.
"""

import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass

from plans.builders.offline.titles import DIVISION_WORDS, KEYWORD_LINE

# sessions_app.models.Document.PAGE_BREAK, not imported: the builders stay free of the ORM.
PAGE_BREAK = "\f"


@dataclass
class ReadableText:
    """The document's lines, with what can never be a heading blanked out ("" in its place)."""

    lines: list[str]
    page_of: list[int]
    edges: set[int]  # lines at the top or bottom of a PDF page
    page_count: int
    slides: bool  # short pages, one title each: slides exported to PDF

    @property
    def paged(self) -> bool:
        return self.page_count > 1

    def prose(self) -> str:
        return "\n".join(self.lines)


_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)$")
_PAGE_NUMBER = re.compile(
    r"[\W_]*(?:(?:page|seite|página|pagina|pág|p|s)\.?\s*)?\d{1,4}"
    r"(?:\s*(?:of|von|de|sur|di|/)\s*\d{1,4})?[\W_]*|(?-i:[ivxlc]{1,6})",
    re.IGNORECASE,
)
_TOC_LINE = re.compile(r"(?:\.\s*){2,}\d{1,4}\s*$|\S\s+\d{1,4}\s*$")
_WHITESPACE = re.compile(r"\s+")
_DIGITS = re.compile(r"\d+")


def readable_text(text: str) -> ReadableText:
    """Split into lines, blanking front matter, fenced code, page numbers, running headers."""
    pages = text.split(PAGE_BREAK)
    lines: list[str] = []
    page_of: list[int] = []
    edges: set[int] = set()
    for number, page in enumerate(pages):
        page_lines = [line.rstrip() for line in page.replace("\r", "").split("\n")]
        if len(pages) > 1:
            filled = [i for i, line in enumerate(page_lines) if line]
            edges.update(len(lines) + i for i in filled[:3] + filled[-3:])
        lines.extend(page_lines)
        lines.append("")  # a page never runs into the next
        page_of.extend([number] * (len(page_lines) + 1))
    slides = _looks_like_slides(lines, page_of, len(pages))
    readable = ReadableText(lines, page_of, edges, len(pages), slides)
    _blank_front_matter(lines)
    _blank_code_fences(lines)
    _blank_page_furniture(readable)
    return readable


def _looks_like_slides(lines: list[str], page_of: list[int], page_count: int) -> bool:
    if page_count < 5:
        return False
    filled = Counter(page_of[i] for i, line in enumerate(lines) if line.strip())
    chars: Counter[int] = Counter()
    for i, line in enumerate(lines):
        chars[page_of[i]] += len(line)
    sizes = [filled[p] for p in range(page_count)]
    return statistics.median(sizes) <= 15 and statistics.median(chars.values()) <= 700


def _blank_front_matter(lines: list[str]) -> None:
    if not lines or lines[0].strip() != "---":
        return
    for i in range(1, min(len(lines), 60)):
        if lines[i].strip() in ("---", "..."):
            lines[: i + 1] = [""] * (i + 1)
            return


def _blank_code_fences(lines: list[str]) -> None:
    fences = []
    for i, line in enumerate(lines):
        if ("```" in line or "~~~" in line) and (match := _FENCE.match(line)):
            fences.append((i, match.group(1), match.group(2).strip()))
    k = 0
    while k < len(fences):
        start, mark, _ = fences[k]
        close = next(
            (
                n
                for n in range(k + 1, len(fences))
                if fences[n][1][0] == mark[0]
                and len(fences[n][1]) >= len(mark)
                and not fences[n][2]  # a closing fence has no info string
            ),
            None,
        )
        if close is None:  # an unclosed fence is not one: its opening line is left as text
            k += 1
            continue
        end = fences[close][0]
        lines[start : end + 1] = [""] * (end + 1 - start)
        k = close + 1


def _blank_page_furniture(text: ReadableText) -> None:
    lines = text.lines
    for i, line in enumerate(lines):
        if line and len(line) < 40 and _PAGE_NUMBER.fullmatch(line.strip()):
            lines[i] = ""
    if text.page_count < 3:
        return
    # A running header or footer is a line at the top or bottom of several pages, either
    # the same each time or differing only by the page number. ("Chapter 3" and "Chapter 7"
    # opening their pages differ by more than that.) Slides repeat their titles, so for
    # them it must be on many pages.
    needed = max(3, -(-text.page_count * 2 // 5)) if text.slides else 3
    same: defaultdict[str, list[int]] = defaultdict(list)
    shaped: defaultdict[str, list[int]] = defaultdict(list)
    for i in sorted(text.edges):
        if lines[i]:
            line = _WHITESPACE.sub(" ", lines[i].casefold()).strip()
            same[line].append(i)
            if any(ch.isdigit() for ch in line):
                shaped[_DIGITS.sub("#", line)].append(i)
    furniture = set()
    for found in same.values():
        if len({text.page_of[i] for i in found}) >= needed:
            furniture.update(found)
    for found in shaped.values():
        if len({text.page_of[i] for i in found}) < needed or _opens_division(lines[found[0]]):
            continue
        # The offset between a number on the line and the page's index stays the same
        # for page numbers (front matter aside) and changes for anything else.
        offsets = {
            i: {int(n) - text.page_of[i] for n in _DIGITS.findall(lines[i]) if len(n) <= 4}
            for i in found
        }
        common = Counter(offset for values in offsets.values() for offset in values)
        offset, hits = min(common.items(), key=lambda item: (-item[1], item[0]))
        if hits >= 0.8 * len(found):
            furniture.update(i for i in found if offset in offsets[i])
    for i in furniture:
        lines[i] = ""


def _opens_division(line: str) -> bool:
    """A division word and its number alone on a line ("Chapter 3"), the title below it."""
    match = KEYWORD_LINE.match(line.strip())
    return bool(
        match and not match.group("rest") and match.group("word").casefold() in DIVISION_WORDS
    )


def toc_pages(text: ReadableText) -> set[int]:
    """PDF pages that are tables of contents or indexes: most lines end with a page number."""
    if not text.paged:
        return set()
    filled: Counter[int] = Counter()
    numbered: Counter[int] = Counter()
    for i, line in enumerate(text.lines):
        if line:
            filled[text.page_of[i]] += 1
            if line[-1].isdigit() and _TOC_LINE.search(line[-60:]):
                numbered[text.page_of[i]] += 1
    return {p for p, n in numbered.items() if n >= 5 and n >= 0.5 * filled[p]}
