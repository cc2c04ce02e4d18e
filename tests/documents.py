"""Real files for upload and extraction tests, built in memory (each function returns bytes).

PDFs come from fpdf2 (or, for very many pages, a few lines of raw PDF), Word documents
from python-docx; the ZIP bomb and the odd encodings are built by hand. The `*_TEXT`
constants are what the text files decode to, for assertions.
"""

import io
import random
import struct
import textwrap
import zipfile
import zlib
from collections.abc import Sequence

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import parse_xml
from fpdf import FPDF
from fpdf.enums import EncryptionMethod
from PIL import Image, ImageDraw

# --- PDF ---------------------------------------------------------------------------------

# (level, title, 1-based page): the outline of `pdf_with_outline`.
SAMPLE_OUTLINE = [
    (1, "Limits", 1),
    (2, "One-sided limits", 2),
    (2, "Limits at infinity", 2),
    (1, "Derivatives", 3),
    (2, "Product rule", 3),
    (3, "Worked example", 4),
]
SAMPLE_PAGES = [
    "Limits\nA limit describes the value a function approaches.",
    "One-sided limits approach from the left or the right.\nLimits at infinity.",
    "Derivatives\nThe derivative is the slope of the tangent line.",
    "Worked example: differentiate x times sin x with the product rule.",
]


def pdf_with_pages(
    pages: Sequence[str],
    outline: Sequence[tuple[int, str, int]] = (),
    *,
    owner_password: str | None = None,
    user_password: str | None = None,
) -> bytes:
    """A PDF with one page per string (Latin-1 text) and bookmarks.

    `outline` holds (level, title, page) with level 1 at the top and 1-based pages, in
    page order; levels may go down by any amount but up by one at a time. With an
    `owner_password` the file is AES-256 encrypted; it opens without a password unless
    `user_password` is set too.
    """
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for number, text in enumerate(pages, start=1):
        pdf.add_page()
        for level, title, page in outline:
            if page == number:
                pdf.start_section(title, level=level - 1)
        pdf.multi_cell(0, 6, text)
    if owner_password is not None:
        pdf.set_encryption(
            owner_password=owner_password,
            user_password=user_password,
            encryption_method=EncryptionMethod.AES_256,
        )
    return bytes(pdf.output())


def pdf_with_outline() -> bytes:
    """Four pages of calculus (SAMPLE_PAGES) with a three-level outline (SAMPLE_OUTLINE)."""
    return pdf_with_pages(SAMPLE_PAGES, SAMPLE_OUTLINE)


def encrypted_pdf(password: str = "secret") -> bytes:
    """A one-page PDF that needs `password` to open (AES-256)."""
    return pdf_with_pages(
        ["Confidential lecture notes."], owner_password="owner-" + password, user_password=password
    )


def encrypted_pdf_with_empty_user_password() -> bytes:
    """An encrypted PDF with an empty user password: readers open it without asking."""
    return pdf_with_pages(["Lecture notes anyone can open."], owner_password="owner")


def pdf_without_text(page_count: int = 2) -> bytes:
    """A PDF whose pages hold only a picture and some lines, like a scan without OCR."""
    scan = Image.new("L", (400, 560), 235)
    draw = ImageDraw.Draw(scan)
    for y in range(40, 520, 24):
        draw.line((30, y, 370, y), fill=60, width=3)
    buffer = io.BytesIO()
    scan.save(buffer, format="PNG")
    pdf = FPDF()
    for _ in range(page_count):
        pdf.add_page()
        pdf.image(io.BytesIO(buffer.getvalue()), x=10, y=10, w=190)
        pdf.rect(5, 5, 200, 287)
    return bytes(pdf.output())


def truncated_pdf() -> bytes:
    """The first half of a good PDF, as left by a download cut short."""
    whole = pdf_with_outline()
    return whole[: len(whole) // 2]


def pdf_with_many_pages(page_count: int) -> bytes:
    """A PDF with `page_count` tiny pages ("Page 1", "Page 2", …), written directly.

    Cheap at any size (2,000 pages take a few milliseconds), for page-limit tests.
    """
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        None,  # the page tree, once the page numbers are known
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for number in range(1, page_count + 1):
        content = b"BT /F1 12 Tf 72 720 Td (Page %d) Tj ET" % number
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % len(objects)
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), page_count)
    return _raw_pdf(objects)


def _raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF file of `objects` (object i + 1 is objects[i]; object 1 is the catalog)."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


_VOCABULARY = (
    "function limit derivative integral series vector matrix proof theorem lemma "
    "continuity convergence tangent slope area volume rate change sequence bound "
    "the a of to and in is that for with as by on this we it can be are from"
)


