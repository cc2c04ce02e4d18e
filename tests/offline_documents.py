"""PDFs shaped like real manuals and papers, for the offline builder's tests (issue 13).

`pdf_with_layout` lays out pages the way LaTeX and DocBook do — a title page, a table of
contents, headings in larger or bold type, running heads and feet — without bookmarks, so
the headings can only come from the layout. `pdf_with_ligatures` is written by hand: its
font maps two codes to the glyphs "fi" and "ffi", as TeX's fonts do, so the extracted
text holds the ligature characters U+FB01 and U+FB03.
"""

from collections.abc import Sequence

from fpdf import FPDF

from tests.documents import _raw_pdf

# (style, text): "title" 24 pt, "chapter" 16 pt bold, "section" 13 pt bold, "bold" 10 pt
# bold (the body size), "body" 10 pt, "toc" a contents line at 10 pt ("tocbold" in bold,
# as LaTeX sets a chapter's), "page" a new page.
Block = tuple[str, str]

_STYLES = {
    "title": ("B", 24, 12),
    "chapter": ("B", 16, 9),
    "section": ("B", 13, 7),
    "bold": ("B", 10, 5),
    "body": ("", 10, 5),
    "toc": ("", 10, 5),
    "tocbold": ("B", 10, 5),
}


def pdf_with_layout(
    blocks: Sequence[Block], *, running_head: str = "", running_head_size: int = 8
) -> bytes:
    """A PDF without bookmarks whose pages hold `blocks`, with a running head (in
    `running_head_size` points) and a page number at the foot of every page."""

    class Manual(FPDF):
        def header(self):
            if running_head:
                self.set_font("helvetica", "I", running_head_size)
                self.cell(0, 8, running_head, align="C")
                self.ln(12)

        def footer(self):
            self.set_y(-15)
            self.set_font("helvetica", "", 8)
            self.cell(0, 10, str(self.page_no()), align="C")

    pdf = Manual()
    pdf.add_page()
    for style, text in blocks:
        if style == "page":
            pdf.add_page()
            continue
        weight, size, height = _STYLES[style]
        pdf.set_font("helvetica", weight, size)
        pdf.multi_cell(0, height, text, new_x="LMARGIN", new_y="NEXT")
        if not style.startswith("toc"):
            pdf.ln(2)
    return bytes(pdf.output())


PAPER_PROSE = (
    "The checksum of a message is computed one byte at a time from a table of partial "
    "results, and the same table serves every message of the same polynomial."
)


def paper_blocks() -> list[Block]:
    """A short paper: a title page with its table of contents, then three sections with
    subsections, numbered as LaTeX numbers them, and a bibliography."""
    return [
        ("title", "Everything we know about checksums"),
        ("body", "Ada Example and Bob Sample"),
        ("body", "September 3, 2010"),
        ("section", "Contents"),
        ("tocbold", "1 Definition of the checksum 2"),
        ("tocbold", "2 Related work 3"),
        ("tocbold", "3 Tricks and tips 4"),
        ("toc", "3.1 Incremental computation . . . . . . . . . . 4"),
        ("toc", "3.2 Changing the initial value . . . . . . . . . 5"),
        ("page", ""),
        ("section", "1 Definition of the checksum"),
        ("body", PAPER_PROSE),
        ("body", PAPER_PROSE),
        ("section", "2 Related work"),
        ("body", PAPER_PROSE),
        ("page", ""),
        ("section", "3 Tricks and tips"),
        ("body", PAPER_PROSE),
        ("bold", "3.1 Incremental computation"),
        ("body", PAPER_PROSE),
        ("bold", "3.2 Changing the initial value"),
        ("body", PAPER_PROSE),
        ("bold", "This bold sentence is emphasis in the text, not a heading"),
        ("body", PAPER_PROSE),
        ("page", ""),
        ("section", "References"),
        ("body", "[1] A. Example. Checksums. 1961."),
    ]


def pdf_with_ligatures() -> bytes:
    """One page: "Definition of CRC" and "Efficient software" set with the fi and ffi
    ligature glyphs, and "compression" hyphenated across two lines ("compres-", "sion of
    data")."""
    font = (
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /Type /Encoding "
        b"/BaseEncoding /WinAnsiEncoding /Differences [1 /fi 2 /ffi] >> >>"
    )
    content = (
        b"BT /F1 12 Tf 72 720 Td (De\\001nition of CRC) Tj 0 -20 Td (E\\002cient software) Tj "
        b"0 -20 Td (Data is stored in compres-) Tj 0 -14 Td (sion of data and a Black-) Tj "
        b"0 -14 Td (Scholes model.) Tj ET"
    )
    return _raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
            font,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        ]
    )


def docx_with_ligatures() -> bytes:
    """A Word document whose heading and text hold ligature characters."""
    import docx

    from tests.documents import _save

    document = docx.Document()
    document.add_heading("E\ufb03cient software", level=1)
    document.add_paragraph("The \ufb01le format.")
    return _save(document)


def slides_pdf(slides: Sequence[str]) -> bytes:
    """A slide deck exported to PDF without bookmarks: one landscape page per slide (its
    first line the title, in large type, the first slide's larger still), bullets in
    18 pt, and a small running foot with the slide number."""
    pdf = FPDF(orientation="L")
    pdf.set_auto_page_break(False)
    for number, slide in enumerate(slides, start=1):
        pdf.add_page()
        title, *bullets = slide.split("\n")
        pdf.set_font("helvetica", "B", 32 if number == 1 else 24)
        pdf.multi_cell(0, 14, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", "", 18)
        for bullet in bullets:
            pdf.multi_cell(0, 10, bullet, new_x="LMARGIN", new_y="NEXT")
        pdf.set_y(-15)
        pdf.set_font("helvetica", "", 10)
        pdf.cell(0, 10, f"Calculus I - Lecture 4   {number}/{len(slides)}")
    return bytes(pdf.output())
