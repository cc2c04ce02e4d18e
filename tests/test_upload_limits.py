"""Upload and account limits that hold (SPEC §10, §12): documents per session counted under a
lock, a separate cap on failed files whose stored files are removed, sessions per account,
and a bad file name failing only its own file."""

import shutil
import tempfile
import unittest
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, override_settings

from sessions_app.models import Document, StudySession
from sessions_app.uploads import add_documents
from tests import documents as files
from tests.base import AppTestCase, AppTransactionTestCase, run_at_once

JSON = {"accept": "application/json"}


class MediaMixin:
    def use_private_media(self):
        media = tempfile.mkdtemp(prefix="studyplanner-media-")
        self.addCleanup(shutil.rmtree, media, ignore_errors=True)
        self.enterContext(override_settings(MEDIA_ROOT=media))
        self.media = Path(media)

    def stored_files(self) -> list[Path]:
        return [p for p in self.media.rglob("*") if p.is_file()]


def notes(count: int, prefix: str) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(f"{prefix}-{n}.md", f"# Notes {n}".encode()) for n in range(count)]


def multipart(parts: list[tuple[bytes, bytes]], boundary: bytes = b"XyZbOuNdArY") -> bytes:
    """A multipart body of `file` parts given as (raw file name bytes, content)."""
    body = b""
    for name, content in parts:
        body += (
            b"--" + boundary + b"\r\n"
            b'Content-Disposition: form-data; name="file"; filename="' + name + b'"\r\n'
            b"Content-Type: text/plain\r\n\r\n" + content + b"\r\n"
        )
    return body + b"--" + boundary + b"--\r\n"


@unittest.skipUnless(connection.vendor == "postgresql", "parallel uploads need PostgreSQL")
class ParallelUploadTests(MediaMixin, AppTransactionTestCase):
    @override_settings(MAX_FILES_PER_SESSION=50)
    def test_two_parallel_uploads_of_forty_files_keep_fifty(self):
        self.use_private_media()
        session = self.make_session()
        url = f"/sessions/{session.pk}/documents"

        def upload(prefix):
            client = Client()
            client.force_login(self.owner)
            return client.post(url, {"file": notes(40, prefix)}, headers=JSON).status_code

        statuses = run_at_once([lambda: upload("a"), lambda: upload("b")])

        self.assertEqual(statuses, [201, 201])
        kept = session.documents.exclude(status=Document.Status.FAILED)
        self.assertEqual(kept.count(), 50)
        self.assertEqual(session.documents.filter(status=Document.Status.FAILED).count(), 30)
        positions = list(session.documents.values_list("position", flat=True))
        self.assertEqual(sorted(positions), list(range(1, 81)))

    @override_settings(MAX_FILES_PER_SESSION=50)
    def test_two_simultaneous_batches_of_forty_cannot_pass_fifty(self):
        # Straight at add_documents, so both count at the same moment (no parsing between).
        self.use_private_media()
        session = self.make_session()
        batches = [notes(40, "a"), notes(40, "b")]

        created = run_at_once(
            [lambda batch=batch: add_documents(session, batch) for batch in batches]
        )

        self.assertTrue(all(isinstance(result, list) for result in created), created)
        kept = session.documents.exclude(status=Document.Status.FAILED)
        self.assertEqual(kept.count(), 50)

    @override_settings(MAX_SESSIONS_PER_USER=3)
    def test_parallel_creates_cannot_pass_the_session_cap(self):
        self.make_session()

        def create(n):
            client = Client()
            client.force_login(self.owner)
            body = {"title": f"Course {n}", "language": "en"}
            return client.post("/sessions/", body, headers=JSON).status_code

        statuses = run_at_once([lambda n=n: create(n) for n in range(6)])

        self.assertEqual(sorted(statuses), [201, 201, 409, 409, 409, 409])
        self.assertEqual(StudySession.objects.filter(owner=self.owner).count(), 3)


