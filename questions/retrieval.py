"""Finding the passages that answer a question (SPEC §15): the session's full-text index
(sessions_app.passages) searched with the question's stems, and the hits shaped as the
numbered `sources` of the answer."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

from sessions_app.models import Passage, StudySession
from sessions_app.passages import (
    index_missing_passages,
    matched_spans,
    query_terms,
    search_passages,
)

SNIPPET_CHARS = 280


@dataclass(frozen=True)
class Source:
    """One retrieved passage, numbered as the answer cites it."""

    n: int
    passage_id: int
    document_id: str
    name: str
    page: int | None
    heading: str
    text: str
    snippet: str
    score: float

    def to_dict(self) -> dict:
        """The `sources` event's entry (SPEC §15)."""
        return {
            "n": self.n,
            "passage": str(self.passage_id),
            "document": self.document_id,
            "name": self.name,
            "page": self.page,
            "heading": self.heading,
            "snippet": self.snippet,
        }


def retrieve(session: StudySession, question: str, limit: int | None = None) -> list[Source]:
    """The best passages of the session for `question`, numbered 1…n, best first."""
    limit = limit or settings.QUESTION_SOURCES
    index_missing_passages(session)
    stems = query_terms(question, session.language)
    hits = search_passages(session.pk, stems, limit)
    if not hits:
        return []
    passages = Passage.objects.select_related("document").only(
        "id", "page", "heading", "text", "document__id", "document__original_name"
    )
    by_id = {p.id: p for p in passages.filter(id__in=[h.passage_id for h in hits])}
    sources = []
    for hit in hits:
        passage = by_id.get(hit.passage_id)
        if passage is None:  # deleted between the search and now
            continue
        sources.append(
            Source(
                n=len(sources) + 1,
                passage_id=passage.id,
                document_id=str(passage.document.id),
                name=passage.document.original_name,
                page=passage.page,
                heading=passage.heading,
                text=passage.text,
                snippet=snippet(passage.text, set(stems), session.language),
                score=hit.score,
            )
        )
    return sources


def snippet(text: str, stems: set[str], language: str, size: int = SNIPPET_CHARS) -> str:
    """About `size` characters of `text` around its first matched word, on word bounds."""
    # Heading lines are shown with the source already; the snippet is the passage's prose.
    prose = re.sub(r"(?m)^[ \t]*#{1,6}[ \t]+.*$", "", text)
    flat = re.sub(r"\s+", " ", prose if prose.strip() else text).strip()
    if len(flat) <= size:
        return flat
    spans = matched_spans(flat, stems, language)
    start = max(0, spans[0][0] - size // 4) if spans else 0
    if start:
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < start + 30 else start
    end = min(len(flat), start + size)
    if end < len(flat):
        space = flat.rfind(" ", start, end)
        end = space if space > start else end
    return ("…" if start else "") + flat[start:end] + ("…" if end < len(flat) else "")
