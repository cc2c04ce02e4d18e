"""Extraction off the request path (issue 12): the upload stores the files and answers at once
with PENDING documents; a queue worker (django-tasks, database backend) reads them; a
document whose worker was killed is queued again instead of staying PROCESSING."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sessions_app.models import Document, requeue_stale_extractions
from sessions_app.worker import make_worker
from tests import documents as files
from tests.base import AppTransactionTestCase

JSON = {"accept": "application/json"}
DATABASE_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
ROOT = Path(__file__).resolve().parent.parent


@override_settings(TASKS=DATABASE_QUEUE, EXTRACTION_WORKER_IN_PROCESS=False)
class QueueTestCase(AppTransactionTestCase):
    def setUp(self):
        super().setUp()
        media = tempfile.mkdtemp(prefix="studyplanner-media-")
        self.addCleanup(shutil.rmtree, media, ignore_errors=True)
        self.enterContext(override_settings(MEDIA_ROOT=media))
        self.session = self.make_session()
        self.client.force_login(self.owner)

    def upload(self, *uploads):
        url = f"/sessions/{self.session.pk}/documents"
        return self.client.post(url, {"file": list(uploads)}, headers=JSON)

    def run_queue(self) -> None:
        make_worker(batch=True, interval=0).run()

    def stored_document(self, name: str, data: bytes, **fields) -> Document:
        document = Document.objects.create(
            session=self.session, original_name=name, position=1, **fields
        )
        document.file.save(name, ContentFile(data), save=True)
        return document


class BackgroundExtractionTests(QueueTestCase):
    def test_the_upload_answers_with_pending_documents_and_the_worker_reads_them(self):
        response = self.upload(
            SimpleUploadedFile("a.md", b"# A\n\nNotes."),
            SimpleUploadedFile("b.pdf", files.pdf_with_outline()),
        )

        self.assertEqual(response.status_code, 201)
        self.assertEqual([d["status"] for d in response.json()["documents"]], ["PENDING"] * 2)
        self.assertEqual(DBTaskResult.objects.count(), 2)

        self.run_queue()

        statuses = list(self.session.documents.values_list("status", flat=True))
        self.assertEqual(statuses, ["COMPLETED", "COMPLETED"])
        self.assertEqual(self.session.documents.get(original_name="b.pdf").page_count, 4)

    def test_the_page_polls_while_documents_wait_and_reloads_once_they_are_read(self):
        self.upload(SimpleUploadedFile("a.md", b"# A"))
        page = self.client.get(f"/sessions/{self.session.pk}/")
        status_url = f"/sessions/{self.session.pk}/documents/status"
        self.assertContains(page, f'hx-get="{status_url}" hx-trigger="every 2s"')

        waiting = self.client.get(status_url, headers={"hx-request": "true"})
        self.assertContains(waiting, 'hx-trigger="every 2s"')
        self.assertContains(waiting, "Pending")

        self.run_queue()
        done = self.client.get(status_url, headers={"hx-request": "true"})

        self.assertNotContains(done, "every 2s")
        self.assertContains(done, "Ready")
        self.assertContains(done, 'hx-trigger="load"')  # one reload: the Generate button
        self.assertNotContains(self.client.get(f"/sessions/{self.session.pk}/"), "every 2s")

    def test_api_clients_poll_the_same_url_for_json(self):
        self.upload(SimpleUploadedFile("a.md", b"# A"))
        self.run_queue()

        response = self.client.get(f"/sessions/{self.session.pk}/documents/status", headers=JSON)

        self.assertEqual([d["status"] for d in response.json()["documents"]], ["COMPLETED"])

    def test_a_document_deleted_before_its_turn_is_skipped(self):
        [created] = self.upload(SimpleUploadedFile("a.md", b"# A")).json()["documents"]
        self.client.post(f"/sessions/{self.session.pk}/documents/{created['id']}/delete")

        self.run_queue()

        self.assertEqual(
            list(DBTaskResult.objects.values_list("return_value", flat=True)), ["deleted"]
        )


class KilledWorkerTests(QueueTestCase):
    def test_a_document_left_processing_by_a_dead_worker_is_queued_again_and_read(self):
        long_ago = timezone.now() - timedelta(seconds=settings.EXTRACTION_TIMEOUT + 60)
        document = self.stored_document(
            "a.md",
            b"# A\n\nNotes.",
            status=Document.Status.PROCESSING,
            extraction_started_at=long_ago,
            extraction_attempts=1,
        )

        # The page's poll notices it (so does a worker when it starts).
        self.client.get(f"/sessions/{self.session.pk}/documents/status")
        self.run_queue()

        document.refresh_from_db()
        self.assertEqual(document.status, Document.Status.COMPLETED)
        self.assertEqual(document.extraction_attempts, 2)

    def test_a_document_a_live_worker_is_reading_is_left_alone(self):
        document = self.stored_document(
            "a.md",
            b"# A",
            status=Document.Status.PROCESSING,
            extraction_started_at=timezone.now(),
            extraction_attempts=1,
        )

        self.assertEqual(requeue_stale_extractions(), 0)
        document.queue_extraction()  # a duplicate task must not take it either
        self.run_queue()

        document.refresh_from_db()
        self.assertEqual(document.status, Document.Status.PROCESSING)
        self.assertEqual(DBTaskResult.objects.get().return_value, "taken")

    @override_settings(EXTRACTION_MAX_ATTEMPTS=2)
    def test_a_document_that_keeps_killing_its_worker_fails_after_the_last_attempt(self):
        long_ago = timezone.now() - timedelta(seconds=settings.EXTRACTION_TIMEOUT + 60)
        document = self.stored_document(
            "a.md",
            b"# A",
            status=Document.Status.PROCESSING,
            extraction_started_at=long_ago,
            extraction_attempts=2,
        )

        requeue_stale_extractions()
        self.run_queue()

        document.refresh_from_db()
        self.assertEqual(document.status, Document.Status.FAILED)
        self.assertIn("We tried to read this file 2 times", document.error)
        self.assertFalse(document.file)


@unittest.skipUnless(
    connection.vendor == "postgresql", "a worker in another process needs a shared database"
)
class WorkerProcessTests(QueueTestCase):
    """`manage.py extraction_worker` as production runs it, killed outright mid-read."""

    def start_worker(self, **env) -> subprocess.Popen:
        db = connection.settings_dict
        url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        environment = {
            **os.environ,
            "ENV_FILE": os.devnull,
            "DATABASE_URL": url,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "EXTRACTION_WORKER_IN_PROCESS": "False",
            **env,
        }
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "extraction_worker", "--interval", "0.1"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: we kill it with its child
        )
        self.addCleanup(_kill_group, worker)
        return worker

    def wait_for(self, document: Document, status: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            document.refresh_from_db()
            if document.status == status:
                return
            time.sleep(0.05)
        self.fail(f"{document} stayed {document.status}, never {status}")

    def test_a_worker_killed_mid_read_leaves_the_document_to_be_retried(self):
        [created] = self.upload(
            SimpleUploadedFile("slow.pdf", files.pdf_with_shared_content_stream())
        ).json()["documents"]
        document = Document.objects.get(pk=created["id"])
        # Without its caps this PDF reads for minutes: the worker is surely mid-read.
        worker = self.start_worker(
            PDF_MAX_PAGE_CONTENT_KB=str(10**6), PDF_MAX_CONTENT_MB=str(10**6)
        )
        self.wait_for(document, Document.Status.PROCESSING)

        _kill_group(worker)
        document.refresh_from_db()
        self.assertEqual(document.status, Document.Status.PROCESSING)

        # Once the attempt is older than any worker's limit, it is queued again and a new
        # worker (here with the normal caps) finishes it.
        with override_settings(EXTRACTION_TIMEOUT=0, EXTRACTION_STALE_GRACE=0):
            self.assertEqual(requeue_stale_extractions(), 1)
        self.run_queue()

        document.refresh_from_db()
        self.assertEqual(document.status, Document.Status.FAILED)
        self.assertIn("drawing instructions", document.error)
        self.assertEqual(document.extraction_attempts, 2)


def _kill_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