_CHAPTER_TOPICS = [
    "Limits",
    "Continuity",
    "Derivatives",
    "Applications of derivatives",
    "Integrals",
    "Techniques of integration",
    "Sequences and series",
    "Vectors",
    "Matrices",
    "Differential equations",
]
_SECTION_TITLES = ["Definitions", "Theorems and proofs", "Applications", "Exercises"]


def course_pdf(page_count: int = 300, seed: int = 0) -> bytes:
    """A realistic course reader: chapters of ten pages, sections of about three.

    Every page has a running header, a page number and a few paragraphs; the outline has
    chapters (level 1), sections (level 2) and the odd subsection (level 3). About 300
    pages take a few seconds to build, so build it once per test class.
    """
    rng = random.Random(seed)
    vocabulary = _VOCABULARY.split()

    class CourseReader(FPDF):
        def header(self):
            self.set_font("helvetica", "I", 8)
            self.cell(0, 8, "Mathematics for Engineers - Course Reader", align="C")
            self.ln(12)

        def footer(self):
            self.set_y(-15)
            self.set_font("helvetica", "I", 8)
            self.cell(0, 10, f"Page {self.page_no()}", align="C")

    pdf = CourseReader()
    pdf.set_auto_page_break(False)
    for number in range(1, page_count + 1):
        pdf.add_page()
        chapter, page_in_chapter = divmod(number - 1, 10)
        pdf.set_font("helvetica", "B", 14)
        if page_in_chapter == 0:
            topic = _CHAPTER_TOPICS[chapter % len(_CHAPTER_TOPICS)]
            title = f"Chapter {chapter + 1}: {topic}"
            pdf.start_section(title, level=0)
            pdf.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
        if page_in_chapter % 3 == 0:
            section = page_in_chapter // 3
            title = f"{chapter + 1}.{section + 1} {_SECTION_TITLES[section]}"
            pdf.start_section(title, level=1)
            pdf.multi_cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
            if page_in_chapter == 3:
                pdf.start_section(f"Worked example {chapter + 1}", level=2)
        pdf.set_font("helvetica", size=10)
        for _ in range(4):
            words = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(60, 90)))
            # Wrapped here: fpdf2's multi_cell would take most of the build time.
            for line in textwrap.wrap(words.capitalize() + ".", 105):
                pdf.cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    return bytes(pdf.output())


# --- DOCX --------------------------------------------------------------------------------

# What `docx_with_headings` holds, for assertions.
DOCX_TABLE_ROWS = [("Week", "Topic", "Reading"), ("1", "Limits", "Chapter 2"), ("2", "Übung", "")]


