"""Test-wide settings: the task queue runs each task at once, inside the request that queues
it, so tests of uploads see their documents read when the response arrives. The real queue
(database backend, a worker, a child process per document) is tested in
tests/test_extraction_queue.py; the browser tests run the server exactly as `make run` does."""


def pytest_configure(config):
    from django.conf import settings

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
