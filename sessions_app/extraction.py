"""Turn one uploaded file into text and an outline, or into a reason a learner understands.

`extract_document` is pure and synchronous (run it in a thread from async code). The type
is decided by the file's content — `%PDF-`, a ZIP holding a Word document, or text that
decodes — and must agree with the file's extension. The text follows the conventions of
`Document.content_text`; limits come from settings at call time. A problem with the file
raises `ExtractionFailed`; any other exception is a bug.
"""

import io
import logging
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import BinaryIO

import charset_normalizer
import docx
from django.conf import settings
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.ns import qn
from lxml import etree
from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, PyPdfError

logger = logging.getLogger(__name__)

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MARKDOWN = "text/markdown"
PLAIN_TEXT = "text/plain"

PAGE_BREAK = "\f"  # Document.PAGE_BREAK

SUPPORTED = "Only PDF, Word (.docx), Markdown and plain-text files are supported."
EMPTY_FILE = "The file is empty. Check that you picked the right file and upload it again."
BLANK_TEXT = "The file is empty: it holds only spaces and blank lines."
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
DOCX_DAMAGED = (
    "This Word document is damaged or incomplete and can't be read. "
    "Open it in Word, save it again, then upload the new copy."
)
DOCX_NO_TEXT = "This Word document has no text in it."
NOT_TEXT = (
    "This doesn't look like a text file: its content is binary data, not readable text. "
    "Save your notes as plain text (.txt) or Markdown (.md) and upload them again."
)

_TEXT_EXTENSIONS = {".md": MARKDOWN, ".markdown": MARKDOWN, ".txt": PLAIN_TEXT}
_EXTENSION_HINTS = {
    ".doc": "Old Word (.doc) files can't be read. Open it in Word, save it as .docx "
    "and upload that.",
    ".dot": "Old Word (.doc) files can't be read. Open it in Word, save it as .docx "
    "and upload that.",
    ".docm": "Word files with macros (.docm) can't be read. Save it as a plain Word "
    "document (.docx) and upload that.",
    ".dotx": "Word templates (.dotx) can't be read. Save it as a Word document (.docx) "
    "and upload that.",
    ".rtf": f"{SUPPORTED} Save this file as .docx or PDF and upload that.",
    ".odt": f"{SUPPORTED} Save this file as .docx or PDF and upload that.",
    ".pages": f"{SUPPORTED} Export this file as .docx or PDF and upload that.",
    ".ppt": f"{SUPPORTED} Export your slides as PDF and upload that.",
    ".pptx": f"{SUPPORTED} Export your slides as PDF and upload that.",
    ".odp": f"{SUPPORTED} Export your slides as PDF and upload that.",
    ".key": f"{SUPPORTED} Export your slides as PDF and upload that.",
}
_IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".heic", ".tif", ".tiff", ".bmp"}
_IMAGE_HINT = f"{SUPPORTED} Pictures can't be read: upload the text as a PDF, Word or text file."

_OLD_OFFICE = "an old Office file (.doc, .xls or .ppt)"
_SAVE_AS_DOCX = "Open it in Word or LibreOffice, save it as .docx or PDF and upload that."
# Binary formats a learner might pick by mistake, by their first bytes: what each is, and
# what to do about it.
_SIGNATURES = [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", _OLD_OFFICE, _SAVE_AS_DOCX),
    (b"MZ", "a Windows program (.exe)", SUPPORTED),
    (b"\x7fELF", "a program", SUPPORTED),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", _IMAGE_HINT),
    (b"\xff\xd8\xff", "a JPEG image", _IMAGE_HINT),
    (b"GIF8", "a GIF image", _IMAGE_HINT),
    (b"II*\x00", "a TIFF image", _IMAGE_HINT),
    (b"MM\x00*", "a TIFF image", _IMAGE_HINT),
    (b"\x1f\x8b", "a compressed archive (.gz)", SUPPORTED),
    (b"Rar!\x1a\x07", "a compressed archive (.rar)", SUPPORTED),
    (b"7z\xbc\xaf\x27\x1c", "a compressed archive (.7z)", SUPPORTED),
    (b"%!PS", "a PostScript file", "Convert it to PDF and upload that."),
]
# How Office marks a password-protected document (the name of its encrypted stream).
_OFFICE_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# Below this size a member's compression ratio says nothing: tiny parts compress wildly.
_RATIO_CHECK_MIN_BYTES = 1024 * 1024
_ZIP_READ_CHUNK = 1024 * 1024
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
_SURROGATES = re.compile("[\ud800-\udfff]")
_NEWLINES = re.compile("\r\n?|[\f\v\u2028\u2029]")
# Control characters that don't occur in text (tab, newline, carriage return, form feed
# and vertical tab do).
_BINARY_CONTROLS = re.compile("[\x01-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f]")


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