def docx_with_headings() -> bytes:
    """A Word document: a Title, Heading 1/2/3, body paragraphs, a bulleted list and a table.

    Reading order: Title "Calculus I", a paragraph, Heading 1 "Limits", a paragraph,
    Heading 2 "One-sided limits", two "List Bullet" items, the DOCX_TABLE_ROWS table,
    Heading 1 "Derivatives", Heading 3 "Product rule", a paragraph with a line break.
    """
    document = docx.Document()
    document.add_heading("Calculus I", level=0)
    document.add_paragraph("Lecture notes for the winter term.")
    document.add_heading("Limits", level=1)
    document.add_paragraph("A limit describes the value a function approaches.")
    document.add_heading("One-sided limits", level=2)
    document.add_paragraph("Left-hand limit", style="List Bullet")
    document.add_paragraph("Right-hand limit", style="List Bullet")
    table = document.add_table(rows=len(DOCX_TABLE_ROWS), cols=3)
    for row, values in zip(table.rows, DOCX_TABLE_ROWS, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_heading("Derivatives", level=1)
    document.add_heading("Product rule", level=3)
    paragraph = document.add_paragraph("(fg)' = f'g + fg'")
    paragraph.add_run().add_break()
    paragraph.add_run("Practise it on x sin x.")
    return _save(document)


def docx_with_word_features() -> bytes:
    """A Word document using what real files have beyond plain paragraphs.

    In order: a generated table of contents (a content control; its text must not show
    up), a heading in a custom style that only carries an outline level (as localised
    templates do), "Kept inside a content control", a paragraph with a hyperlink and a
    tracked insertion ("See the notes online, revised."), and a table whose cell holds
    a nested table.
    """
    document = docx.Document()
    body = document.element.body
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    # Raw XML goes before the section properties, which must stay last in the body.
    body.sectPr.addprevious(
        parse_xml(
            f"<w:sdt {w}><w:sdtPr><w:docPartObj><w:docPartGallery w:val="
            '"Table of Contents"/></w:docPartObj></w:sdtPr><w:sdtContent><w:p><w:r>'
            "<w:t>Contents 1</w:t></w:r></w:p></w:sdtContent></w:sdt>"
        )
    )
    style = document.styles.add_style("Kapitel", WD_STYLE_TYPE.PARAGRAPH)
    style.element.get_or_add_pPr().append(parse_xml(f'<w:outlineLvl {w} w:val="1"/>'))
    document.add_paragraph("Grenzwerte", style="Kapitel")
    body.sectPr.addprevious(
        parse_xml(
            f"<w:sdt {w}><w:sdtPr/><w:sdtContent><w:p><w:r><w:t>Kept inside a content "
            "control</w:t></w:r></w:p></w:sdtContent></w:sdt>"
        )
    )
    body.sectPr.addprevious(
        parse_xml(
            f'<w:p {w}><w:r><w:t xml:space="preserve">See the </w:t></w:r><w:hyperlink>'
            '<w:r><w:t>notes online</w:t></w:r></w:hyperlink><w:ins w:id="1" w:author="A">'
            "<w:r><w:t>, revised</w:t></w:r></w:ins><w:r><w:t>.</w:t></w:r></w:p>"
        )
    )
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "Outer"
    inner = table.cell(0, 1).add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "Inner A"
    inner.cell(0, 1).text = "Inner B"
    return _save(document)


def docx_without_text() -> bytes:
    """A valid Word document with only empty paragraphs."""
    document = docx.Document()
    document.add_paragraph("")
    document.add_paragraph("   ")
    return _save(document)


def _save(document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def docx_zip_bomb(uncompressed_mb: int = 1024, member: str = "word/document.xml") -> bytes:
    """A Word document whose `member` unpacks to `uncompressed_mb` MB; about 1 MB on disk.

    The parts of a real document, with `member` replaced (or added) by well-formed XML
    padded with spaces, compressed about 1000 to 1. The ZIP directory tells the truth;
    building one of 1 GB takes a fraction of a second. At most 4095 MB (no ZIP64).
    """
    return _zip_with(docx_with_headings(), _padded_xml(member, uncompressed_mb))


def docx_with_lying_zip_directory(real_mb: int = 300) -> bytes:
    """A Word document whose word/document.xml claims 2 KB but unpacks to `real_mb` MB.

    The ZIP directory lies about the size (and the checksum), to slip past size checks
    that only read it.
    """
    honest = _padded_xml("word/document.xml", real_mb)
    liar = _ZipMember("word/document.xml", honest.deflated, crc=0, size=2048)
    return _zip_with(docx_with_headings(), liar)


# --- crafted files that are costly to read (issue 12) ------------------------------------


def docx_of_empty_paragraphs(paragraphs: int = 400_000) -> bytes:
    """A Word document that is nothing but `paragraphs` empty paragraphs: under 1 MB for
    the default (a ratio near 50:1, under every ZIP-bomb limit) and no text at all, so the
    character limit never triggers; naive reading costs work per paragraph."""
    prefix = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w='
        b'"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
    )
    suffix = b"</w:body></w:document>"
    # Revision ids from a small pool, as Word writes them: compresses like a real file.
    pool = [b'<w:p w:rsidR="00%06X"/>' % (0x1A2B00 + n) for n in range(4)]
    chooser = random.Random(12)
    body = prefix + b"".join(chooser.choice(pool) for _ in range(paragraphs)) + suffix
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = compressor.compress(body) + compressor.flush()
    member = _ZipMember("word/document.xml", deflated, zlib.crc32(body), len(body))
    return _zip_with(docx_with_headings(), member)


def pdf_with_shared_content_stream(pages: int = 25, stream_kb: int = 4096) -> bytes:
    """A PDF of about 16 KB whose `pages` pages all draw one `stream_kb` KB text stream
    (deflated ~250:1), so each page's text extraction parses the whole stream again."""
    operation = b"BT /F1 12 Tf 72 720 Td (a) Tj ET\n"
    content = operation * (stream_kb * 1024 // len(operation) + 1)
    deflated = zlib.compress(content, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        None,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(deflated), deflated),
    ]
    kids = []
    for _ in range(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>"
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), pages)
    return _raw_pdf(objects)


class _ZipMember:
    def __init__(self, name: str, deflated: bytes, crc: int, size: int):
        self.name, self.deflated, self.crc, self.size = name.encode(), deflated, crc, size


