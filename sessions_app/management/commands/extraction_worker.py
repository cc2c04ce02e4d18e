"""`python manage.py extraction_worker`: one queue worker for document extraction.

Run several (N processes, e.g. one per core) beside the web workers and set
EXTRACTION_WORKER_IN_PROCESS=False for the web processes. SIGTERM lets the current document
finish; a worker killed outright leaves its document PROCESSING, and the next worker to
start (or the next page that polls) queues it again once its attempt is stale.
"""

from django.core.management.base import BaseCommand

from sessions_app.models import requeue_stale_extractions
from sessions_app.worker import make_worker, uses_database_queue


class Command(BaseCommand):
    help = "Run a worker that reads uploaded documents from the task queue."

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval", type=float, default=1.0, help="Seconds between polls when idle."
        )
        parser.add_argument("--batch", action="store_true", help="Run the queued tasks, then exit.")

    def handle(self, *args, interval: float, batch: bool, **options):
        if not uses_database_queue():
            self.stderr.write("TASKS uses no database backend: there is no queue to work on.")
            return
        queued = requeue_stale_extractions()
        if queued:
            self.stdout.write(f"Queued {queued} document(s) whose worker had stopped.")
        worker = make_worker(batch=batch, interval=interval)
        worker.configure_signals()
        worker.run()
