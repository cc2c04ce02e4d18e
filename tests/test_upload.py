"""POST /sessions/<id>/documents (SPEC §6, §10): real files in, documents with a status out."""

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from django.contrib.admin.models import LogEntry
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone

from sessions_app.models import Document, StudySession
from tests import documents as files
from tests.base import SAMPLE_PLAN, AppTestCase

JSON = {"accept": "application/json"}


class UploadTestCase(AppTestCase):
    def setUp(self):
        media = tempfile.mkdtemp(prefix="studyplanner-media-")
        self.addCleanup(shutil.rmtree, media, ignore_errors=True)
        self.enterContext(override_settings(MEDIA_ROOT=media))
        self.media = Path(media)
        self.session = self.make_session()
        self.url = f"/sessions/{self.session.pk}/documents"
        self.client.force_login(self.owner)

    def upload(self, *uploads, headers=JSON):
        return self.client.post(self.url, {"file": list(uploads)}, headers=headers)


def upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


class UploadTests(UploadTestCase):
    def test_a_pdf_with_an_outline_is_extracted_with_its_outline(self):
        response = self.upload(upload("lecture.pdf", files.pdf_with_outline(), "application/pdf"))

        self.assertEqual(response.status_code, 201)
        [created] = response.json()["documents"]
        self.assertEqual(
            (created["name"], created["status"], created["error"]), ("lecture.pdf", "COMPLETED", "")
        )
        document = Document.objects.get(pk=created["id"])
        self.assertEqual(document.content_type, "application/pdf")
        self.assertEqual(document.page_count, len(files.SAMPLE_PAGES))
        self.assertEqual(
            [(e["level"], e["title"], e["page"]) for e in document.outline],
            [tuple(entry) for entry in files.SAMPLE_OUTLINE],
        )
        self.assertIn(Document.PAGE_BREAK, document.content_text)
        self.assertTrue((self.media / document.file.name).exists())

    def test_several_files_keep_their_upload_order(self):
        response = self.upload(
            upload("b-second.md", b"# Second"),
            upload("a-first.txt", b"First notes"),
            upload("c-third.docx", files.docx_with_headings()),
        )

        names = [d["name"] for d in response.json()["documents"]]
        self.assertEqual(names, ["b-second.md", "a-first.txt", "c-third.docx"])
        self.assertEqual(
            list(self.session.documents.values_list("original_name", flat=True)), names
        )
        later = self.upload(upload("d-fourth.md", b"# Fourth"))
        self.assertEqual(later.status_code, 201)
        self.assertEqual(self.session.documents.last().original_name, "d-fourth.md")

    def test_a_mixed_upload_keeps_the_good_files_and_explains_the_bad_ones(self):
        response = self.upload(
            upload("good.md", b"# Limits\n\nText."),
            upload("empty.txt", b""),
            upload("setup.pdf", files.windows_executable()),
            upload("notes.docx", files.docx_with_headings()),
            upload("locked.pdf", files.encrypted_pdf()),
        )

        self.assertEqual(response.status_code, 201)
        outcome = {d["name"]: (d["status"], d["error"]) for d in response.json()["documents"]}
        self.assertEqual(outcome["good.md"], ("COMPLETED", ""))
        self.assertEqual(outcome["notes.docx"], ("COMPLETED", ""))
        self.assertEqual(outcome["empty.txt"][0], "FAILED")
        self.assertIn("The file is empty", outcome["empty.txt"][1])
        self.assertIn("Windows program", outcome["setup.pdf"][1])
        self.assertIn("password-protected", outcome["locked.pdf"][1])
        self.assertEqual(self.session.completed_documents().count(), 2)

    @override_settings(MAX_UPLOAD_MB=1)
    def test_a_file_over_the_size_limit_fails_without_being_stored(self):
        response = self.upload(
            upload("huge.txt", b"a" * (1024 * 1024 + 1)), upload("ok.md", b"# Fine")
        )

        big, ok = response.json()["documents"]
        self.assertEqual(big["status"], "FAILED")
        self.assertIn("is 1.0 MB; the limit is 1 MB", big["error"])
        self.assertEqual(ok["status"], "COMPLETED")
        self.assertFalse(Document.objects.get(pk=big["id"]).file)

    @override_settings(MAX_FILES_PER_SESSION=2)
    def test_files_over_the_per_session_limit_fail_one_by_one(self):
        response = self.upload(*(upload(f"n{n}.md", b"# Notes") for n in range(3)))

        statuses = [d["status"] for d in response.json()["documents"]]
        self.assertEqual(statuses, ["COMPLETED", "COMPLETED", "FAILED"])
        self.assertIn("already has 2 documents", response.json()["documents"][2]["error"])

    def test_a_pdf_over_the_page_limit_fails(self):
        response = self.upload(upload("tome.pdf", files.pdf_with_many_pages(2000)))

        [document] = response.json()["documents"]
        self.assertEqual(document["status"], "FAILED")
        self.assertIn("2,000 pages; the limit is 1,000", document["error"])

    def test_a_path_in_the_file_name_is_dropped(self):
        response = self.upload(upload("../../etc/passwd.md", b"# Notes"))

        [document] = response.json()["documents"]
        self.assertEqual(document["name"], "passwd.md")
        stored = Document.objects.get(pk=document["id"]).file.name
        self.assertTrue(stored.startswith(f"documents/{self.session.pk}/"))

    def test_no_file_is_400(self):
        response = self.client.post(self.url, {}, headers=JSON)

        self.assertEqual(response.status_code, 400)
        self.assertIn("Choose at least one file", response.json()["error"])

    def test_uploading_while_generating_or_editing_is_409(self):
        self.make_document(self.session)
        for status in (StudySession.Status.GENERATING_PLAN, StudySession.Status.EDITING_PLAN):
            with self.subTest(status=status):
                StudySession.objects.filter(pk=self.session.pk).update(
                    status=status, generation_heartbeat_at=timezone.now()
                )

                response = self.upload(upload("late.md", b"# Late"))

                self.assertEqual(response.status_code, 409)
                self.assertEqual(self.session.documents.count(), 1)

    def test_a_stale_generation_whose_worker_died_does_not_lock_uploads(self):
        self.make_document(self.session)
        StudySession.objects.filter(pk=self.session.pk).update(
            status=StudySession.Status.GENERATING_PLAN,
            generation_heartbeat_at=timezone.now() - timedelta(hours=1),
        )

        response = self.upload(upload("late.md", b"# Late"))

        self.assertEqual(response.status_code, 201)
        self.assertEqual(self.session.documents.count(), 2)

    def test_the_page_form_redirects_back_and_shows_each_failure_once(self):
        response = self.upload(
            upload("good.md", b"# Good"), upload("bad.txt", files.random_binary()), headers={}
        )

        self.assertRedirects(
            response, f"/sessions/{self.session.pk}/", fetch_redirect_response=False
        )
        page = self.client.get(response["Location"])
        self.assertContains(page, "Added 1 document.")
        self.assertContains(page, "Couldn&#x27;t read bad.txt")
        self.assertContains(page, "This doesn&#x27;t look like a text file", count=1)
        self.assertContains(page, "good.md")


