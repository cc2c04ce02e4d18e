"""A document's headings — from its outline or its text — arranged as topics and subtopics.

Part of the offline plan builder. The text follows sessions_app.models.Document's
conventions: PDF pages separated by "\\f", DOCX headings as Markdown "#" markers. Lines
that look like headings but aren't — page numbers, running headers and footers, code,
sentences, numbered list items, table rows, tables of contents — are left out.
"""

import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from plans.schema import MAX_TEXT_LENGTH

# sessions_app.models.Document.PAGE_BREAK, not imported: the builders stay free of the ORM.
PAGE_BREAK = "\f"


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


# --- words that introduce a numbered division -----------------------------------------

_PART_WORDS = {"part", "teil", "partie", "parte", "deel"}
_CONTAINER_WORDS = {
    "chapter", "unit", "module", "week", "appendix",
    "kapitel", "einheit", "modul", "woche", "anhang",
    "chapitre", "unité", "semaine", "annexe",
    "capítulo", "capitulo", "unidad", "módulo", "semana", "anexo", "apéndice", "apendice",
    "capitolo", "unità", "settimana", "appendice",
    "unidade", "hoofdstuk",
}  # fmt: skip
_LESSON_WORDS = {
    "lecture", "lesson", "session", "section", "topic",
    "vorlesung", "lektion", "abschnitt", "thema", "sitzung",
    "cours", "leçon", "lecon", "séance", "seance", "thème", "theme",
    "clase", "lección", "leccion", "sección", "seccion", "tema", "sesión", "sesion",
    "lezione", "sezione", "argomento",
    "aula", "lição", "licao", "seção", "secção", "sessão", "§",
}  # fmt: skip
# Words that introduce a numbered division: "Chapter 4: Derivatives", "Vorlesung 3 - …".
DIVISION_WORDS = _PART_WORDS | _CONTAINER_WORDS | _LESSON_WORDS
_NUMBER = r"\d{1,3}(?:\.\d{1,3}){0,3}|[IVXLCDM]{1,7}|[ivxlcdm]{1,7}|[A-Z]"
_KEYWORD_LINE = re.compile(
    rf"(?P<word>§(?=\s*\d)|[^\W\d_]+(?=\s))\s*(?P<number>{_NUMBER})(?=$|[\s:.\-\u2013\u2014)])"
    r"\s*(?P<separator>[:.\-\u2013\u2014)]+\s*)?(?P<rest>.*)$"
)
_KEYWORD_PREFIX = re.compile(
    rf"^(?i:{'|'.join(sorted(map(re.escape, DIVISION_WORDS), key=len, reverse=True))})"
    # The separator must be followed by a space: "Week 1. Limits", but not "week1.md".
    rf"\s*(?:{_NUMBER})(?:[:.\-\u2013\u2014)]+(?:\s+|$)|(?P<bare>)(?=\s|$))\s*"
)
_NUMBERED = re.compile(r"(?P<number>\d{1,2}(?:\.\d{1,3}){0,4})(?P<dot>\.?)\s+(?P<rest>\S.*)$")
_ROMAN_NUMBERED = re.compile(r"(?P<number>[IVXLCDM]{1,7})\.\s+(?P<rest>\S.*)$")
_LETTERED = re.compile(r"(?P<number>[A-Z])[.)]\s+(?P<rest>\S.*)$")
_ROMAN = re.compile(r"M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})")

# --- lines that are never headings ----------------------------------------------------

_ATX = re.compile(r" {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r" {0,3}(={2,}|-{2,})[ \t]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)$")
_BULLET = re.compile(r"[-*+•▪◦·‣○●■□➢➤►✓]\s")
_PAGE_NUMBER = re.compile(
    r"[\W_]*(?:(?:page|seite|página|pagina|pág|p|s)\.?\s*)?\d{1,4}"
    r"(?:\s*(?:of|von|de|sur|di|/)\s*\d{1,4})?[\W_]*|(?-i:[ivxlc]{1,6})",
    re.IGNORECASE,
)
_TOC_LINE = re.compile(r"(?:\.\s*){2,}\d{1,4}\s*$|\S\s+\d{1,4}\s*$")
_URL = re.compile(r"https?://|www\.|\S@\S+\.\w")
_MONTHS = (
    "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|"
    "july|august|september|october|november|december|januar|februar|märz|mai|juni|juli|"
    "oktober|dezember|janvier|février|mars|avril|juin|juillet|août|septembre|octobre|"
    "novembre|décembre|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|"
    "octubre|noviembre|diciembre"
)
_DATE = re.compile(
    rf"(?i:(?:\d{{1,2}}\.?\s*)?(?:{_MONTHS})\.?(?:\s*\d{{1,2}})?,?(?:\s*\d{{4}})?)"
    r"|\d{1,4}[./-]\d{1,2}[./-]\d{1,4}"
)
_CODE = re.compile(
    r"==|!=|<=|>=|=>|->|::|&&|\|\||\+=|\+\+|[{};]\s*$|^\s*[{}]|^\s*(?:\$|>>>|\.\.\.|//|/\*)\s"
    r"|^\s*[A-Za-z_][\w.\[\]]*\s*=\s*\S|^\s*[A-Za-z_][\w.]*\(.*\)\s*$"
    r"|^\s*(?:import\s+[\w.]+(?:\s+as\s+\w+)?\s*$|from\s+[\w.]+\s+import\s)"
    r"|^\s*(?:def|class|for|if|elif|else|while|try|except|with|return|import|from|function|"
    r"var|let|const|public|private|static|void|int|#include|#define)\b.*[(:=;]\s*$"
)

