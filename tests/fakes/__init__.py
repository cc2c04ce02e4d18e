"""Fakes of the outside world for tests: the AI provider (see provider.py)."""

import asyncio
import functools
import inspect
import threading

from ai import close_clients
from tests.fakes.provider import (
    DONE,
    KEEPALIVE,
    FakeProvider,
    RecordedRequest,
    Reply,
    completion_chunk,
)

__all__ = [
    "DONE",
    "FAKE_API_KEY",
    "KEEPALIVE",
    "FakeProvider",
    "FakeProviderMixin",
    "RecordedRequest",
    "Reply",
    "completion_chunk",
]

FAKE_API_KEY = "sk-or-v1-fake-key-for-tests"


class FakeProviderMixin:
    """For Django test classes that talk to the AI provider.

    One FakeProvider per class (`self.provider`), emptied before each test, with
    OPENROUTER_BASE_URL pointing at it and OPENROUTER_API_KEY set to FAKE_API_KEY. Each
    async test method ends by closing its event loop's shared AI HTTP client, as the
    server's shutdown hook does, so no connection outlives the test's loop.
    """

    provider: FakeProvider

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, method in list(vars(cls).items()):
            if name.startswith("test") and inspect.iscoroutinefunction(method):
                setattr(cls, name, _closing_ai_clients(method))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = FakeProvider().start()
        cls.addClassCleanup(cls.provider.stop)

    def setUp(self):
        super().setUp()
        self.provider.reset()
        self.enterContext(
            self.settings(
                OPENROUTER_BASE_URL=self.provider.base_url, OPENROUTER_API_KEY=FAKE_API_KEY
            )
        )

    async def wait_for(self, event: threading.Event, *, within: float) -> bool:
        """Whether one of the provider's threading events is set within `within` seconds,
        awaited without blocking this loop (which closes the client's sockets: blocking it
        would hide a disconnect)."""
        return await asyncio.to_thread(event.wait, within)


def _closing_ai_clients(test):
    @functools.wraps(test)
    async def run(*args, **kwargs):
        try:
            return await test(*args, **kwargs)
        finally:
            await close_clients()

    return run
