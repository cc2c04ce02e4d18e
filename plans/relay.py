"""Events of runs on other workers, through PostgreSQL LISTEN/NOTIFY (SPEC §7).

One listening connection per process (psycopg 3 async), not one per watcher. The owner of a
run NOTIFYs a pointer (`<run>.<seq>.<event>.<session>`, never the plan: NOTIFY payloads stop
at 8,000 bytes) in the same database block that saves the document or ends the run, so it
costs no extra round trip; watchers here are woken and read the rows. Cancel requests travel
the same way, so "Stop" reaches the owner at once, wherever it runs. Watchers in the owner's
own process never come here: plans.live fans events out in memory.

On SQLite (one process serves everything) there is nothing to relay and this stays idle.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable

from django.db import connections

from sessions_app.models import CANCEL_CHANNEL, EVENTS_CHANNEL

logger = logging.getLogger(__name__)


def _conninfo() -> str | None:
    settings = connections["default"].settings_dict
    if connections["default"].vendor != "postgresql":
        return None
    from psycopg.conninfo import make_conninfo

    params = {
        "dbname": settings["NAME"],
        "user": settings.get("USER"),
        "password": settings.get("PASSWORD"),
        "host": settings.get("HOST"),
        "port": settings.get("PORT"),
    }
    return make_conninfo(**{key: value for key, value in params.items() if value})


class Relay:
    def __init__(self):
        self.task: asyncio.Task | None = None
        self.connected: asyncio.Event | None = None
        self.followers: dict[str, set[asyncio.Event]] = {}
        self.on_cancel: Callable[[str], bool] = lambda session_id: False

    def ensure_started(self) -> None:
        loop = asyncio.get_running_loop()
        if self.task is not None and not self.task.done() and self.task.get_loop() is loop:
            return
        conninfo = _conninfo()
        if conninfo is None:
            return
        self.connected = asyncio.Event()
        self.task = loop.create_task(self._listen(conninfo))

    async def ready(self, within: float = 2.0) -> None:
        """Wait (a little) until notifications are heard, so none is missed from here on."""
        if self.connected is not None and self.task is not None and not self.task.done():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within):
                    await self.connected.wait()

    def follow(self, run_id: str, wake: asyncio.Event) -> None:
        self.followers.setdefault(run_id, set()).add(wake)

    def unfollow(self, run_id: str, wake: asyncio.Event) -> None:
        followers = self.followers.get(run_id)
        if followers is not None:
            followers.discard(wake)
            if not followers:
                del self.followers[run_id]

    async def _listen(self, conninfo: str) -> None:
        import psycopg

        wait = 0.1
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    conninfo, autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {EVENTS_CHANNEL}")
                    await connection.execute(f"LISTEN {CANCEL_CHANNEL}")
                    self.connected.set()
                    logger.info("Listening for the events of generations on other workers")
                    wait = 0.1
                    # Anything sent while we were not listening: wake every follower.
                    for followers in self.followers.values():
                        for wake in followers:
                            wake.set()
                    async for note in connection.notifies():
                        self._dispatch(note.channel, note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.connected.clear()
                logger.warning("The NOTIFY listener lost its connection (%r); reconnecting", error)
                await asyncio.sleep(wait)
                wait = min(wait * 2, 2.0)

    def _dispatch(self, channel: str, payload: str) -> None:
        logger.debug("NOTIFY %s %s", channel, payload)
        if channel == CANCEL_CHANNEL:
            self.on_cancel(payload)
            return
        run_id = payload.split(".", 1)[0]
        for wake in self.followers.get(run_id, ()):
            wake.set()

    async def close(self) -> None:
        task, self.task = self.task, None
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


relay = Relay()
