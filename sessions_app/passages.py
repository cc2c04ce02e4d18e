"""Passages: a completed document cut into pieces a question can cite (SPEC §15).

A passage is about a paragraph to a page of text: it never crosses a page break (PDF pages
are separated by `Document.PAGE_BREAK`) or a heading, and it knows its page, its heading
path ("Kernels > Scheduling", with a single angle quote) and its character offsets, so that
`document.content_text[p.start:p.end] == p.text` always holds.

Each passage also carries `terms`: its words lower-cased and stemmed for the session's
language (PyStemmer's Snowball stemmers) with the commonest function words left out. The
full-text index of the database in use is built over `terms` (see migration 0003 and
`search_passages`), so stemming is the same on SQLite and PostgreSQL, in every language
Snowball knows, and a question is stemmed the same way before it is matched.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

import Stemmer

PAGE_BREAK = "\f"
TARGET_CHARS = 700  # a passage grows paragraph by paragraph up to about this size
MAX_CHARS = 1500  # a single paragraph longer than this is cut at sentence ends
HEADING_SEPARATOR = " \u203a "  # a single right-pointing angle quotation mark

_ATX = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")

# BCP-47 primary subtag → Snowball algorithm (PyStemmer's names).
_STEMMERS = {
    "ar": "arabic",
    "ca": "catalan",
    "cs": "czech",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "et": "estonian",
    "eu": "basque",
    "fa": "persian",
    "fi": "finnish",
    "fr": "french",
    "ga": "irish",
    "hi": "hindi",
    "hu": "hungarian",
    "hy": "armenian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "nb": "norwegian",
    "ne": "nepali",
    "nl": "dutch",
    "no": "norwegian",
    "pl": "polish",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
    "yi": "yiddish",
}


# Words too common to tell passages apart. BM25's IDF already discounts them on SQLite;
# PostgreSQL's ts_rank has no IDF, so leaving them out keeps both engines' top hits alike.
def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS = {
    "en": _word_set(
        "a an and are as at be been but by can could did do does for from had has have how i"
        " if in into is it its me my of on or our so than that the their them then there these"
        " they this those to was we were what when where which who whom why will with would"
        " you your about between difference explain tell describe"
    ),
    "de": _word_set(
        "der die das den dem des ein eine einen einem einer und oder ist sind war wie was wo"
        " wer warum in im an am auf aus bei mit von zu zum zur für über unter nicht es sie er"
        " ich du wir ihr man sich dass als auch"
    ),
    "fr": _word_set(
        "le la les un une des du de et ou est sont était comment que qui quoi où pourquoi dans"
        " en au aux sur avec pour par ne pas il elle ils elles je tu nous vous se ce cette"
        " ces"
    ),
    "es": _word_set(
        "el la los las un una unos unas de del y o es son era cómo como qué que quién dónde por"
        " para en con sin al se lo le les su sus no"
    ),
}


def primary_language(tag: str) -> str:
    return (tag or "en").split("-")[0].lower()


@functools.cache
def _stemmer(language: str) -> Stemmer.Stemmer | None:
    algorithm = _STEMMERS.get(language)
    if algorithm is None or algorithm not in Stemmer.algorithms():
        return None
    return Stemmer.Stemmer(algorithm)


def words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def stem_words(tokens: Iterable[str], language_tag: str) -> list[str]:
    """Stems of `tokens` (already case-folded) for the language, stopwords left out."""
    language = primary_language(language_tag)
    stop = _STOPWORDS.get(language, set())
    kept = [t for t in tokens if t not in stop and not (len(t) == 1 and not t.isdigit())]
    stemmer = _stemmer(language)
    return stemmer.stemWords(kept) if stemmer else kept


def terms_of(text: str, language_tag: str) -> str:
    """What the full-text index stores for `text`: its stems separated by spaces."""
    return " ".join(stem_words(words(text), language_tag))


def query_terms(question: str, language_tag: str) -> list[str]:
    """The distinct stems of a question, in order of first appearance."""
    return list(dict.fromkeys(stem_words(words(question), language_tag)))


def matched_spans(text: str, stems: set[str], language_tag: str) -> list[tuple[int, int]]:
    """Offsets of the words in `text` whose stem is one of `stems` (for highlighting)."""
    if not stems:
        return []
    language = primary_language(language_tag)
    stemmer = _stemmer(language)
    spans = []
    for match in _WORD.finditer(text):
        token = match.group().casefold()
        stem = stemmer.stemWord(token) if stemmer else token
        if stem in stems:
            spans.append(match.span())
    return spans


@dataclass(frozen=True)
class PassageDraft:
    """One passage before it is stored: `text == content_text[start:end]`."""

    position: int
    page: int | None
    heading: str
    start: int
    end: int
    text: str


@dataclass
class _Block:
    start: int
    end: int
    page: int | None
    heading: tuple[str, ...]
    is_heading: bool = False


def _outline_by_page(outline: list) -> list[tuple[int, int, str]]:
    """(page, level, title) of the outline entries that know their page, in page order."""
    entries = []
    for entry in outline or []:
        if not isinstance(entry, dict):
            continue
        page, level, title = entry.get("page"), entry.get("level"), entry.get("title")
        if isinstance(page, int) and isinstance(level, int) and isinstance(title, str):
            entries.append((page, max(level, 1), title.strip()))
    return sorted(entries, key=lambda e: e[0])


def _with_heading(stack: tuple[str, ...], level: int, title: str) -> tuple[str, ...]:
    return (*stack[: level - 1], title)


def _split_long(start: int, end: int, text: str) -> list[tuple[int, int]]:
    """Cut [start, end) at sentence ends into pieces of at most about MAX_CHARS."""
    if end - start <= MAX_CHARS:
        return [(start, end)]
    pieces, piece_start = [], start
    for match in _SENTENCE_END.finditer(text, start, end):
        if match.start() - piece_start >= TARGET_CHARS:
            pieces.append((piece_start, match.start()))
            piece_start = match.end()
    pieces.append((piece_start, end))
    # A "sentence" longer than MAX_CHARS (a table, a list without full stops): hard cuts
    # at a whitespace.
    result = []
    for a, b in pieces:
        while b - a > MAX_CHARS:
            cut = text.rfind(" ", a + TARGET_CHARS, a + MAX_CHARS)
            cut = cut if cut > a else a + MAX_CHARS
            result.append((a, cut))
            a = cut
            while a < b and text[a].isspace():
                a += 1
        if b > a:
            result.append((a, b))
    return result


def _blocks(text: str, outline: list) -> list[_Block]:
    """Paragraphs (runs of non-blank lines) and ATX heading lines, with page and headings."""
    paged = PAGE_BREAK in text
    outline_entries = _outline_by_page(outline) if paged else []
    blocks: list[_Block] = []
    heading: tuple[str, ...] = ()
    page_start = 0
    for page_index, page_text in enumerate(text.split(PAGE_BREAK)):
        page = page_index + 1 if paged else None
        # PDF bookmarks: the headings that start on or before this page.
        for entry_page, level, title in outline_entries:
            if entry_page == page:
                heading = _with_heading(heading, level, title)
        para_start = None
        offset = page_start
        for line in page_text.split("\n"):
            line_end = offset + len(line)
            stripped = line.strip()
            heading_match = _ATX.match(stripped)
            if (not stripped or heading_match) and para_start is not None:
                end = _rstrip_end(text, para_start, offset)
                blocks.append(_Block(para_start, end, page, heading))
                para_start = None
            if heading_match:
                heading = _with_heading(
                    heading, len(heading_match.group(1)), heading_match.group(2).strip()
                )
                lead = len(line) - len(line.lstrip())
                blocks.append(
                    _Block(offset + lead, _rstrip_end(text, offset, line_end), page, heading, True)
                )
            elif stripped and para_start is None:
                para_start = offset + len(line) - len(line.lstrip())
            offset = line_end + 1
        if para_start is not None:
            blocks.append(
                _Block(para_start, _rstrip_end(text, para_start, offset - 1), page, heading)
            )
        page_start += len(page_text) + 1
    return blocks


def _rstrip_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def cut_passages(text: str, outline: list | None = None) -> list[PassageDraft]:
    """The passages of a document's `content_text` (see the module docstring)."""
    drafts: list[PassageDraft] = []
    group: list[_Block] = []

    def flush():
        if not group:
            return
        start, end = group[0].start, group[-1].end
        if end > start:
            heading = HEADING_SEPARATOR.join(group[-1].heading)
            drafts.append(
                PassageDraft(len(drafts), group[0].page, heading, start, end, text[start:end])
            )
        group.clear()

    for block in _blocks(text, outline or []):
        for start, end in _split_long(block.start, block.end, text):
            piece = _Block(start, end, block.page, block.heading, block.is_heading)
            if group:
                size = end - group[0].start
                heading_only = all(b.is_heading for b in group)
                same_place = group[-1].page == piece.page and (
                    group[-1].heading == piece.heading or heading_only
                )
                too_big = size > TARGET_CHARS and not heading_only
                if (piece.is_heading and not heading_only) or not same_place or too_big:
                    flush()
            group.append(piece)
    flush()
    return drafts


