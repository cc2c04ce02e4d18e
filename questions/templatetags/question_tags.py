"""Rendering answers and passages: citation chips with a preview, matched words marked.

Everything that comes from a document or a model is escaped here (format_html / escape);
only the markup this module writes itself is marked safe.
"""

import re

from django import template
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe

from questions.models import Question
from sessions_app.passages import matched_spans, query_terms

register = template.Library()

HISTORY_SIZE = 20
_MARKER = re.compile(r"\[(\d{1,3})\]")


@register.simple_tag
def session_questions(session) -> list[Question]:
    """The session's latest questions, newest first (those still running are left out)."""
    return list(
        Question.objects.filter(session=session)
        .exclude(outcome=Question.Outcome.RUNNING)
        .newest_first()[:HISTORY_SIZE]
    )


def _marked(text: str, stems, language: str) -> SafeString:
    stems = set(stems or [])
    out, last = [], 0
    for start, end in matched_spans(text, stems, language):
        out.append(escape(text[last:start]))
        out.append(format_html("<mark>{}</mark>", text[start:end]))
        last = end
    out.append(escape(text[last:]))
    return mark_safe("".join(out))


@register.simple_tag
def highlight(text: str, stems, language: str = "en") -> SafeString:
    """`text` escaped, with the words whose stem is in `stems` in <mark>."""
    return _marked(text or "", stems, language)


_HEADING_LINE = re.compile(r"^[ \t]*(#{1,6})[ \t]+(.+?)[ \t#]*$")


@register.simple_tag
def passage_html(text: str, stems, language: str = "en") -> SafeString:
    """A passage as readable HTML: its paragraphs as <p> (lines joined, as the author's
    wrapping is not meaningful), Markdown heading lines as headings, matches in <mark>."""
    out = []
    for block in re.split(r"\n[ \t]*\n", text or ""):
        lines = [line for line in block.split("\n") if line.strip()]
        paragraph: list[str] = []
        for line in lines:
            heading = _HEADING_LINE.match(line)
            if heading:
                if paragraph:
                    out.append(
                        format_html("<p>{}</p>", _marked(" ".join(paragraph), stems, language))
                    )
                    paragraph = []
                out.append(
                    format_html(
                        '<p class="passage-heading">{}</p>',
                        _marked(heading.group(2), stems, language),
                    )
                )
            else:
                paragraph.append(line.strip())
        if paragraph:
            out.append(format_html("<p>{}</p>", _marked(" ".join(paragraph), stems, language)))
    return mark_safe("".join(out))


@register.simple_tag
def question_stems(question_text: str, language: str) -> list[str]:
    return query_terms(question_text or "", language)


@register.simple_tag
def passage_url(session, source: dict, q: str = "") -> str:
    url = reverse("questions:passage", args=[session.pk, int(source["passage"])])
    return f"{url}?{urlencode({'q': q})}" if q else url


@register.simple_tag
def answer_with_chips(session, answer: str, sources: list, q: str, prefix: str) -> SafeString:
    """The answer escaped, each `[n]` a chip linking to source n's passage, with a preview
    of the passage (matched words marked) shown on hover, focus or tap."""
    by_n = {s.get("n"): s for s in sources or []}
    stems = query_terms(q or "", session.language)
    out, last, chips = [], 0, 0
    for match in _MARKER.finditer(answer or ""):
        out.append(escape(answer[last : match.start()]))
        last = match.end()
        source = by_n.get(int(match.group(1)))
        if source is None:
            continue  # a marker that points nowhere is never shown
        chips += 1  # the same source cited twice: two previews, each with an id of its own
        out.append(_chip(session, source, stems, q, prefix, chips))
    out.append(escape((answer or "")[last:]))
    return mark_safe("".join(out))


def _chip(session, source: dict, stems, q: str, prefix: str, occurrence: int = 1) -> SafeString:
    n = source["n"]
    where = source.get("name", "")
    if source.get("page"):
        where += f" · page {source['page']}"
    if source.get("heading"):
        where += f" · {source['heading']}"
    preview_id = f"{prefix}-cite-{n}" + (f"-{occurrence}" if occurrence > 1 else "")
    return format_html(
        '<span class="cite"><a class="cite-chip" href="{}" aria-describedby="{}"'
        ' aria-label="Source {}: {}">[{}]</a>'
        '<span class="cite-preview" role="tooltip" id="{}">'
        '<span class="cite-where">{}</span> {}'
        '<a class="cite-open" href="{}">Open the passage →</a></span></span>',
        passage_url(session, source, q),
        preview_id,
        n,
        where,
        n,
        preview_id,
        where,
        _marked(source.get("snippet", ""), stems, session.language),
        passage_url(session, source, q),
    )
