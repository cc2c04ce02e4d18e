"""Test-wide settings: the task queue runs each task at once, inside the request that queues
it, so tests of uploads see their documents read when the response arrives. The real queue
(database backend, a worker, a child process per document) is tested in
tests/test_extraction_queue.py; the browser tests run the server exactly as `make run` does.
Passwords use a fast hasher here only."""


def pytest_configure(config):
    from django.conf import settings

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    # Tests that log in with a password (the log-in throttle) hash many; keep that cheap.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
