"""Read a Word document (python-docx): paragraphs and tables in order, headings as Markdown
`#` lines and as the outline.

The file is already known to be a ZIP holding `word/document.xml`; before python-docx
parses it, `guard_against_zip_bomb` makes sure it doesn't unpack to too much.
"""

import io
import logging
import re
import zipfile
import zlib
from collections.abc import Iterator

import docx
from django.conf import settings
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.ns import qn
from lxml import etree

from sessions_app.extraction.results import (
    DOCX,
    ExtractedDocument,
    ExtractionFailed,
    check_length,
    clean,
)

logger = logging.getLogger(__name__)

DOCX_DAMAGED = (
    "This Word document is damaged or incomplete and can't be read. "
    "Open it in Word, save it again, then upload the new copy."
)
DOCX_NO_TEXT = "This Word document has no text in it."

# Below this size a member's compression ratio says nothing: tiny parts compress wildly.
_RATIO_CHECK_MIN_BYTES = 1024 * 1024
_ZIP_READ_CHUNK = 1024 * 1024
# python-docx, too, fails on a broken package with whatever error comes up first.
_DOCX_READ_ERRORS = (
    PackageNotFoundError,
    zipfile.BadZipFile,
    etree.LxmlError,
    KeyError,
    ValueError,
    TypeError,
    AttributeError,
    EOFError,
    zlib.error,
)
_HEADING_STYLE = re.compile(r"heading ([1-9])", re.IGNORECASE)
_TOC_STYLE = re.compile(r"toc( \d| heading)?", re.IGNORECASE)


# `<w:p>`, `<w:p/>` or `<w:p ...`: a paragraph (not w:pPr, w:pStyle…).
_PARAGRAPH_START = re.compile(rb"<w:p[\s/>]")


def too_many_paragraphs() -> str:
    return (
        f"This Word document has more than {settings.DOCX_MAX_PARAGRAPHS:,} paragraphs and "
        "tables, more than we read in one file. Split it into smaller files and upload them "
        "separately."
    )


def guard_against_zip_bomb(archive: zipfile.ZipFile) -> None:
    """Refuse a DOCX whose parts would decompress to too much, before anything parses it.

    First the sizes the ZIP directory declares; then every member is decompressed in
    chunks, counting the real output, so a directory that lies can't slip through.
    """
    limit_mb = settings.DOCX_MAX_UNCOMPRESSED_MB
    limit = limit_mb * 1024 * 1024
    max_ratio = settings.DOCX_MAX_COMPRESSION_RATIO
    too_big = ExtractionFailed(
        f"This Word document would unpack to more than {limit_mb:,} MB, so it isn't "
        "read (it may be a “ZIP bomb”). Save it again from Word, or split it, and upload "
        "the new file."
    )
    members = archive.infolist()
    if sum(member.file_size for member in members) > limit:
        raise too_big
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size >= _RATIO_CHECK_MIN_BYTES and ratio > max_ratio:
            raise ExtractionFailed(
                f"This Word document contains a part compressed {ratio:,.0f} to 1 (the "
                f"limit is {max_ratio:,} to 1), which is how “ZIP bombs” are built, so it "
                "isn't read. Save it again from Word and upload the new file."
            )
    unpacked = 0
    paragraphs = 0
    try:
        for member in members:
            counting = member.filename == "word/document.xml"
            tail = b""
            with archive.open(member) as stream:
                while chunk := stream.read(_ZIP_READ_CHUNK):
                    unpacked += len(chunk)
                    if unpacked > limit:
                        raise too_big
                    if counting:
                        # Paragraph starts, before any parsing (the tail catches a tag
                        # split between two chunks): a file of a million empty paragraphs
                        # is refused here in a fraction of a second.
                        joined = tail + chunk
                        paragraphs += len(_PARAGRAPH_START.findall(joined))
                        tail = joined[-5:]
                        paragraphs -= len(_PARAGRAPH_START.findall(tail))
                        if paragraphs > settings.DOCX_MAX_PARAGRAPHS:
                            raise ExtractionFailed(too_many_paragraphs())
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
        # RuntimeError: an encrypted member; NotImplementedError: an exotic compression.
        logger.info("Unreadable DOCX archive: %r", error)
        raise ExtractionFailed(DOCX_DAMAGED) from error