def extract_document(file: BinaryIO | str | Path, original_name: str) -> ExtractedDocument:
    """Extract the text and outline of one uploaded file.

    `file` is an open binary file (read from the start) or a path; `original_name` is the
    name the learner gave it, whose extension must agree with the content. Raises
    ExtractionFailed with a reason for the learner.
    """
    extension = _extension(original_name)
    if extension not in (".pdf", ".docx", "", *_TEXT_EXTENSIONS):
        raise ExtractionFailed(_unsupported_extension_reason(extension))
    data = _read(file)
    if not data:
        raise ExtractionFailed(EMPTY_FILE)

    if _is_pdf(data):
        _expect(extension, "a PDF", ".pdf")
        extracted = _extract_pdf(data)
    elif data.startswith(_ZIP_MAGIC):
        extracted = _extract_zip(data, extension)
    elif (text := _decode_text(data)) is not None:
        _expect_text(extension, text)
        extracted = _extract_text(text, _TEXT_EXTENSIONS.get(extension, PLAIN_TEXT))
    else:
        raise ExtractionFailed(_binary_reason(data, extension))

    _check_length(len(extracted.text))
    return extracted


# --- type and extension ------------------------------------------------------------------


def _extension(original_name: str) -> str:
    name = original_name.strip().rstrip(".").replace("\\", "/").rsplit("/", 1)[-1]
    return PurePath(name).suffix.lower() if name else ""


def _unsupported_extension_reason(extension: str) -> str:
    if extension in _EXTENSION_HINTS:
        return _EXTENSION_HINTS[extension]
    if extension in _IMAGE_EXTENSIONS:
        return _IMAGE_HINT
    return SUPPORTED


def _is_pdf(data: bytes) -> bool:
    # Readers accept the header anywhere in the first 1024 bytes.
    return b"%PDF-" in data[:1024]


def _expect(extension: str, actual: str, actual_extension: str | None, fix: str = "") -> None:
    """Fail unless the name's extension fits the content found.

    `actual` says what the file really is ("a PDF"); `actual_extension` is the extension
    that would fit it, None when the content isn't a supported type at all; `fix` is the
    learner's next step (by default: rename it).
    """
    if not extension or extension == actual_extension:
        return
    if actual_extension == ".txt" and extension in _TEXT_EXTENSIONS:
        return
    raise ExtractionFailed(_mismatch_reason(extension, actual, actual_extension, fix))


def _mismatch_reason(
    extension: str, actual: str, actual_extension: str | None, fix: str = ""
) -> str:
    if not fix:
        fix = (
            f"Rename it to end in {actual_extension} and upload it again."
            if actual_extension
            else SUPPORTED
        )
    if extension in _TEXT_EXTENSIONS:
        return f"This doesn't look like a text file: it is {actual}. {fix}"
    named = "a PDF" if extension == ".pdf" else "a Word document"
    return f"This file is named {extension} but it is {actual}, not {named}. {fix}"


def _expect_text(extension: str, text: str) -> None:
    start = text.lstrip("\ufeff \t\r\n")[:100].lower()
    if start.startswith("{\\rtf"):
        raise ExtractionFailed(
            f"This is a Rich Text (.rtf) document. {SUPPORTED} "
            "Save it as .docx or PDF and upload that."
        )
    if start.startswith(("<!doctype html", "<html")) and extension in (".pdf", ".docx"):
        raise ExtractionFailed(
            f"This file is named {extension} but it is a web page (HTML): the download "
            "probably failed. Download the file again and upload the new copy."
        )
    _expect(extension, "plain text", ".txt", "Rename it to end in .txt, or upload the real file.")


