"""Read a PDF (pypdf): the text of every page, separated by page breaks, and its bookmarks
(or, without bookmarks, the headings its layout shows: sessions_app.extraction.layout).

The file is already known to be a PDF (`%PDF-` near its start); what fails here is a
damaged, password-protected, scanned or oversized one.
"""

import io
import logging
import zlib
from collections.abc import Iterator

from django.conf import settings
from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, PyPdfError

from sessions_app.extraction.layout import LayoutLines, headings_from_layout
from sessions_app.extraction.results import (
    PDF,
    ExtractedDocument,
    ExtractionFailed,
    clean,
    join_broken_words,
)

logger = logging.getLogger(__name__)

# Fewer bookmarks than this (often just the document's title) say little about its
# structure: the headings are then found from the page layout.
MIN_BOOKMARKS = 3

PAGE_BREAK = "\f"  # Document.PAGE_BREAK

PDF_PASSWORD = "This PDF is password-protected. Remove the password and upload it again."
PDF_NO_TEXT = (
    "No text found — is this a scanned PDF? Run it through text recognition (OCR) "
    "or export a PDF with selectable text, then upload it again."
)
PDF_DAMAGED = (
    "This PDF is damaged or incomplete and can't be read. "
    "Download or export it again, then upload the new copy."
)
PDF_ENCRYPTION_UNSUPPORTED = (
    "This PDF is encrypted in a way we can't open. Save an unprotected copy "
    "(for example with “Print to PDF”) and upload that."
)

# pypdf raises all sorts of errors on broken files; each means "can't read this PDF".
_PDF_READ_ERRORS = (
    PyPdfError,
    NotImplementedError,  # e.g. a filter pypdf doesn't know
    DependencyError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    AssertionError,
    RecursionError,
    zlib.error,
)


def extract_pdf(data: bytes) -> ExtractedDocument:
    # A download cut short loses its end; readers look for %%EOF in the last kilobyte.
    if b"%%EOF" not in data[-1024:]:
        raise ExtractionFailed(PDF_DAMAGED)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        _unlock(reader)
        _check_page_count(_declared_page_count(reader))
        page_count = len(reader.pages)
    except (DependencyError, NotImplementedError) as error:
        # pypdf knows only the standard password handler (not certificates, say).
        logger.info("Unsupported PDF: %r", error)
        if b"/Encrypt" in data:
            raise ExtractionFailed(PDF_ENCRYPTION_UNSUPPORTED) from error
        raise ExtractionFailed(PDF_DAMAGED) from error
    except _PDF_READ_ERRORS as error:
        logger.info("Unreadable PDF: %r", error, exc_info=True)
        raise ExtractionFailed(PDF_DAMAGED) from error
    if page_count == 0:
        raise ExtractionFailed(PDF_DAMAGED)
    _check_page_count(page_count)

    outline = _pdf_outline(reader, page_count)
    # Without bookmarks, the headings are read from the layout as the text is extracted.
    layout = LayoutLines() if len(outline) < MIN_BOOKMARKS else None
    pages = []
    length = 0
    content = _ContentBudget()
    for number, page in enumerate(reader.pages, start=1):
        try:
            content.charge(page, number)
            if layout is None:
                text = page.extract_text()
            else:
                layout.start_page(number - 1)
                text = page.extract_text(visitor_text=layout)
        except _PDF_READ_ERRORS as error:
            logger.info("Unreadable text on PDF page %d: %r", number, error, exc_info=True)
            raise ExtractionFailed(
                f"Page {number} of this PDF is damaged and its text can't be read. "
                "Export or print the document to a new PDF, then upload that."
            ) from error
        text = join_broken_words(clean(text))
        pages.append(text)
        length += len(text) + 1
        if length - 1 > settings.MAX_DOCUMENT_CHARS:
            # Stop here: reading the rest only costs time and memory.
            raise ExtractionFailed(
                f"This PDF has too much text: {length - 1:,} characters by page {number} "
                f"of {page_count:,}, and the limit is {settings.MAX_DOCUMENT_CHARS:,} for a "
                "document. Split it into smaller files and upload them separately."
            )
    if not any(text.strip() for text in pages):
        raise ExtractionFailed(PDF_NO_TEXT)
    if layout is not None:
        outline = headings_from_layout(layout.finish(), _title) or outline
    return ExtractedDocument(
        text=PAGE_BREAK.join(pages),
        outline=outline,
        page_count=page_count,
        content_type=PDF,
    )


