"""Extraction of uploaded files into text and outline (sessions_app.extraction), on real files."""

import io
import random
import tempfile
import zipfile
from contextlib import suppress
from pathlib import Path

from django.test import SimpleTestCase, override_settings

from sessions_app import extraction
from sessions_app.extraction import ExtractionFailed, extract_document
from tests import documents


def extract(data: bytes, name: str):
    return extract_document(io.BytesIO(data), name)


class ExtractionTestCase(SimpleTestCase):
    def assertFails(self, data: bytes, name: str, reason: str):
        with self.assertRaises(ExtractionFailed) as failure:
            extract(data, name)
        self.assertEqual(failure.exception.reason, reason)


class PdfExtractionTests(ExtractionTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.document = extract(documents.pdf_with_outline(), "calculus.pdf")

    def test_pages_are_separated_by_form_feeds(self):
        self.assertEqual(self.document.text.split("\f"), documents.SAMPLE_PAGES)

    def test_outline_has_levels_and_one_based_page_numbers(self):
        self.assertEqual(
            self.document.outline,
            [
                {"level": level, "title": title, "page": page}
                for level, title, page in documents.SAMPLE_OUTLINE
            ],
        )

    def test_type_and_page_count_are_reported(self):
        self.assertEqual(self.document.content_type, "application/pdf")
        self.assertEqual(self.document.page_count, 4)

    def test_blank_pages_keep_their_place_so_page_numbers_line_up(self):
        pdf = documents.pdf_with_pages(["Limits", "", "Derivatives"], [(1, "Derivatives", 3)])
        document = extract(pdf, "notes.pdf")
        self.assertEqual(document.text, "Limits\f\fDerivatives")
        self.assertEqual(document.outline, [{"level": 1, "title": "Derivatives", "page": 3}])

    def test_pdf_encrypted_with_an_empty_user_password_opens(self):
        document = extract(documents.encrypted_pdf_with_empty_user_password(), "notes.pdf")
        self.assertEqual(document.text, "Lecture notes anyone can open.")

    def test_pdf_without_bookmarks_has_an_empty_outline(self):
        document = extract(documents.pdf_with_many_pages(3), "notes.pdf")
        self.assertEqual(document.text, "Page 1\fPage 2\fPage 3")
        self.assertEqual(document.outline, [])

    def test_header_after_leading_junk_is_still_found(self):
        document = extract(b"garbage line\n" * 20 + documents.pdf_with_outline(), "notes.pdf")
        self.assertEqual(document.page_count, 4)

    def test_a_pdf_without_extension_is_recognised_by_content(self):
        self.assertEqual(
            extract(documents.pdf_with_outline(), "notes").content_type, extraction.PDF
        )


class DocxExtractionTests(ExtractionTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.document = extract(documents.docx_with_headings(), "calculus.docx")
        cls.lines = cls.document.text.split("\n")

    def test_heading_styles_become_atx_markers_by_level(self):
        for line in ["# Calculus I", "# Limits", "## One-sided limits", "### Product rule"]:
            self.assertIn(line, self.lines)

    def test_outline_lists_title_and_headings_without_pages(self):
        # Word's Title style sits above the chapters: level 0.
        self.assertEqual(
            self.document.outline,
            [
                {"level": 0, "title": "Calculus I", "page": None},
                {"level": 1, "title": "Limits", "page": None},
                {"level": 2, "title": "One-sided limits", "page": None},
                {"level": 1, "title": "Derivatives", "page": None},
                {"level": 3, "title": "Product rule", "page": None},
            ],
        )

    def test_paragraphs_lists_and_tables_keep_document_order(self):
        self.assertEqual(
            self.document.text,
            "# Calculus I\n\n"
            "Lecture notes for the winter term.\n\n"
            "# Limits\n\n"
            "A limit describes the value a function approaches.\n\n"
            "## One-sided limits\n\n"
            "Left-hand limit\n\n"
            "Right-hand limit\n\n"
            "Week | Topic | Reading\n"
            "1 | Limits | Chapter 2\n"
            "2 | Übung\n\n"
            "# Derivatives\n\n"
            "### Product rule\n\n"
            "(fg)' = f'g + fg'\n"
            "Practise it on x sin x.",
        )

    def test_a_table_row_is_one_line_of_cells_joined_by_pipes(self):
        self.assertIn("1 | Limits | Chapter 2", self.lines)

    def test_type_is_detected_and_there_is_no_page_count(self):
        self.assertEqual(self.document.content_type, extraction.DOCX)
        self.assertIsNone(self.document.page_count)


class DocxFeatureTests(ExtractionTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.document = extract(documents.docx_with_word_features(), "notes.docx")

    def test_generated_table_of_contents_is_left_out(self):
        self.assertNotIn("Contents 1", self.document.text)

    def test_style_with_only_an_outline_level_is_a_heading(self):
        self.assertEqual(self.document.outline, [{"level": 2, "title": "Grenzwerte", "page": None}])
        self.assertTrue(self.document.text.startswith("## Grenzwerte\n\n"))

    def test_text_in_content_controls_links_and_tracked_insertions_is_kept(self):
        self.assertIn("Kept inside a content control", self.document.text)
        self.assertIn("See the notes online, revised.", self.document.text)

    def test_nested_table_is_flattened_into_its_row(self):
        self.assertTrue(self.document.text.endswith("\n\nOuter | Inner A | Inner B"))


class TextExtractionTests(ExtractionTestCase):
    def test_latin1_decodes_with_accents(self):
        document = extract(documents.latin1_text_file(), "notes.txt")
        self.assertEqual(document.text, documents.LATIN1_TEXT)
        self.assertIn("Übung", document.text)
        self.assertIn("naïve", document.text)

    def test_windows1252_decodes_quotes_dashes_and_euro(self):
        document = extract(documents.windows1252_text_file(), "notes.txt")
        self.assertEqual(document.text, documents.WINDOWS1252_TEXT)

    def test_utf16_with_bom_decodes_in_both_byte_orders(self):
        for byte_order in ["little", "big"]:
            with self.subTest(byte_order):
                document = extract(documents.utf16_text_file(byte_order), "notes.md")
                self.assertEqual(document.text, documents.UNICODE_TEXT)

    def test_utf8_bom_is_dropped(self):
        document = extract(documents.utf8_text_file(bom=True), "notes.md")
        self.assertEqual(document.text, documents.UNICODE_TEXT)

    def test_newlines_are_normalised_and_nul_bytes_stripped(self):
        document = extract(b"Limits\r\nDerivatives\rIntegr\x00als\n", "notes.txt")
        self.assertEqual(document.text, "Limits\nDerivatives\nIntegrals\n")

    def test_utf8_with_one_stray_windows1252_byte_stays_utf8(self):
        document = extract("café ".encode() * 20 + b"\x93quoted", "notes.txt")
        self.assertTrue(document.text.startswith("café café"))

    def test_markdown_and_plain_text_types_follow_the_extension(self):
        data = documents.utf8_text_file()
        self.assertEqual(extract(data, "notes.md").content_type, "text/markdown")
        self.assertEqual(extract(data, "notes.markdown").content_type, "text/markdown")
        self.assertEqual(extract(data, "notes.txt").content_type, "text/plain")
        self.assertEqual(extract(data, "README").content_type, "text/plain")

    def test_notes_that_quote_the_pdf_header_are_read_as_text(self):
        # Notes about file formats quote magic numbers; found in the first kilobyte, the
        # header made these notes "a PDF" and the upload failed.
        notes = b'# File types\n\nA magic rule such as <match value="%PDF-"/> finds a PDF.\n'
        for name in ["types.md", "types.txt"]:
            with self.subTest(name=name):
                document = extract(notes, name)
                self.assertIn('value="%PDF-"', document.text)

    def test_text_has_no_outline_and_no_page_count(self):
        document = extract(documents.utf8_text_file(), "notes.md")
        self.assertEqual((document.outline, document.page_count), ([], None))


class InputTests(ExtractionTestCase):
    def test_a_path_or_an_open_file_at_any_position_can_be_given(self):
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "upload.bin"
            path.write_bytes(documents.latin1_text_file())
            self.assertEqual(extract_document(path, "a.txt").text, documents.LATIN1_TEXT)
            self.assertEqual(extract_document(str(path), "a.txt").text, documents.LATIN1_TEXT)
            with path.open("rb") as file:
                file.read(10)
                self.assertEqual(extract_document(file, "a.txt").text, documents.LATIN1_TEXT)

    def test_the_extension_is_case_insensitive(self):
        self.assertEqual(extract(documents.pdf_with_outline(), "NOTES.PDF").page_count, 4)


class BadInputTests(ExtractionTestCase):
    """The bad-input corpus: every file fails with a reason the learner can act on."""

    def test_empty_file(self):
        self.assertFails(
            b"",
            "notes.pdf",
            "The file is empty. Check that you picked the right file and upload it again.",
        )

    def test_text_of_only_whitespace(self):
        self.assertFails(
            b" \r\n\t\n", "notes.txt", "The file is empty: it holds only spaces and blank lines."
        )

    def test_truncated_pdf(self):
        self.assertFails(documents.truncated_pdf(), "notes.pdf", extraction.PDF_DAMAGED)

    def test_pdf_without_text(self):
        self.assertFails(documents.pdf_without_text(), "scan.pdf", extraction.PDF_NO_TEXT)
        self.assertTrue(extraction.PDF_NO_TEXT.startswith("No text found — is this a scanned PDF?"))

    def test_password_protected_pdf(self):
        self.assertFails(
            documents.encrypted_pdf(),
            "notes.pdf",
            "This PDF is password-protected. Remove the password and upload it again.",
        )

    def test_random_binary_named_txt(self):
        self.assertFails(documents.random_binary(), "notes.txt", extraction.NOT_TEXT)
        self.assertTrue(extraction.NOT_TEXT.startswith("This doesn't look like a text file"))

    def test_exe_renamed_pdf(self):
        self.assertFails(
            documents.windows_executable(),
            "notes.pdf",
            "This file is named .pdf but it is a Windows program (.exe), not a PDF. "
            "Only PDF, Word (.docx), Markdown and plain-text files are supported.",
        )

    def test_exe_renamed_txt(self):
        self.assertFails(
            documents.windows_executable(),
            "notes.txt",
            "This doesn't look like a text file: it is a Windows program (.exe). "
            "Only PDF, Word (.docx), Markdown and plain-text files are supported.",
        )

    def test_random_binary_named_pdf(self):
        self.assertFails(
            documents.random_binary(),
            "notes.pdf",
            "This file is named .pdf but it is binary data we can't read, not a PDF. "
            "If it should be a PDF, download or export it again.",
        )

    def test_pdf_named_docx(self):
        self.assertFails(
            documents.pdf_with_outline(),
            "notes.docx",
            "This file is named .docx but it is a PDF, not a Word document. "
            "Rename it to end in .pdf and upload it again.",
        )

    def test_docx_named_pdf(self):
        self.assertFails(
            documents.docx_with_headings(),
            "notes.pdf",
            "This file is named .pdf but it is a Word document (.docx), not a PDF. "
            "Rename it to end in .docx and upload it again.",
        )

    def test_text_named_pdf(self):
        self.assertFails(
            documents.latin1_text_file(),
            "notes.pdf",
            "This file is named .pdf but it is plain text, not a PDF. "
            "Rename it to end in .txt, or upload the real file.",
        )

    def test_web_page_saved_as_pdf(self):
        self.assertFails(
            b"<!DOCTYPE html><html><body>Please sign in</body></html>",
            "slides.pdf",
            "This file is named .pdf but it is a web page (HTML): the download probably "
            "failed. Download the file again and upload the new copy.",
        )

    def test_picture_named_pdf(self):
        with self.assertRaises(ExtractionFailed) as failure:
            extract(documents.png_image(), "notes.pdf")
        self.assertIn("it is a PNG image, not a PDF", failure.exception.reason)

    def test_unsupported_extension(self):
        self.assertFails(
            documents.windows_executable(),
            "setup.exe",
            "Only PDF, Word (.docx), Markdown and plain-text files are supported.",
        )

    def test_old_word_file_gets_a_save_as_docx_hint(self):
        self.assertFails(
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512),
            "notes.doc",
            "Old Word (.doc) files can't be read. "
            "Open it in Word, save it as .docx and upload that.",
        )

    def test_slides_get_an_export_as_pdf_hint(self):
        with self.assertRaises(ExtractionFailed) as failure:
            extract(b"PK\x03\x04", "lecture.pptx")
        self.assertIn("Export your slides as PDF", failure.exception.reason)

    def test_word_document_without_text(self):
        self.assertFails(
            documents.docx_without_text(), "notes.docx", "This Word document has no text in it."
        )

    def test_broken_zip_named_docx(self):
        broken = documents.docx_with_headings()[:2000]
        self.assertFails(broken, "notes.docx", extraction.DOCX_DAMAGED)

    def test_zip_that_is_not_a_word_document(self):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("photos/1.txt", "hello")
        self.assertFails(
            buffer.getvalue(),
            "notes.docx",
            "This file is named .docx but it is a ZIP archive, not a Word document. "
            "Only PDF, Word (.docx), Markdown and plain-text files are supported.",
        )

    def test_truncated_or_mangled_pdfs_fail_as_damaged(self):
        whole = documents.pdf_with_outline()
        samples = [whole[:cut] for cut in (9, 300, 1000, len(whole) - 40)]
        samples.append(whole.replace(b"/Type /Pages", b"/Type /Junk_"))
        for number, sample in enumerate(samples):
            with self.subTest(number):
                self.assertFails(sample, "notes.pdf", extraction.PDF_DAMAGED)

    def test_corrupted_files_never_raise_anything_but_extraction_failed(self):
        rng = random.Random(6)
        originals = {
            "notes.pdf": documents.pdf_with_outline(),
            "locked.pdf": documents.encrypted_pdf_with_empty_user_password(),
            "notes.docx": documents.docx_with_headings(),
        }
        for name, original in originals.items():
            for attempt in range(15):
                corrupted = bytearray(original)
                start = rng.randrange(len(corrupted))
                corrupted[start : start + rng.randint(1, 300)] = rng.randbytes(300)
                # Extracted or refused with a reason: both fine; any other error is a bug.
                with self.subTest(name=name, attempt=attempt), suppress(ExtractionFailed):
                    extract(bytes(corrupted), name)


class ZipBombTests(ExtractionTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bomb = documents.docx_zip_bomb(1024)  # 1 GB of XML in about 1 MB

    def test_docx_that_unpacks_beyond_the_limit_is_refused_before_parsing(self):
        self.assertLess(len(self.bomb), 2 * 1024 * 1024)
        self.assertFails(
            self.bomb,
            "notes.docx",
            "This Word document would unpack to more than 200 MB, so it isn't read (it may "
            "be a “ZIP bomb”). Save it again from Word, or split it, and upload the new file.",
        )

    def test_docx_with_a_part_compressed_too_well_is_refused(self):
        bomb = documents.docx_zip_bomb(20, member="word/media/image1.png")
        with self.assertRaises(ExtractionFailed) as failure:
            extract(bomb, "notes.docx")
        self.assertRegex(
            failure.exception.reason,
            r"^This Word document contains a part compressed [\d,]+ to 1 \(the limit is 100 "
            r"to 1\), which is how “ZIP bombs” are built",
        )

    def test_zip_directory_that_understates_sizes_does_not_slip_through(self):
        liar = documents.docx_with_lying_zip_directory(300)
        self.assertFails(liar, "notes.docx", extraction.DOCX_DAMAGED)

    @override_settings(DOCX_MAX_UNCOMPRESSED_MB=5, DOCX_MAX_COMPRESSION_RATIO=10_000)
    def test_limits_are_read_from_settings(self):
        with self.assertRaises(ExtractionFailed) as failure:
            extract(documents.docx_zip_bomb(8), "notes.docx")
        self.assertIn("more than 5 MB", failure.exception.reason)


class LimitTests(ExtractionTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.two_thousand_pages = documents.pdf_with_many_pages(2000)

    def test_pdf_over_the_page_limit_fails_with_count_and_limit(self):
        self.assertFails(
            self.two_thousand_pages,
            "huge.pdf",
            "This PDF has 2,000 pages; the limit is 1,000. "
            "Split it into smaller files and upload them separately.",
        )

    def test_page_limit_counts_real_pages_when_the_declared_count_lies(self):
        # Same length, so the cross-reference offsets stay right.
        lying = self.two_thousand_pages.replace(b"/Count 2000", b"/Count 5   ")
        with self.assertRaisesMessage(ExtractionFailed, "This PDF has 2,000 pages"):
            extract(lying, "huge.pdf")

    @override_settings(MAX_DOCUMENT_CHARS=50)
    def test_text_over_the_character_limit_fails_with_count_and_limit(self):
        self.assertFails(
            b"x" * 51,
            "notes.txt",
            "This document has 51 characters of text; the limit is 50. "
            "Split it into smaller files and upload them separately.",
        )

    @override_settings(MAX_DOCUMENT_CHARS=50)
    def test_text_at_the_character_limit_passes(self):
        self.assertEqual(len(extract(b"x" * 50, "notes.txt").text), 50)

    @override_settings(MAX_DOCUMENT_CHARS=20)
    def test_pdf_over_the_character_limit_stops_at_the_page_that_crosses_it(self):
        self.assertFails(
            documents.pdf_with_many_pages(10),
            "notes.pdf",
            "This PDF has too much text: 27 characters by page 4 of 10, and the limit is 20 "
            "for a document. Split it into smaller files and upload them separately.",
        )

    @override_settings(MAX_DOCUMENT_CHARS=100)
    def test_docx_over_the_character_limit_fails(self):
        with self.assertRaisesMessage(ExtractionFailed, "the limit is 100."):
            extract(documents.docx_with_headings(), "notes.docx")

    @override_settings(MAX_UPLOAD_MB=1)
    def test_file_over_the_upload_size_is_not_read_whole(self):
        self.assertFails(
            b"x" * (1024 * 1024 + 1),
            "notes.txt",
            "This file is larger than the 1 MB limit. "
            "Split it or compress it, then upload it again.",
        )
