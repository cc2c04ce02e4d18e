"""Middleware without thread hops for async requests (issue 16): Django's own hooks run on
the event loop, except where they may do I/O for that request."""

from contextlib import contextmanager
from unittest import mock

from asgiref.sync import SyncToAsync
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.core.files.uploadedfile import SimpleUploadedFile
from django.middleware import clickjacking, common, csrf, security
from django.test import AsyncClient, SimpleTestCase
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string

from sessions_app.models import StudySession
from tests.base import AppTestCase

FORM = "application/x-www-form-urlencoded"  # what htmx and fetch send
JSON = {"accept": "application/json"}


@contextmanager
def counting_hops():
    """Every sync_to_async call made meanwhile, as the function it ran in the thread."""
    hops = []
    real_call = SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        hops.append(self.func)
        return await real_call(self, *args, **kwargs)

    with mock.patch.object(SyncToAsync, "__call__", counted):
        yield hops


def middleware_hooks(hops) -> list[str]:
    return [
        f"{type(func.__self__).__name__}.{func.__name__}"
        for func in hops
        if isinstance(getattr(func, "__self__", None), MiddlewareMixin)
    ]


class AsyncRequestHopTests(AppTestCase):
    def setUp(self):
        self.session = StudySession.objects.create(owner=self.owner, title="Calculus")

    async def test_an_async_get_runs_no_middleware_hook_in_a_thread(self):
        await self.async_client.aforce_login(self.owner)

        with counting_hops() as hops:
            response = await self.async_client.get(f"/sessions/{self.session.pk}/plan-status")

        self.assertEqual(response.status_code, 200)
        self.assertEqual(middleware_hooks(hops), [])
        # What is left: request_started, the session and the user (one block, for
        # login_required), the study session, the view's block, closing the response.
        self.assertLessEqual(len(hops), 5, [getattr(f, "__qualname__", "?") for f in hops])

    async def test_the_session_and_the_user_are_read_in_one_block(self):
        await self.async_client.aforce_login(self.owner)

        with counting_hops() as hops:
            response = await self.async_client.get(f"/sessions/{self.session.pk}/plan-status")

        self.assertEqual(response.status_code, 200)
        read = [getattr(func, "__qualname__", "") for func in hops]
        self.assertNotIn("SessionBase.aget", read)  # Django's own auser: session, then user
        # The study session too is read in a run_db block (not .aget(), which keeps the
        # thread's connection checked out of the pool until the response ends).
        self.assertNotIn("QuerySet.get", read)
        self.assertEqual(read.count("run_db.<locals>.block"), 3, read)

    async def test_an_async_post_checks_its_csrf_token_on_the_loop(self):
        client = AsyncClient(enforce_csrf_checks=True)
        await client.aforce_login(self.owner)
        await client.get("/sessions/")  # a page: it sets the CSRF cookie
        token = client.cookies[settings.CSRF_COOKIE_NAME].value
        url = f"/sessions/{self.session.pk}/cancel-generation"

        with counting_hops() as hops:
            accepted = await client.post(url, "", FORM, headers={"x-csrftoken": token, **JSON})
        refused = await client.post(url, "", FORM, headers=JSON)

        self.assertEqual(accepted.status_code, 409)  # past CSRF: nothing is running
        self.assertEqual(refused.status_code, 403)
        self.assertEqual(middleware_hooks(hops), [])

    async def test_a_multipart_posts_csrf_token_is_read_in_the_thread(self):
        client = AsyncClient(enforce_csrf_checks=True)
        await client.aforce_login(self.owner)
        await client.get("/sessions/")
        token = client.cookies[settings.CSRF_COOKIE_NAME].value

        with counting_hops() as hops:
            response = await client.post(
                f"/sessions/{self.session.pk}/cancel-generation",
                {"csrfmiddlewaretoken": token, "file": SimpleUploadedFile("a.md", b"# A")},
                headers={"accept": "application/json"},
            )

        self.assertEqual(response.status_code, 409)
        self.assertEqual(middleware_hooks(hops), ["CsrfViewMiddleware.process_view"])

    async def test_a_modified_session_is_saved_in_the_thread(self):
        await self.async_client.aforce_login(self.owner)

        with counting_hops() as hops:
            logout = await self.async_client.post("/accounts/logout/")
        after = await self.async_client.get(f"/sessions/{self.session.pk}/plan-status")

        self.assertEqual(logout.status_code, 302)
        self.assertIn("SessionMiddleware.process_response", middleware_hooks(hops))
        self.assertNotEqual(after.status_code, 200)  # really logged out


class MiddlewareSettingTests(SimpleTestCase):
    def test_each_middleware_is_djangos_own_class(self):
        originals = [
            security.SecurityMiddleware,
            sessions.SessionMiddleware,
            common.CommonMiddleware,
            csrf.CsrfViewMiddleware,
            auth.AuthenticationMiddleware,
            messages.MessageMiddleware,
            clickjacking.XFrameOptionsMiddleware,
            CSPMiddleware,
        ]
        installed = [import_string(path) for path in settings.MIDDLEWARE]
        for original in originals:
            with self.subTest(original.__name__):
                self.assertTrue(any(issubclass(cls, original) for cls in installed))
