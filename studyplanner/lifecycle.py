"""Server shutdown hooks: what an app must finish before the process exits.

An app registers a coroutine function in its AppConfig.ready() (`on_shutdown(fn)`);
studyplanner.asgi awaits them all on the ASGI lifespan shutdown (uvicorn's graceful
shutdown, after SIGTERM), in registration order.
"""

import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

_hooks: list[Callable[[], Awaitable[None]]] = []


def on_shutdown(hook: Callable[[], Awaitable[None]]) -> None:
    if hook not in _hooks:
        _hooks.append(hook)


async def run_shutdown_hooks() -> None:
    for hook in list(_hooks):
        try:
            await hook()
        except Exception:
            logger.exception("Shutdown hook %r failed", hook)
