"""What every reader of an upload produces and shares.

An `ExtractedDocument` (with one of the content types below) or an `ExtractionFailed` with
a reason for the learner; and the two rules every reader's text follows: the conventions
of `Document.content_text` (`clean`) and the length limit from settings (`check_length`).
"""

import re
from dataclasses import dataclass

from django.conf import settings

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MARKDOWN = "text/markdown"
PLAIN_TEXT = "text/plain"

_SURROGATES = re.compile("[\ud800-\udfff]")
_NEWLINES = re.compile("\r\n?|[\f\v\u2028\u2029]")


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
    """Apply the content_text conventions: `\\n` newlines, no NULs, no page breaks, valid UTF-8."""
    text = _NEWLINES.sub("\n", text.replace("\x00", ""))
    return _SURROGATES.sub("\ufffd", text)
