"""Middleware of this project.

1. Response headers every page and API answer needs (issue 12).

Pages and the API share URLs (content negotiation on Accept), so every answer varies on
Accept, and nothing personal may be kept by a cache between: answers to a logged-in user
and JSON answers are `Cache-Control: private, no-store` (event streams keep the
`no-cache` of their own contract). Sync and async, so the streams stay on the event loop.

2. Django's own middleware, without a thread hop per hook for async requests (issue 16).

Django runs the hooks of a `MiddlewareMixin` middleware (process_request, process_view,
process_response) through `sync_to_async` when the request is async: a hop to the one
thread that runs sync code and back, ~0.2–0.3 ms of loop CPU each, 13 per request with this
project's middleware. The hooks below do no I/O, so `OnTheLoop` calls the very same methods
directly on the event loop — nothing of their logic is rewritten here. A hook that *may* do
I/O for a given request says so in `in_thread`, and then runs in the thread as before:
saving a modified session, storing messages (which may go to the session), parsing a
multipart upload for the CSRF token (it may spill to temporary files).

Sync requests (the WSGI test client, management commands) are untouched: `OnTheLoop` only
replaces the async path. Wrapping another sync middleware is one line, as for django-csp:

    class CSPMiddleware(OnTheLoop, csp.CSPMiddleware): ...

(django-htmx's and django-axes' middleware are async already.)
"""

from functools import partial
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from csp import middleware as csp
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest
from django.middleware import clickjacking, common, csrf, security
from django.utils.cache import patch_cache_control, patch_vary_headers

from studyplanner.db import run_db


class OnTheLoop:
    """Mixin for a `MiddlewareMixin` subclass whose hooks do no I/O: for async requests,
    call them on the event loop. Put it first: `class X(OnTheLoop, DjangoMiddleware)`."""

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)  # type: ignore[call-arg]
        view_hook = getattr(self, "process_view", None)
        if self.async_mode and view_hook is not None and not iscoroutinefunction(view_hook):
            # Django adapts process_view when it builds the handler: an async one is
            # called as it is.
            async def process_view(request: HttpRequest, *args: Any) -> Any:
                if self.in_thread(request, "view"):
                    return await sync_to_async(view_hook, thread_sensitive=True)(request, *args)
                return view_hook(request, *args)

            self.process_view = process_view

    def in_thread(self, request: HttpRequest, hook: str) -> bool:
        """Whether `hook` ("request", "view" or "response") may do I/O for this request,
        so that it must run in the sync thread as Django would run it."""
        return False

    async def __acall__(self, request: HttpRequest) -> Any:
        response = None
        process_request = getattr(self, "process_request", None)
        if process_request is not None:
            if self.in_thread(request, "request"):
                response = await sync_to_async(process_request, thread_sensitive=True)(request)
            else:
                response = process_request(request)
        response = response or await self.get_response(request)
        process_response = getattr(self, "process_response", None)
        if process_response is not None:
            if self.in_thread(request, "response"):
                response = await sync_to_async(process_response, thread_sensitive=True)(
                    request, response
                )
            else:
                response = process_response(request, response)
        return response


class SecurityMiddleware(OnTheLoop, security.SecurityMiddleware):
    """Headers and HTTPS redirects: pure."""


class SessionMiddleware(OnTheLoop, sessions.SessionMiddleware):
    """process_request only creates the lazy session; process_response saves a modified
    session (database) — that one runs in the thread."""

    def in_thread(self, request: HttpRequest, hook: str) -> bool:
        session = getattr(request, "session", None)
        if hook != "response" or session is None:
            return False
        return bool(session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class CommonMiddleware(OnTheLoop, common.CommonMiddleware):
    """User agents, slashes, Content-Length: pure (URL resolving is CPU)."""


class CsrfViewMiddleware(OnTheLoop, csrf.CsrfViewMiddleware):
    """Cookies and header/form tokens. Reading the form token of a multipart upload parses
    the whole upload (possibly into temporary files): that runs in the thread."""

    def in_thread(self, request: HttpRequest, hook: str) -> bool:
        if settings.CSRF_USE_SESSIONS:
            return True  # the token lives in the session (database)
        return hook == "view" and request.content_type == "multipart/form-data"


class AuthenticationMiddleware(OnTheLoop, auth.AuthenticationMiddleware):
    """Sets the lazy `request.user` and `request.auser`: no query until they are used.

    For an async request, `request.auser()` loads the session and the user in one database
    block (`run_db`: one thread hop instead of two, and the connection handed back at once
    instead of held until the response ends) with Django's own `get_user`."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        if self.async_mode:
            request.auser = partial(_user_in_one_block, request)


def user_of(request: HttpRequest) -> Any:
    """The request's user, read now (in this thread) if not read yet: for a database block
    that needs the user and something else (see sessions_app.access)."""
    if not hasattr(request, "_cached_user"):
        request._cached_user = get_user(request)
    request._acached_user = request._cached_user
    return request._cached_user


async def _user_in_one_block(request: HttpRequest) -> Any:
    if not hasattr(request, "_acached_user"):
        if not hasattr(request, "_cached_user"):
            await run_db(user_of, request)
        request._acached_user = request._cached_user
    return request._acached_user


class MessageMiddleware(OnTheLoop, messages.MessageMiddleware):
    """Creates the lazy message storage; storing messages that were shown or added may
    write the session (and load it from the database): that runs in the thread."""

    def in_thread(self, request: HttpRequest, hook: str) -> bool:
        storage = getattr(request, "_messages", None)
        return hook == "response" and storage is not None and (storage.used or storage.added_new)


class XFrameOptionsMiddleware(OnTheLoop, clickjacking.XFrameOptionsMiddleware):
    """One header: pure."""


class CSPMiddleware(OnTheLoop, csp.CSPMiddleware):
    """django-csp (issue 12): a lazy nonce, then one header built from settings: pure."""


# --- issue 12 ----------------------------------------------------------------------
def _patch(request, response, authenticated: bool):
    patch_vary_headers(response, ("Accept",))
    content_type = response.get("Content-Type", "")
    if content_type.startswith("text/event-stream"):
        return response  # the SSE contract sets its own Cache-Control (SPEC §7)
    if authenticated or content_type.startswith("application/json"):
        patch_cache_control(response, private=True, no_store=True)
    return response


class PrivateNegotiatedResponses:
    async_capable = True
    sync_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        response = self.get_response(request)
        return _patch(request, response, _authenticated(request))

    async def __acall__(self, request):
        response = await self.get_response(request)
        user = getattr(request, "_cached_user", None)
        if user is None and hasattr(request, "auser"):
            user = await request.auser()
        return _patch(request, response, bool(user and user.is_authenticated))


def _authenticated(request) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)