def _binary_reason(data: bytes, extension: str) -> str:
    """Why a file that is neither PDF, DOCX nor text is refused, naming what it seems to be."""
    if data.startswith(_SIGNATURES[0][0]) and _OFFICE_ENCRYPTED in data:
        if extension == ".docx":
            return (
                "This Word document is password-protected. Remove the password in Word "
                "and upload it again."
            )
        return f"This is a password-protected Office document. {SUPPORTED}"
    known = next(((a, f) for magic, a, f in _SIGNATURES if data.startswith(magic)), None)
    if known:
        actual, fix = known
    elif extension in ("", *_TEXT_EXTENSIONS):
        return NOT_TEXT
    else:
        actual = "binary data we can't read"
        fix = (
            "If it should be a PDF, download or export it again."
            if extension == ".pdf"
            else "If it should be a Word document, save it again from Word."
        )
    if not extension:
        return f"This file seems to be {actual}. {fix}"
    return _mismatch_reason(extension, actual, None, fix)


def _read(file: BinaryIO | str | Path) -> bytes:
    """The whole file, refusing to read more than the upload limit."""
    limit = settings.MAX_UPLOAD_MB * 1024 * 1024
    if isinstance(file, str | Path):
        with open(file, "rb") as opened:
            data = opened.read(limit + 1)
    else:
        if hasattr(file, "seek"):
            file.seek(0)
        data = file.read(limit + 1)
    if len(data) > limit:
        raise ExtractionFailed(
            f"This file is larger than the {settings.MAX_UPLOAD_MB} MB limit. "
            "Split it or compress it, then upload it again."
        )
    return data


def _check_length(length: int, *, more: str = "") -> None:
    limit = settings.MAX_DOCUMENT_CHARS
    if length > limit:
        raise ExtractionFailed(
            f"This document has {more}{length:,} characters of text; the limit is {limit:,}. "
            "Split it into smaller files and upload them separately."
        )


def _clean(text: str) -> str:
    """Apply the content_text conventions: `\\n` newlines, no NULs, no page breaks, valid UTF-8."""
    text = _NEWLINES.sub("\n", text.replace("\x00", ""))
    return _SURROGATES.sub("\ufffd", text)


# --- PDF ---------------------------------------------------------------------------------


def _extract_pdf(data: bytes) -> ExtractedDocument:
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

    pages = []
    length = 0
    for number, page in enumerate(reader.pages, start=1):
        try:
            text = page.extract_text()
        except _PDF_READ_ERRORS as error:
            logger.info("Unreadable text on PDF page %d: %r", number, error, exc_info=True)
            raise ExtractionFailed(
                f"Page {number} of this PDF is damaged and its text can't be read. "
                "Export or print the document to a new PDF, then upload that."
            ) from error
        text = _clean(text)
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
    return ExtractedDocument(
        text=PAGE_BREAK.join(pages),
        outline=_pdf_outline(reader, page_count),
        page_count=page_count,
        content_type=PDF,
    )


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
        title = " ".join(_clean(str(item.title or "")).split())
        if not title:
            continue
        index = reader.get_destination_page_number(item)
        page = index + 1 if isinstance(index, int) and 0 <= index < page_count else None
        yield {"level": level, "title": title, "page": page}


# --- DOCX --------------------------------------------------------------------------------


def _extract_zip(data: bytes, extension: str) -> ExtractedDocument:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as error:
        logger.info("Unreadable ZIP: %r", error)
        if extension in ("", ".docx"):
            raise ExtractionFailed(DOCX_DAMAGED) from error
        raise ExtractionFailed(
            _mismatch_reason(extension, "a damaged ZIP archive", None, SUPPORTED)
        ) from error
    with archive:
        names = set(archive.namelist())
        if "word/document.xml" not in names:
            actual, fix = _describe_zip(names)
            if not extension:
                raise ExtractionFailed(f"This file is {actual}. {fix}")
            raise ExtractionFailed(_mismatch_reason(extension, actual, None, fix))
        _expect(extension, "a Word document (.docx)", ".docx")
        _guard_against_zip_bomb(archive)
    return _extract_docx(data)