# --- storing and searching ---------------------------------------------------------------


def replace_passages(document) -> int:
    """Store `document`'s passages in place of the ones it had; how many there are now.

    The full-text index follows the rows by itself (triggers on SQLite, a generated column
    on PostgreSQL), in the same transaction.
    """
    from django.db import transaction

    from sessions_app.models import Document, Passage

    language = document.session.language
    with transaction.atomic():
        Passage.objects.filter(document=document).delete()
        if document.status != Document.Status.COMPLETED:
            return 0
        drafts = cut_passages(document.content_text, document.outline)
        Passage.objects.bulk_create(
            [
                Passage(
                    document=document,
                    session_id=document.session_id,
                    position=d.position,
                    page=d.page,
                    heading=d.heading,
                    start=d.start,
                    end=d.end,
                    text=d.text,
                    terms=terms_of(f"{d.heading}\n{d.text}", language),
                )
                for d in drafts
            ],
            batch_size=500,
        )
    return len(drafts)


def index_missing_passages(session) -> int:
    """Cut the completed documents of `session` that have no passages yet (documents from
    before passages existed); how many documents were cut."""
    from django.db.models import Exists, OuterRef

    from sessions_app.models import Document, Passage

    missing = (
        Document.objects.filter(session=session, status=Document.Status.COMPLETED)
        .exclude(content_text="")
        .filter(~Exists(Passage.objects.filter(document=OuterRef("pk"))))
    )
    count = 0
    for document in missing.select_related("session"):
        replace_passages(document)
        count += 1
    return count