class ExtractionCrashTests(UploadTestCase):
    def test_a_crash_while_reading_becomes_a_failed_document_and_is_logged(self):
        document = Document.objects.create(
            session=self.session, original_name="gone.pdf", position=1
        )
        document.file.save("gone.pdf", ContentFile(files.pdf_with_outline()), save=True)
        (self.media / document.file.name).unlink()  # the stored file vanished

        with self.assertLogs("sessions_app.models", "ERROR") as logs:
            document.run_extraction()

        document.refresh_from_db()
        self.assertEqual(document.status, Document.Status.FAILED)
        self.assertIn("problem on our side", document.error)
        self.assertIn("FileNotFoundError", "\n".join(logs.output))


class DeleteDocumentTests(UploadTestCase):
    def test_delete_removes_the_document_and_its_file(self):
        [created] = self.upload(upload("notes.md", b"# Notes")).json()["documents"]
        stored = self.media / Document.objects.get(pk=created["id"]).file.name

        response = self.client.post(f"{self.url}/{created['id']}/delete", headers=JSON)

        self.assertEqual(response.status_code, 200)
        self.assertFalse(Document.objects.filter(pk=created["id"]).exists())
        self.assertFalse(stored.exists())

    def test_delete_while_editing_is_409(self):
        document = self.make_document(self.session)
        StudySession.objects.filter(pk=self.session.pk).update(
            status=StudySession.Status.EDITING_PLAN, draft_plan=SAMPLE_PLAN
        )

        response = self.client.post(f"{self.url}/{document.pk}/delete", headers=JSON)

        self.assertEqual(response.status_code, 409)
        self.assertTrue(Document.objects.filter(pk=document.pk).exists())

    def test_a_document_of_another_session_is_404(self):
        elsewhere = self.make_document(self.make_session(owner=self.owner, title="Other"))

        response = self.client.post(f"{self.url}/{elsewhere.pk}/delete", headers=JSON)

        self.assertEqual(response.status_code, 404)


class RerunExtractionAdminTests(UploadTestCase):
    def test_the_admin_action_re_reads_the_stored_file_and_is_logged(self):
        [created] = self.upload(upload("notes.md", b"# Limits\n\nText.")).json()["documents"]
        Document.objects.filter(pk=created["id"]).update(
            status=Document.Status.FAILED, error="Old failure", content_text=""
        )
        self.client.force_login(self.staff)

        response = self.client.post(
            "/admin/sessions_app/document/",
            {"action": "rerun_extraction", "_selected_action": [created["id"]]},
            follow=True,
        )

        self.assertContains(response, "Extraction re-run: 1 ready, 0 failed.")
        document = Document.objects.get(pk=created["id"])
        self.assertEqual(document.status, Document.Status.COMPLETED)
        self.assertIn("# Limits", document.content_text)
        self.assertEqual(LogEntry.objects.get(object_id=created["id"]).user, self.staff)
