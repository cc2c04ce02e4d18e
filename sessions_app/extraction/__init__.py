"""Turn one uploaded file into text and an outline, or into a reason a learner understands.

`extract_document` is pure and synchronous (run it in a thread from async code). The type
is decided by the file's content — `%PDF-`, a ZIP holding a Word document, or text that
decodes — and must agree with the file's extension. The text follows the conventions of
`Document.content_text`; limits come from settings at call time. A problem with the file
raises `ExtractionFailed`; any other exception is a bug.

This module decides the type and explains a mismatch between content and name; the
readers are `pdf`, `word` (DOCX) and `text` (Markdown and plain text), and `results`
holds what they all share. Every public name is importable from here.
"""

import io
import logging
import zipfile
from pathlib import Path, PurePath
from typing import BinaryIO

from django.conf import settings

from sessions_app.extraction.pdf import (
    PAGE_BREAK,
    PDF_DAMAGED,
    PDF_ENCRYPTION_UNSUPPORTED,
    PDF_NO_TEXT,
    PDF_PASSWORD,
    extract_pdf,
)
from sessions_app.extraction.results import (
    DOCX,
    MARKDOWN,
    PDF,
    PLAIN_TEXT,
    ExtractedDocument,
    ExtractionFailed,
    check_length,
)
from sessions_app.extraction.text import BLANK_TEXT, decode_text, extract_text
from sessions_app.extraction.word import (
    DOCX_DAMAGED,
    DOCX_NO_TEXT,
    extract_docx,
    guard_against_zip_bomb,
)

__all__ = [
    "BLANK_TEXT",
    "DOCX",
    "DOCX_DAMAGED",
    "DOCX_NO_TEXT",
    "EMPTY_FILE",
    "MARKDOWN",
    "NOT_TEXT",
    "PAGE_BREAK",
    "PDF",
    "PDF_DAMAGED",
    "PDF_ENCRYPTION_UNSUPPORTED",
    "PDF_NO_TEXT",
    "PDF_PASSWORD",
    "PLAIN_TEXT",
    "SUPPORTED",
    "ExtractedDocument",
    "ExtractionFailed",
    "extract_document",
]

logger = logging.getLogger(__name__)

SUPPORTED = "Only PDF, Word (.docx), Markdown and plain-text files are supported."
EMPTY_FILE = "The file is empty. Check that you picked the right file and upload it again."
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

    if _is_pdf(data, extension):
        _expect(extension, "a PDF", ".pdf")
        extracted = extract_pdf(data)
    elif data.startswith(_ZIP_MAGIC):
        extracted = _extract_zip(data, extension)
    elif (text := decode_text(data)) is not None:
        _expect_text(extension, text)
        extracted = extract_text(text, _TEXT_EXTENSIONS.get(extension, PLAIN_TEXT))
    else:
        raise ExtractionFailed(_binary_reason(data, extension))

    check_length(len(extracted.text))
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


def _is_pdf(data: bytes, extension: str = "") -> bool:
    # Readers accept the header anywhere in the first 1024 bytes. A file named as text must
    # start with it: notes about file formats quote "%PDF-" in their first lines.
    if extension in _TEXT_EXTENSIONS:
        return data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"%PDF-")
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


# --- ZIP: a Word document, or something else ---------------------------------------------


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
        guard_against_zip_bomb(archive)
    return extract_docx(data)


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