class _ContentBudget:
    """Caps on the drawing instructions a PDF makes us parse (issue 12), whatever text they
    yield: PDF_MAX_PAGE_CONTENT_KB per page and PDF_MAX_CONTENT_MB for the file. A stream
    shared by many pages counts on every page (each page parses it again); it is
    decompressed once to be measured."""

    def __init__(self):
        self.total = 0
        self._sizes: dict[tuple[int, int], int] = {}

    def charge(self, page, number: int) -> None:
        size = sum(self._size(stream) for stream in _content_streams(page))
        page_limit = settings.PDF_MAX_PAGE_CONTENT_KB * 1024
        if size > page_limit:
            raise ExtractionFailed(
                f"Page {number} of this PDF holds {size / 1024 / 1024:,.1f} MB of drawing "
                f"instructions; the limit is {page_limit / 1024 / 1024:,.1f} MB a page. "
                "Print or export it to a new PDF, or split it, and upload that."
            )
        self.total += size
        if self.total > settings.PDF_MAX_CONTENT_MB * 1024 * 1024:
            raise ExtractionFailed(
                f"This PDF holds more than {settings.PDF_MAX_CONTENT_MB:,} MB of drawing "
                f"instructions by page {number}, more than we read in one file. Split it "
                "into smaller files and upload them separately."
            )

    def _size(self, reference) -> int:
        key = (reference.idnum, reference.generation) if hasattr(reference, "idnum") else None
        if key is not None and key in self._sizes:
            return self._sizes[key]
        stream = reference.get_object()
        size = len(stream.get_data()) if hasattr(stream, "get_data") else 0
        if key is not None:
            self._sizes[key] = size
        return size


def _content_streams(page) -> list:
    """The page's /Contents: one stream or an array of them, as (indirect) references."""
    contents = page.get("/Contents")
    if contents is None:
        return []
    resolved = contents.get_object()
    if isinstance(resolved, list):
        return list(resolved)
    return [contents]


def _unlock(reader: PdfReader) -> None:
    if not reader.is_encrypted:
        return
    unlocked = reader.decrypt("")
    if unlocked == PasswordType.NOT_DECRYPTED:
        raise ExtractionFailed(PDF_PASSWORD)


def _declared_page_count(reader: PdfReader) -> int:
    """The page count the file declares: cheap, so a huge PDF fails before its pages load."""
    count = reader.root_object["/Pages"].get_object().get("/Count", 0)
    return count if isinstance(count, int) else 0


def _check_page_count(page_count: int) -> None:
    limit = settings.MAX_PDF_PAGES
    if page_count > limit:
        raise ExtractionFailed(
            f"This PDF has {page_count:,} pages; the limit is {limit:,}. "
            "Split it into smaller files and upload them separately."
        )


def _pdf_outline(reader: PdfReader, page_count: int) -> list[dict]:
    """The bookmarks in reading order; a broken outline is dropped, not fatal."""
    try:
        return list(_flatten_outline(reader, reader.outline, 1, page_count))
    except _PDF_READ_ERRORS as error:
        logger.info("Unreadable PDF outline: %r", error)
        return []


def _flatten_outline(reader: PdfReader, items: list, level: int, page_count: int) -> Iterator:
    for item in items:
        if isinstance(item, list):
            # pypdf bounds the depth (Configuration.outline_maximum_depth).
            yield from _flatten_outline(reader, item, level + 1, page_count)
            continue
        title = _title(str(item.title or ""))
        if not title:
            continue
        index = reader.get_destination_page_number(item)
        page = index + 1 if isinstance(index, int) and 0 <= index < page_count else None
        yield {"level": level, "title": title, "page": page}


def _title(text: str) -> str:
    return " ".join(clean(text).split())
