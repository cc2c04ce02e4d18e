"""pytest's side of the test-wide settings (see tests/runner.py, shared with manage.py test)."""


def pytest_configure(config):
    from django.conf import settings

    from tests.runner import apply_test_settings

    apply_test_settings(settings)
