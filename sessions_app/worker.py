"""Who runs the queued extraction tasks (issue 12).

Production: `python manage.py extraction_worker` in N processes (README "Security"); each
queues again the documents a killed worker left PROCESSING, then runs django-tasks-db's
worker loop. Development (`make run`) needs no second command: with
EXTRACTION_WORKER_IN_PROCESS (the default) the web process starts the same worker loop in a
thread the first time it queues a task or shows a page that waits for one.
"""

import logging
import threading

from django.conf import settings
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django_tasks.utils import get_random_id

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_worker = None


def uses_database_queue() -> bool:
    from django_tasks_db.backend import DatabaseBackend

    return isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend)


def make_worker(*, batch: bool = False, interval: float = 1.0, worker_id: str | None = None):
    from django_tasks_db.management.commands.db_worker import Worker

    return Worker(
        queue_names=["default"],
        interval=interval,
        batch=batch,
        backend_name=DEFAULT_TASK_BACKEND_ALIAS,
        startup_delay=False,
        max_tasks=None,
        worker_id=worker_id or get_random_id(),
    )


def ensure_in_process_worker() -> bool:
    """Start this process's worker thread if the settings want one; True if it runs."""
    global _worker
    if not settings.EXTRACTION_WORKER_IN_PROCESS or not uses_database_queue():
        return False
    with _lock:
        if _worker is not None:
            return True
        _worker = make_worker()
        thread = threading.Thread(target=_run, args=(_worker,), name="extraction-worker")
        thread.daemon = True  # a document left mid-read is queued again (stale claim)
        thread.start()
    return True


def _run(worker) -> None:
    from django.db import connections

    from sessions_app.models import requeue_stale_extractions

    global _worker
    try:
        requeue_stale_extractions()
        worker.run()
    except Exception:
        logger.exception("The in-process extraction worker stopped; it restarts on demand")
    finally:
        connections.close_all()
        with _lock:
            _worker = None