class FailedFileCapTests(MediaMixin, AppTestCase):
    def setUp(self):
        self.use_private_media()
        self.session = self.make_session()
        self.url = f"/sessions/{self.session.pk}/documents"
        self.client.force_login(self.owner)

    def upload(self, *uploads):
        return self.client.post(self.url, {"file": list(uploads)}, headers=JSON)

    def junk(self, n: int) -> SimpleUploadedFile:
        return SimpleUploadedFile(f"junk-{n}.txt", files.random_binary(4096, seed=n))

    def test_a_file_that_fails_to_read_leaves_nothing_on_disk(self):
        response = self.upload(self.junk(1), SimpleUploadedFile("good.md", b"# Good"))

        failed, good = response.json()["documents"]
        self.assertEqual((failed["status"], good["status"]), ("FAILED", "COMPLETED"))
        self.assertFalse(Document.objects.get(pk=failed["id"]).file)
        self.assertEqual(len(self.stored_files()), 1)

    @override_settings(MAX_FAILED_FILES_PER_SESSION=3)
    def test_once_the_failed_cap_is_reached_more_uploads_are_refused(self):
        self.upload(self.junk(1), self.junk(2), self.junk(3))

        response = self.upload(SimpleUploadedFile("good.md", b"# Good"))

        self.assertEqual(response.status_code, 409)
        self.assertIn("couldn't be used", response.json()["error"])
        self.assertEqual(self.session.documents.count(), 3)
        self.assertEqual(self.stored_files(), [])

    @override_settings(MAX_FAILED_FILES_PER_SESSION=3)
    def test_deleting_failed_files_makes_room_again(self):
        documents = self.upload(self.junk(1), self.junk(2), self.junk(3)).json()["documents"]
        self.client.post(f"{self.url}/{documents[0]['id']}/delete", headers=JSON)

        response = self.upload(SimpleUploadedFile("good.md", b"# Good"))

        self.assertEqual(response.status_code, 201)


class SessionCapTests(AppTestCase):
    def setUp(self):
        self.client.force_login(self.owner)

    @override_settings(MAX_SESSIONS_PER_USER=2)
    def test_the_session_past_the_cap_is_refused_with_a_clear_message(self):
        self.make_session()
        self.make_session(owner=self.other)  # another learner's sessions don't count
        created = self.client.post("/sessions/", {"title": "B", "language": "en"}, headers=JSON)

        refused = self.client.post("/sessions/", {"title": "C", "language": "en"}, headers=JSON)

        self.assertEqual(created.status_code, 201)
        self.assertEqual(refused.status_code, 409)
        self.assertIn("the most an account can hold", refused.json()["error"])
        self.assertEqual(StudySession.objects.filter(owner=self.owner).count(), 2)

    @override_settings(MAX_SESSIONS_PER_USER=1)
    def test_the_page_form_shows_the_refusal(self):
        self.make_session()

        response = self.client.post("/sessions/", {"title": "C", "language": "en"}, follow=True)

        self.assertContains(response, "the most an account can hold")

    def test_the_default_cap_is_two_hundred(self):
        from django.conf import settings

        self.assertEqual(settings.MAX_SESSIONS_PER_USER, 200)


class FileNameTests(MediaMixin, AppTestCase):
    def setUp(self):
        self.use_private_media()
        self.session = self.make_session()
        self.url = f"/sessions/{self.session.pk}/documents"
        self.client.force_login(self.owner)

    def post(self, body: bytes, client=None, **extra):
        return (client or self.client).post(
            self.url,
            body,
            content_type="multipart/form-data; boundary=XyZbOuNdArY",
            headers=JSON,
            **extra,
        )

    def test_a_thousand_character_name_fails_that_file_only(self):
        long_name = b"a" * 996 + b".txt"
        response = self.post(multipart([(long_name, b"Long"), (b"good.txt", b"Good notes")]))

        self.assertEqual(response.status_code, 201)
        by_status = {d["status"]: d for d in response.json()["documents"]}
        self.assertEqual(by_status["COMPLETED"]["name"], "good.txt")
        self.assertIn("1,000 characters long; the limit is 255", by_status["FAILED"]["error"])

    def test_a_name_that_is_not_utf8_fails_that_file_only(self):
        response = self.post(multipart([(b"caf\xe9 notes.txt", b"Latin-1 name"), (b"ok.md", b"#")]))

        self.assertEqual(response.status_code, 201)
        documents = response.json()["documents"]
        self.assertEqual([d["status"] for d in documents], ["COMPLETED", "FAILED"])
        self.assertIn("isn't valid text (UTF-8)", documents[1]["error"])
        self.assertEqual(documents[1]["name"], "café notes.txt")

    def test_a_long_name_within_the_limit_still_works(self):
        response = self.post(multipart([(b"b" * 252 + b".md", b"# Fine")]))

        self.assertEqual(response.json()["documents"][0]["status"], "COMPLETED")

    def test_a_body_that_is_not_multipart_is_a_400(self):
        response = self.client.post(self.url, {"x": "y"}, content_type="application/json")

        self.assertEqual(response.status_code, 400)

    def test_the_csrf_check_still_guards_the_upload(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.owner)

        response = self.post(multipart([(b"notes.md", b"# Notes")]), client=client)

        self.assertEqual(response.status_code, 403)
        self.assertFalse(self.session.documents.exists())

    def test_the_csrf_token_in_the_form_passes(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.owner)
        client.get(f"/sessions/{self.session.pk}/")
        token = client.cookies["csrftoken"].value

        response = client.post(
            self.url, {"csrfmiddlewaretoken": token, "file": notes(1, "n")}, headers=JSON
        )

        self.assertEqual(response.status_code, 201)