def extract_docx(data: bytes) -> ExtractedDocument:
    try:
        document = docx.Document(io.BytesIO(data))
        heading_levels, skipped_styles = _paragraph_styles(document)
        blocks = []
        outline = []
        length = 0
        for count, (kind, element) in enumerate(_block_elements(document.element.body), 1):
            if count > settings.DOCX_MAX_PARAGRAPHS:
                raise ExtractionFailed(too_many_paragraphs())
            if kind == "table":
                text = "\n".join(_table_rows(element))
            elif element.style in skipped_styles:
                continue
            else:
                text = _paragraph_text(element)
                level = heading_levels.get(element.style)
                if level is None:
                    level = _outline_level(element)
                if level is not None and text:
                    title = " ".join(text.split())  # a heading is one line
                    outline.append({"level": level, "title": title, "page": None})
                    text = f"{'#' * max(level, 1)} {title}"
            if text:
                blocks.append(text)
                length += len(text) + 2
                if length > settings.MAX_DOCUMENT_CHARS:
                    check_length(length, more="more than ")
    except _DOCX_READ_ERRORS as error:
        logger.info("Unreadable DOCX: %r", error, exc_info=True)
        raise ExtractionFailed(DOCX_DAMAGED) from error
    if not blocks:
        raise ExtractionFailed(DOCX_NO_TEXT)
    # Blank lines between blocks, as in Markdown: a paragraph may hold line breaks itself.
    return ExtractedDocument(
        text="\n\n".join(blocks), outline=outline, page_count=None, content_type=DOCX
    )


def _paragraph_styles(document) -> tuple[dict[str, int], set[str]]:
    """Heading level by paragraph style id, and the styles to skip (table of contents)."""
    levels: dict[str, int] = {}
    skipped: set[str] = set()
    for style in document.styles:
        if style.element.get(qn("w:type")) != "paragraph" or not style.style_id:
            continue
        name = (style.name or "").strip()
        if match := _HEADING_STYLE.fullmatch(name):
            levels[style.style_id] = int(match.group(1))
        elif name.lower() == "title":
            levels[style.style_id] = 0  # above the chapters: the document's own title
        elif _TOC_STYLE.fullmatch(name):
            skipped.add(style.style_id)  # a table of contents repeats the headings
        elif level := _outline_level(style.element):
            # A heading style under another name (e.g. a localised or custom template).
            levels[style.style_id] = level
    return levels, skipped


def _outline_level(element) -> int | None:
    """The heading level Word's navigation pane gives this style or paragraph, if any."""
    found = element.find(f"{qn('w:pPr')}/{qn('w:outlineLvl')}")
    if found is None:
        return None
    value = found.get(qn("w:val"), "")
    # 0 to 8 are heading levels 1 to 9; 9 means body text.
    return int(value) + 1 if value.isdigit() and int(value) < 9 else None


def _block_elements(container) -> Iterator[tuple[str, object]]:
    """Paragraphs and tables in document order, including those inside content controls."""
    for child in container.iterchildren():
        if child.tag == qn("w:p"):
            yield "paragraph", child
        elif child.tag == qn("w:tbl"):
            yield "table", child
        elif child.tag == qn("w:sdt"):
            gallery = child.find(f"{qn('w:sdtPr')}/{qn('w:docPartObj')}/{qn('w:docPartGallery')}")
            if gallery is not None and gallery.get(qn("w:val")) == "Table of Contents":
                continue  # a generated table of contents repeats the headings
            content = child.find(qn("w:sdtContent"))
            if content is not None:
                yield from _block_elements(content)
        elif child.tag == qn("w:customXml"):
            yield from _block_elements(child)


# Runs that carry text: plain, in links, tracked insertions, simple fields, smart tags and
# content controls (python-docx's Paragraph.text reads only the first two). Found by walking
# the paragraph's children, not by an XPath query per paragraph: python-docx compiles one
# on every call (~40 µs), which a file of a million empty paragraphs turns into minutes.
_RUN = qn("w:r")
_HYPERLINK = qn("w:hyperlink")
_RUN_CONTAINERS = {qn("w:ins"), qn("w:fldSimple"), qn("w:smartTag")}
_SDT = qn("w:sdt")
_SDT_CONTENT = qn("w:sdtContent")


def _runs(paragraph) -> Iterator:
    """The text-carrying runs of a w:p, in document order."""
    for child in paragraph.iterchildren():
        if child.tag in (_RUN, _HYPERLINK):
            yield child
        elif child.tag in _RUN_CONTAINERS:
            yield from child.iterchildren(_RUN)
        elif child.tag == _SDT:
            content = child.find(_SDT_CONTENT)
            if content is not None:
                yield from content.iterchildren(_RUN)


def _paragraph_text(paragraph) -> str:
    """A w:p's text: tabs as tabs, line breaks as newlines (python-docx's run text)."""
    return clean("".join(run.text for run in _runs(paragraph))).strip()


def _table_rows(table) -> Iterator[str]:
    """One line per row, non-empty cells joined by " | "; nested tables flattened."""
    for row in table.iterchildren(qn("w:tr")):
        cells = []
        for cell in row.iterchildren(qn("w:tc")):
            parts = []
            for kind, element in _block_elements(cell):
                parts.extend(
                    _table_rows(element) if kind == "table" else [_paragraph_text(element)]
                )
            if text := " ".join(" ".join(parts).split()):
                cells.append(text)
        if cells:
            yield " | ".join(cells)