# Headings of what isn't study material; they are dropped with everything under them.
_NOT_STUDY_MATERIAL = {
    "contents", "table of contents", "toc", "index", "bibliography", "references",
    "reference list", "works cited", "further reading", "acknowledgements", "acknowledgments",
    "list of figures", "list of tables", "about the author", "about the authors", "copyright",
    "cover", "title page", "preface", "foreword", "dedication", "questions", "any questions",
    "thank you", "thanks", "q&a", "q & a", "agenda", "outline",
    "inhalt", "inhaltsverzeichnis", "literatur", "literaturverzeichnis", "quellen",
    "quellenverzeichnis", "danksagung", "abbildungsverzeichnis", "tabellenverzeichnis",
    "stichwortverzeichnis", "vorwort", "fragen", "vielen dank", "gliederung",
    "sommaire", "table des matières", "bibliographie", "références", "remerciements",
    "préface", "avant-propos", "merci", "plan du cours",
    "índice", "indice", "bibliografía", "referencias", "agradecimientos", "contenido",
    "contenidos", "prólogo", "prefacio", "gracias", "preguntas",
}  # fmt: skip

# --- titles ---------------------------------------------------------------------------

_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u2060\ufeff\x00-\x08\x0b-\x1f\x7f]")
_WHITESPACE = re.compile(r"\s+")
_DIGITS = re.compile(r"\d+")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(
    r"(\*\*|\*|~~|`)(?=\S)(.+?)(?<=\S)\1|(?<!\w)(__|_)(?=\S)(.+?)(?<=\S)\3(?!\w)"
)
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_ATTRIBUTES = re.compile(r"\s*\{[#.][^}]*\}\s*$")
_LEADERS = re.compile(r"\s*(?:[.·…_]\s*){3,}\d*$")
_NUMBER_PREFIX = re.compile(
    r"^(?:\d{1,3}(?:\.\d{1,3})+\.?\)?|\d{1,3}(?:[.)]|(?P<bare>))|[IVXLCDM]{1,7}\."
    r"|[A-Z][.)](?=\s+[A-Z]))\s+(?=\S)"
)
_CONTINUED = re.compile(
    r"\s*(?:\((?:cont(?:\.|inued|'d|\u2019d)?|fortsetzung|forts\.|suite|cont\.?)\)"
    r"|[-\u2013\u2014:]\s*(?:continued|fortsetzung|suite))\s*$",
    re.IGNORECASE,
)
_EDGE_PUNCTUATION = re.compile(r"^[\s\-\u2013\u2014•·*:>|]+|[\s.:;,\-\u2013\u2014|]+$")


def clean_title(raw: str) -> str:
    """A heading's text as a plan title: markup, numbering and leaders gone, ≤ 200 chars."""
    # A heading is short; what isn't is cut first, so no pattern below works on a long text.
    text = _INVISIBLE.sub("", raw[: 2 * MAX_TEXT_LENGTH])
    text = _MD_LINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    text = _ATTRIBUTES.sub("", text)
    for _ in range(2):  # nested emphasis: ***x***
        text = _MD_EMPHASIS.sub(lambda m: m.group(2) or m.group(4), text)
    text = _WHITESPACE.sub(" ", text).strip()
    text = _LEADERS.sub("", text)
    text = _EDGE_PUNCTUATION.sub("", text)
    for prefix in (_KEYWORD_PREFIX, _NUMBER_PREFIX):
        match = prefix.match(text)
        if not match:
            continue
        rest = text[match.end() :]
        bare = match.group("bare") is not None  # no ":" or "." after the number
        # "Week 2 review" and "10 things to know" keep their number: it is part of the title.
        if _has_letters(rest) and not (bare and rest[:1].islower()):
            text = rest
    text = _CONTINUED.sub("", text)
    text = _EDGE_PUNCTUATION.sub("", text)
    return clip(text)


