"""Background work on the task queue (django-tasks; issue 12).

`extract_document_task` reads one uploaded document. It is queued by the upload and run
by a queue worker: `manage.py extraction_worker` in production, a worker thread inside the
web process by default (EXTRACTION_WORKER_IN_PROCESS), or at once in tests (the immediate
backend). The reading itself happens in a child process bounded in time and memory.
"""

import logging

from django.conf import settings
from django.db import DatabaseError
from django_tasks import task

logger = logging.getLogger(__name__)


def gave_up_after(attempts: int) -> str:
    return (
        f"We tried to read this file {attempts} times and the reader stopped each time. "
        "Save it again (for example as PDF) and upload the new copy."
    )


@task()
def extract_document_task(document_id: str) -> str:
    from sessions_app.models import Document, requeue_stale_extractions

    document = Document.objects.filter(pk=document_id).first()
    if document is None:
        return "deleted"
    if not document.claim_extraction():
        return "taken"  # another worker has it, or it is already done
    if document.extraction_attempts > settings.EXTRACTION_MAX_ATTEMPTS:
        document.mark_failed(gave_up_after(document.extraction_attempts - 1))
        return document.status
    if not document.file:
        document.mark_failed("The uploaded file is gone. Upload it again.")
        return document.status
    try:
        document.run_extraction(claimed=True)
    except DatabaseError:
        if not Document.objects.filter(pk=document_id).exists():
            return "deleted"  # deleted while it was being read
        raise
    requeue_stale_extractions()
    return document.status
