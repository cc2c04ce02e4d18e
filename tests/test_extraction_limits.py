"""Extraction bounded in time and memory (issue 12): each document is read in a child
process killed past EXTRACTION_TIMEOUT or EXTRACTION_MAX_MEMORY_MB, and the work itself is
capped (paragraphs per DOCX, content-stream bytes per PDF page and in total), so the crafted
files of the issue fail fast with a reason a learner understands."""

import os
import shutil
import tempfile
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import SimpleTestCase, override_settings

from sessions_app.extraction import ExtractionFailed, extract_document
from sessions_app.extraction.isolated import extract_isolated
from sessions_app.models import Document
from tests import documents as files
from tests.base import AppTestCase

JSON = {"accept": "application/json"}


class FileMixin:
    def write(self, name: str, data: bytes) -> Path:
        folder = Path(tempfile.mkdtemp(prefix="studyplanner-extract-"))
        self.addCleanup(shutil.rmtree, folder, ignore_errors=True)
        path = folder / name
        path.write_bytes(data)
        return path


class WorkCapTests(FileMixin, SimpleTestCase):
    def test_the_crafted_docx_of_empty_paragraphs_is_refused_by_the_paragraph_cap(self):
        with self.assertRaises(ExtractionFailed) as failed:
            extract_document(self.write("c.docx", files.docx_of_empty_paragraphs()), "c.docx")

        self.assertIn("more than 200,000 paragraphs", failed.exception.reason)

    @override_settings(DOCX_MAX_PARAGRAPHS=50)
    def test_the_paragraph_cap_counts_paragraphs_with_text_too(self):
        document = files.docx_of_empty_paragraphs(40)
        self.assertIn("no text", self.reason(document, "few.docx"))
        with self.assertRaises(ExtractionFailed):
            extract_document(self.write("c.docx", files.docx_of_empty_paragraphs(60)), "c.docx")

    def reason(self, data: bytes, name: str) -> str:
        with self.assertRaises(ExtractionFailed) as failed:
            extract_document(self.write(name, data), name)
        return failed.exception.reason

    def test_the_crafted_pdf_sharing_one_huge_stream_is_refused_on_its_first_page(self):
        reason = self.reason(files.pdf_with_shared_content_stream(), "c.pdf")

        self.assertIn("Page 1 of this PDF holds 4.0 MB of drawing instructions", reason)

    @override_settings(PDF_MAX_CONTENT_MB=1)
    def test_a_stream_shared_by_pages_counts_on_every_page_toward_the_total(self):
        reason = self.reason(files.pdf_with_shared_content_stream(5, stream_kb=300), "c.pdf")

        self.assertIn("more than 1 MB of drawing instructions by page 4", reason)

    def test_ordinary_files_pass_the_caps(self):
        extracted = extract_document(self.write("c.pdf", files.course_pdf(30)), "c.pdf")

        self.assertEqual(extracted.page_count, 30)


class ChildProcessTests(FileMixin, SimpleTestCase):
    def test_a_file_is_read_in_a_child_process(self):
        extracted = extract_isolated(self.write("a.pdf", files.pdf_with_outline()), "a.pdf")

        self.assertEqual(extracted.page_count, len(files.SAMPLE_PAGES))

    def test_the_reader_s_refusal_comes_back_from_the_child(self):
        with self.assertRaises(ExtractionFailed) as failed:
            extract_isolated(self.write("e.pdf", files.encrypted_pdf()), "e.pdf")

        self.assertIn("password-protected", failed.exception.reason)

    @override_settings(
        EXTRACTION_TIMEOUT=1.0, PDF_MAX_PAGE_CONTENT_KB=10**6, PDF_MAX_CONTENT_MB=10**6
    )
    def test_a_read_past_the_time_limit_is_killed_with_a_clear_reason(self):
        # Without its caps the crafted PDF takes minutes to read.
        path = self.write("slow.pdf", files.pdf_with_shared_content_stream())
        children_before = _children()

        with self.assertRaises(ExtractionFailed) as failed:
            extract_isolated(path, "slow.pdf")

        self.assertIn("took too long to read (more than 1 seconds)", failed.exception.reason)
        self.assertEqual(_children() - children_before, set())  # the child is gone

    @override_settings(EXTRACTION_MAX_MEMORY_MB=100, MAX_DOCUMENT_CHARS=10**9)
    def test_a_read_past_the_memory_limit_fails_with_a_clear_reason(self):
        path = self.write("big.txt", ("word " * 20 + "\n").encode() * 150_000)  # 15 MB

        with self.assertRaises(ExtractionFailed) as failed:
            extract_isolated(path, "big.txt")

        self.assertIn("needs more memory to read than we allow (100 MB)", failed.exception.reason)

    @override_settings(MAX_DOCUMENT_CHARS=10**9)
    def test_the_same_file_is_read_within_the_default_memory_limit(self):
        path = self.write("big.txt", ("word " * 20 + "\n").encode() * 150_000)

        self.assertEqual(len(extract_isolated(path, "big.txt").text), 15_150_000)

    @override_settings(MAX_DOCUMENT_CHARS=10)
    def test_settings_overridden_in_the_parent_reach_the_child(self):
        with self.assertRaises(ExtractionFailed) as failed:
            extract_isolated(self.write("n.md", b"# Notes\n\nLonger than ten."), "n.md")

        self.assertIn("the limit is 10", failed.exception.reason)


def _children() -> set[int]:
    """This process's live child processes (the forkserver excepted: it stays)."""
    me = str(os.getpid())
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = stat.rsplit(")", 1)[1].split()[1]
        state = stat.rsplit(")", 1)[1].split()[0]
        if parent == me and state != "Z":
            found.add(int(entry.name))
    return found


class UploadLimitTests(AppTestCase):
    def setUp(self):
        media = tempfile.mkdtemp(prefix="studyplanner-media-")
        self.addCleanup(shutil.rmtree, media, ignore_errors=True)
        self.enterContext(override_settings(MEDIA_ROOT=media))
        self.media = Path(media)
        self.session = self.make_session()
        self.client.force_login(self.owner)

    @override_settings(
        EXTRACTION_TIMEOUT=1.0, PDF_MAX_PAGE_CONTENT_KB=10**6, PDF_MAX_CONTENT_MB=10**6
    )
    def test_an_upload_that_reads_too_long_fails_that_document_only_and_its_file_is_removed(self):
        slow = SimpleUploadedFile("slow.pdf", files.pdf_with_shared_content_stream())
        good = SimpleUploadedFile("good.md", b"# Good")

        response = self.client.post(
            f"/sessions/{self.session.pk}/documents", {"file": [slow, good]}, headers=JSON
        )

        slow_doc, good_doc = response.json()["documents"]
        self.assertEqual(slow_doc["status"], "FAILED")
        self.assertIn("This file took too long to read", slow_doc["error"])
        self.assertEqual(good_doc["status"], "COMPLETED")
        self.assertFalse(Document.objects.get(pk=slow_doc["id"]).file)
        self.assertEqual(len([p for p in self.media.rglob("*") if p.is_file()]), 1)