def clip(text: str, limit: int = MAX_TEXT_LENGTH) -> str:
    """Cut to `limit` characters at a word boundary, marking the cut with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-\u2013\u2014") + "…"


def _has_letters(text: str) -> bool:
    return sum(ch.isalpha() for ch in text) >= 2


def reads_like_title(text: str, max_words: int = 12, max_length: int = 120) -> bool:
    """Short, starting with a capital or digit, mostly letters, not a sentence, date or code."""
    if not text or len(text) > max_length or len(text.split()) > max_words:
        return False
    first = next((ch for ch in text if ch.isalnum()), "")
    if not first or first.islower():
        return False
    letters = sum(ch.isalpha() for ch in text)
    if letters < 2 or letters < 0.5 * len(text.replace(" ", "")):
        return False
    if text[-1] in ".,;" or _URL.search(text) or _is_date(text):
        return False
    return not looks_like_code(text)


def _is_date(text: str) -> bool:
    return bool(_DATE.fullmatch(text)) and any(ch.isdigit() for ch in text)


def looks_like_code(line: str) -> bool:
    return bool(_CODE.search(line)) or sum(line.count(ch) for ch in "=[]<>;{}") >= 3


def _is_junk(title: str) -> bool:
    return title.casefold().rstrip("?!.: ") in _NOT_STUDY_MATERIAL


# --- reading the text -----------------------------------------------------------------


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
    match = _KEYWORD_LINE.match(line.strip())
    return bool(
        match and not match.group("rest") and match.group("word").casefold() in DIVISION_WORDS
    )


def _toc_pages(text: ReadableText) -> set[int]:
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
    numbered = _numbered_headings(text)
    if not numbered:
        return markdown
    # A lone "# Title" sits above the numbered headings.
    return sorted([Heading(-1, h.title, h.line) for h in markdown] + numbered, key=lambda h: h.line)


def outline_headings(outline: list[dict]) -> list[Heading]:
    headings = []
    for position, entry in enumerate(outline or []):
        if not isinstance(entry, dict) or not isinstance(entry.get("title"), str):
            continue
        level = entry.get("level")
        title = clean_title(entry["title"])
        if _has_letters(title):
            rank = level if isinstance(level, int) and not isinstance(level, bool) else 1
            headings.append(Heading(rank, title, position))
    return headings


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
                if _has_letters(title):
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
    toc = _toc_pages(text)
    arabic, roman, lettered = _Sequence(None), _Sequence(1), _Sequence(1)
    lower_ranks = ((2.4, roman), (2.6, lettered), (3, arabic))
    headings: list[Heading] = []
    used_as_title = -1

    def accept(rank: float, title: str, line: int) -> None:
        headings.append(Heading(rank, title, line))
        for sequence_rank, sequence in lower_ranks:
            if sequence_rank > rank:
                sequence.reset()

    for i, line in enumerate(lines):
        if not line or i == used_as_title or text.page_of[i] in toc:
            continue
        if not text.paged and _indent(line) >= 4:
            continue
        stripped = line.strip()
        if len(stripped) > 150 or " | " in stripped or _BULLET.match(stripped):
            continue
        first = stripped[0]
        word = stripped.split(None, 1)[0].casefold()
        if (word in DIVISION_WORDS or word.startswith("§")) and (
            match := _KEYWORD_LINE.match(stripped)
        ):
            keyword = match.group("word").casefold()
            if keyword not in DIVISION_WORDS:
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
                _is_date(stripped)
                or _ends_sentence(rest)
                or not reads_like_title(title)
                or not _starts_with_letter(title)
            ):
                continue
            if len(parts) == 1:
                style = "dot" if match.group("dot") else "plain"
                if arabic.accepts(int(parts[0]), style, title, i):
                    accept(3, title, i)
            else:
                accept(2 + len(parts), title, i)
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
        if _has_letters(stripped):
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
    if keyword in _PART_WORDS:
        return 0
    if keyword in _CONTAINER_WORDS:
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
    match = _KEYWORD_LINE.match(stripped)
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
        if reads_like_title(title, max_words=10, max_length=90) and not _is_junk(title):
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


def arrange(headings: list[Heading]) -> list[DocumentTopic]:
    """Topics from the highest meaningful level of headings, subtopics from the next one."""
    headings = _without_junk(headings)
    if not headings:
        return []
    count = Counter(h.rank for h in headings)
    ranks = sorted(count)
    # A lone heading above all the others, at the very start, is the document's title.
    if count[ranks[0]] == 1 and headings[0].rank == ranks[0] and len(headings) >= 3:
        headings, ranks = headings[1:], ranks[1:]
    # A few parts over many chapters: the chapters make the better topics.
    parts = count[ranks[0]]
    if len(ranks) > 1 and 2 <= parts <= 3 and count[ranks[1]] >= max(8, 3 * parts):
        headings = [h for h in headings if h.rank != ranks[0]]
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


def _without_junk(headings: list[Heading]) -> list[Heading]:
    kept = []
    skipping_below: float | None = None
    for heading in headings:
        if skipping_below is not None and heading.rank > skipping_below:
            continue
        skipping_below = None
        if _is_junk(heading.title):
            skipping_below = heading.rank
        else:
            kept.append(heading)
    return kept
