"""The test-wide settings, for both runners: pytest (tests/conftest.py) and
`python manage.py test` (TEST_RUNNER in the settings points here)."""

from django.test.runner import DiscoverRunner


def apply_test_settings(settings) -> None:
    """The task queue runs each task at once, inside the request that queues it, so tests of
    uploads see their documents read when the response arrives (the real queue — database
    backend, a worker, a child process per document — is tested in
    tests/test_extraction_queue.py; the browser tests run the server as `make run` does).
    Passwords use a fast hasher: the log-in throttle tests hash many."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class TestRunner(DiscoverRunner):
    def setup_test_environment(self, **kwargs):
        from django.conf import settings

        super().setup_test_environment(**kwargs)
        apply_test_settings(settings)