@dataclass(frozen=True)
class Hit:
    passage_id: int
    score: float  # higher is better


def search_passages(session_id, stems: list[str], limit: int = 5) -> list[Hit]:
    """The session's passages that contain any of `stems`, best first (BM25 on SQLite's
    FTS5, ts_rank on PostgreSQL's tsvector), ties broken by document order."""
    from django.db import connection

    stems = [s for s in stems if s]
    if not stems:
        return []
    if connection.vendor == "postgresql":
        return _search_postgresql(connection, session_id, stems, limit)
    return _search_sqlite(connection, session_id, stems, limit)


def _search_sqlite(connection, session_id, stems: list[str], limit: int) -> list[Hit]:
    # Each stem is quoted (a phrase of one word) so nothing in it is FTS5 syntax.
    quoted = " OR ".join('"' + s.replace('"', '""') + '"' for s in stems)
    match = f'session : "{_uuid_hex(session_id)}" AND terms : ({quoted})'
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rowid, bm25(sessions_app_passage_fts, 0.0, 1.0) AS score"
            " FROM sessions_app_passage_fts WHERE sessions_app_passage_fts MATCH %s"
            " ORDER BY score, rowid LIMIT %s",
            [match, limit],
        )
        # FTS5's bm25() is negative: the more negative, the better.
        return [Hit(row[0], -row[1]) for row in cursor.fetchall()]


def _search_postgresql(connection, session_id, stems: list[str], limit: int) -> list[Hit]:
    # Normalisation 1 divides by 1 + log(length): long passages don't win by size alone.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.id, ts_rank(p.search, q, 1) AS score"
            " FROM sessions_app_passage p, to_tsquery('simple', %s) q"
            " WHERE p.session_id = %s AND p.search @@ q"
            " ORDER BY score DESC, p.id LIMIT %s",
            [" | ".join(_pg_lexeme(s) for s in stems), session_id, limit],
        )
        return [Hit(row[0], float(row[1])) for row in cursor.fetchall()]


def _pg_lexeme(stem: str) -> str:
    return "'" + stem.replace("\\", "\\\\").replace("'", "''") + "'"


def _uuid_hex(value) -> str:
    import uuid

    return uuid.UUID(str(value)).hex
