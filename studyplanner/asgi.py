"""ASGI entry point: `uvicorn studyplanner.asgi:application`.

Wraps Django with two small pieces Django's ASGI handler leaves out: static files (unless a
proxy serves them, SERVE_STATIC=False) and the ASGI lifespan protocol, used to close the
shared AI HTTP client cleanly when the server stops, after the apps' shutdown hooks
(studyplanner.lifecycle: running generations save their progress and hand back their claims).
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyplanner.settings")

django_application = get_asgi_application()

from django.conf import settings  # noqa: E402  (needs the app registry loaded above)
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.core.exceptions import SuspiciousOperation  # noqa: E402
from django.http import Http404  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from studyplanner import counters  # noqa: E402

counters.install_from_environment()  # only when bench/run.py asks for it


def _tune_gc() -> None:
    """GC_GEN0_THRESHOLD and GC_FREEZE (settings.py, issue 16), once start-up is over."""
    if settings.GC_GEN0_THRESHOLD:
        gc.set_threshold(settings.GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])
    if settings.GC_FREEZE:
        get_resolver().url_patterns  # noqa: B018  (load the URL conf before freezing)
        gc.collect()
        gc.freeze()


class StaticFiles(ASGIStaticFilesHandler):
    """Django's static handler, but a path that climbs out of the static folders
    (`/static/%2e%2e/settings.py`) is a 404 like any missing file, not a 500."""

    def serve(self, request):
        try:
            return super().serve(request)
        except SuspiciousOperation as error:
            raise Http404("No such static file.") from error


async def _run_shutdown_hooks() -> None:
    from ai import close_clients
    from studyplanner.lifecycle import run_shutdown_hooks
    from studyplanner.metrics import forget_this_process

    await run_shutdown_hooks()  # the apps' (plans: stop live generations, save, release)
    await close_clients()
    forget_this_process()


def with_lifespan(app):
    async def lifespan_app(scope, receive, send):
        if scope["type"] != "lifespan":
            return await app(scope, receive, send)
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _tune_gc()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await _run_shutdown_hooks()
                await send({"type": "lifespan.shutdown.complete"})
                return

    return lifespan_app


application = with_lifespan(
    StaticFiles(django_application) if settings.SERVE_STATIC else django_application
)