def _describe_zip(names: set[str]) -> tuple[str, str]:
    """What a ZIP that isn't a Word document holds, and what to do instead."""
    if "ppt/presentation.xml" in names:
        return (
            "a PowerPoint presentation",
            f"{SUPPORTED} Export your slides as PDF and upload that.",
        )
    if "xl/workbook.xml" in names:
        return "an Excel spreadsheet", SUPPORTED
    if "content.xml" in names:
        return "an OpenDocument file", f"{SUPPORTED} Save it as .docx or PDF and upload that."
    if "META-INF/container.xml" in names:
        return "an e-book (EPUB)", SUPPORTED
    return "a ZIP archive", SUPPORTED


def _guard_against_zip_bomb(archive: zipfile.ZipFile) -> None:
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
    try:
        for member in members:
            with archive.open(member) as stream:
                while chunk := stream.read(_ZIP_READ_CHUNK):
                    unpacked += len(chunk)
                    if unpacked > limit:
                        raise too_big
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
        # RuntimeError: an encrypted member; NotImplementedError: an exotic compression.
        logger.info("Unreadable DOCX archive: %r", error)
        raise ExtractionFailed(DOCX_DAMAGED) from error


def _extract_docx(data: bytes) -> ExtractedDocument:
    try:
        document = docx.Document(io.BytesIO(data))
        heading_levels, skipped_styles = _paragraph_styles(document)
        blocks = []
        outline = []
        length = 0
        for kind, element in _block_elements(document.element.body):
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
                    _check_length(length, more="more than ")
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
# content controls (python-docx's Paragraph.text reads only the first two).
_RUNS = "w:r | w:hyperlink | w:ins/w:r | w:fldSimple/w:r | w:smartTag/w:r | w:sdt/w:sdtContent/w:r"


def _paragraph_text(paragraph) -> str:
    """A w:p's text: tabs as tabs, line breaks as newlines (python-docx's run text)."""
    return _clean("".join(run.text for run in paragraph.xpath(_RUNS))).strip()


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


# --- Markdown and plain text -------------------------------------------------------------

_BOMS = [
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
]
# When charset-normalizer finds several encodings equally likely, these are the usual
# suspects for Western European text (it otherwise may pick cp1250 and turn ï into ď).
_PREFERRED_ENCODINGS = ("cp1252", "latin_1", "iso8859_15")


def _decode_text(data: bytes) -> str | None:
    """The file's text, or None if it isn't text in any encoding we can detect."""
    for decode in (_decode_by_bom, _decode_utf8, _decode_mostly_utf8, _decode_detected):
        text = decode(data)
        if text is not None and not _looks_binary(text):
            return text
    return None


def _decode_by_bom(data: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                return None
    return None


def _decode_utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _decode_mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with a few stray bytes (a pasted Windows-1252 quote, say): keep the UTF-8.

    Real UTF-8 has many valid multi-byte characters; text in a single-byte encoding has
    next to none, so it goes on to detection.
    """
    text = data.decode("utf-8", errors="replace")
    replaced = text.count("\ufffd")
    # Bytes beyond one per character: 1 to 3 per valid non-ASCII character, 2 per U+FFFD.
    multibyte = len(text.encode("utf-8")) - len(text) - 2 * replaced
    return text if multibyte >= 10 * replaced else None


def _decode_detected(data: bytes) -> str | None:
    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        return None
    for match in matches:
        if (
            match.encoding in _PREFERRED_ENCODINGS
            and match.chaos == best.chaos
            and match.coherence == best.coherence
        ):
            best = match
            break
    return str(best)


def _looks_binary(text: str) -> bool:
    """Whether decoded "text" is really binary data (or text in the wrong encoding).

    Stray NULs are tolerated (they are stripped later); many mean binary data or UTF-16
    read as something else. Other control characters that text never has, and code
    points that aren't characters, may make up at most 1 in 100.
    """
    sample = text[:100_000]
    if sample.count("\x00") * 10 > len(sample):
        return True
    suspicious = len(_BINARY_CONTROLS.findall(sample))
    suspicious += sum(1 for char in sample if unicodedata.category(char) in ("Cn", "Co", "Cs"))
    return suspicious * 100 > len(sample)


def _extract_text(text: str, content_type: str) -> ExtractedDocument:
    text = _clean(text.removeprefix("\ufeff"))
    if not text.strip():
        raise ExtractionFailed(BLANK_TEXT)
    return ExtractedDocument(text=text, outline=[], page_count=None, content_type=content_type)
