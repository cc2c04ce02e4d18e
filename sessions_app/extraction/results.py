"""What every reader of an upload produces and shares.

An `ExtractedDocument` (with one of the content types below) or an `ExtractionFailed` with
a reason for the learner; and the two rules every reader's text follows: the conventions
of `Document.content_text` (`clean`) and the length limit from settings (`check_length`).
"""

import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MARKDOWN = "text/markdown"
PLAIN_TEXT = "text/plain"

_SURROGATES = re.compile("[\ud800-\udfff]")
_NEWLINES = re.compile("\r\n?|[\f\v\u2028\u2029]")
_SOFT_HYPHEN = "\u00ad"
# Alphabetic and Arabic presentation forms (ligatures), half- and full-width forms, and
# mathematical alphanumerics: letters set in a special shape, folded to the letters.
_PRESENTATION_FORMS = re.compile("[\ufb00-\ufdff\ufe70-\ufefe\uff00-\uffef\U0001d400-\U0001d7ff]+")
# A word broken at a line's end: "compres-\nsion" (a letter, a hyphen, the line break, and
# a lower-case letter going on). The rest of the word moves up; the line break stays.
_BROKEN_WORD = re.compile(r"(?<=[^\W\d_])-\n(?P<rest>[^\W\d_]\S*)[^\S\n]?")


class ExtractionFailed(Exception):
    """The file can't be used; `reason` is one or two sentences for the learner."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ExtractedDocument:
    text: str
    outline: list[dict]
    page_count: int | None
    content_type: str


def check_length(length: int, *, more: str = "") -> None:
    limit = settings.MAX_DOCUMENT_CHARS
    if length > limit:
        raise ExtractionFailed(
            f"This document has {more}{length:,} characters of text; the limit is {limit:,}. "
            "Split it into smaller files and upload them separately."
        )


def clean(text: str) -> str:
    """Apply the content_text conventions: `\\n` newlines, no NULs, no page breaks, valid
    UTF-8, composed characters (NFC), presentation forms as plain letters (NFKC on them:
    the ligature "ﬁ" is "fi", so a search for "file" finds what was set as "ﬁle";
    full-width letters and math italic ones are plain letters) and no soft hyphens. Other
    compatibility characters ("…", "½", "²") keep their meaning and stay."""
    text = _NEWLINES.sub("\n", text.replace("\x00", "").replace(_SOFT_HYPHEN, ""))
    text = _SURROGATES.sub("\ufffd", text)
    text = _PRESENTATION_FORMS.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    return unicodedata.normalize("NFC", text)


def join_broken_words(text: str) -> str:
    """Words hyphenated across a line break joined again: "compres-\\nsion of" becomes
    "compression\\nof". For text laid out in lines (PDF pages, hard-wrapped notes)."""
    if "-\n" not in text:
        return text
    return _BROKEN_WORD.sub(
        lambda m: m.group("rest") + "\n" if m.group("rest")[0].islower() else m.group(0), text
    )