def _padded_xml(name: str, size_mb: int) -> "_ZipMember":
    """A WordprocessingML body padded with spaces to `size_mb` MB, deflated cheaply."""
    prefix = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w='
        b'"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
    )
    suffix = b"<w:p><w:r><w:t>Boom</w:t></w:r></w:p></w:body></w:document>"
    megabyte = b" " * (1024 * 1024)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    # A full flush makes each piece self-contained, so one compressed MB can be repeated.
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    padding = compressor.compress(megabyte) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.compress(suffix) + compressor.flush(zlib.Z_FINISH)
    crc = zlib.crc32(prefix)
    for _ in range(size_mb):
        crc = zlib.crc32(megabyte, crc)
    crc = zlib.crc32(suffix, crc)
    size = len(prefix) + len(megabyte) * size_mb + len(suffix)
    return _ZipMember(name, head + padding * size_mb + tail, crc, size)


def _zip_with(document: bytes, replacement: _ZipMember) -> bytes:
    """The ZIP `document` with one member replaced (or added) by pre-compressed data."""
    members = []
    with zipfile.ZipFile(io.BytesIO(document)) as source:
        for info in source.infolist():
            if info.filename == replacement.name.decode():
                continue
            data = source.read(info)
            compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
            deflated = compressor.compress(data) + compressor.flush()
            members.append(_ZipMember(info.filename, deflated, zlib.crc32(data), len(data)))
    members.append(replacement)
    out = bytearray()
    directory = bytearray()
    for member in members:
        fields = (8, 0, 0x21, member.crc, len(member.deflated), member.size, len(member.name), 0)
        directory += struct.pack("<IHHH", 0x02014B50, 20, 20, 0)
        directory += struct.pack("<HHHIIIHH", *fields)
        directory += struct.pack("<HHHII", 0, 0, 0, 0, len(out)) + member.name
        out += struct.pack("<IHH", 0x04034B50, 20, 0) + struct.pack("<HHHIIIHH", *fields)
        out += member.name + member.deflated
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(directory), len(out), 0
    )
    return bytes(out + directory + end)


# --- text and other files ----------------------------------------------------------------

LATIN1_TEXT = "Übung macht den Meister.\nLe café est fermé; une idée naïve.\nGrüße aus Köln.\n"
WINDOWS1252_TEXT = (
    "„Übung“ macht den Meister \u2013 sagt man.\n"
    "The café charges 5 € for a “naïve” question… and œuvres cost more.\n"
)
UNICODE_TEXT = "# Übung\n\nLe café, une idée naïve. Ελληνικά, русский, 日本語 ✓\n"


def latin1_text_file() -> bytes:
    """LATIN1_TEXT encoded as ISO-8859-1, with Windows line endings."""
    return LATIN1_TEXT.replace("\n", "\r\n").encode("latin-1")


def windows1252_text_file() -> bytes:
    """WINDOWS1252_TEXT encoded as Windows-1252 (curly quotes, €, dashes: bytes 0x80 to 0x9F)."""
    return WINDOWS1252_TEXT.encode("cp1252")


def utf16_text_file(byte_order: str = "little") -> bytes:
    """UNICODE_TEXT as UTF-16 with a byte-order mark (little- or big-endian)."""
    encoding = "utf-16-le" if byte_order == "little" else "utf-16-be"
    bom = b"\xff\xfe" if byte_order == "little" else b"\xfe\xff"
    return bom + UNICODE_TEXT.encode(encoding)


def utf8_text_file(*, bom: bool = False) -> bytes:
    """UNICODE_TEXT as UTF-8, optionally with the byte-order mark Windows editors add."""
    return (b"\xef\xbb\xbf" if bom else b"") + UNICODE_TEXT.encode("utf-8")


def random_binary(size: int = 64 * 1024, seed: int = 0) -> bytes:
    """`size` random bytes (always the same for a seed)."""
    return random.Random(seed).randbytes(size)


def windows_executable() -> bytes:
    """The start of a Windows program: MZ header, DOS stub, PE header, mostly zeros."""
    header = bytearray(512)
    header[0:2] = b"MZ"
    header[0x3C:0x40] = struct.pack("<I", 0x80)
    stub = b"This program cannot be run in DOS mode.\r\r\n$"
    header[0x4E : 0x4E + len(stub)] = stub
    header[0x80:0x86] = b"PE\x00\x00\x4c\x01"
    return bytes(header) + random_binary(4096, seed=1)


def png_image() -> bytes:
    """A small PNG picture (a photographed page, say)."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 200, 200)).save(buffer, format="PNG")
    return buffer.getvalue()
