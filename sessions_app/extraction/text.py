"""Decode a Markdown or plain-text file (BOM, UTF-8, or charset-normalizer's best guess).

`decode_text` also serves the type decision: text that doesn't decode, or decodes to
something that looks binary, isn't a text file.
"""

import re
import unicodedata

import charset_normalizer

from sessions_app.extraction.results import (
    ExtractedDocument,
    ExtractionFailed,
    clean,
    join_broken_words,
)

BLANK_TEXT = "The file is empty: it holds only spaces and blank lines."

# Control characters that don't occur in text (tab, newline, carriage return, form feed
# and vertical tab do).
_BINARY_CONTROLS = re.compile("[\x01-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f]")
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


def decode_text(data: bytes) -> str | None:
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


def extract_text(text: str, content_type: str) -> ExtractedDocument:
    text = join_broken_words(clean(text.removeprefix("\ufeff")))
    if not text.strip():
        raise ExtractionFailed(BLANK_TEXT)
    return ExtractedDocument(text=text, outline=[], page_count=None, content_type=content_type)
