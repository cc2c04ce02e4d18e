"""Pacing a stream of plan events for a live connection.

Two things a client needs that the builder shouldn't know about: a keep-alive ping while
nothing happens (proxies and browsers drop silent connections), and no flood of progress
events — at most one every `min_gap` seconds, the newest state winning, never delayed past
the gap.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from plans.builder import PlanEvent, Progress

PING = object()
_END = object()


class _Crashed:
    def __init__(self, error: BaseException):
        self.error = error


async def paced(
    events: AsyncIterator[PlanEvent], *, ping_interval: float, min_gap: float = 0.1
) -> AsyncIterator:
    """Yield the events of `events`, PING after `ping_interval` s of silence, and progress
    events at most every `min_gap` s (a newer progress replaces a held one; a non-progress
    event supersedes a held progress event, since it carries a newer plan).

    `events` runs in its own task so a ping can go out while it waits; when this generator
    is closed or cancelled (the client went away), that task is cancelled and awaited, so
    its cleanup is finished when this returns.
    """
    queue: asyncio.Queue = asyncio.Queue()

    async def produce():
        try:
            async for event in events:
                queue.put_nowait(event)
        except Exception as error:
            queue.put_nowait(_Crashed(error))
        finally:
            queue.put_nowait(_END)

    producer = asyncio.ensure_future(produce())
    held: Progress | None = None
    last_progress_at = float("-inf")
    try:
        while True:
            now = time.monotonic()
            timeout = ping_interval
            if held is not None:
                timeout = max(0.0, last_progress_at + min_gap - now)
            try:
                # Most events are already waiting: take them without a timer or a task.
                item = queue.get_nowait() if not queue.empty() and held is None else None
                if item is None:
                    item = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                if held is not None:
                    yield held
                    held, last_progress_at = None, time.monotonic()
                else:
                    yield PING
                continue
            if item is _END:
                return
            if isinstance(item, _Crashed):
                raise item.error
            if isinstance(item, Progress):
                if time.monotonic() - last_progress_at >= min_gap:
                    yield item
                    held, last_progress_at = None, time.monotonic()
                else:
                    held = item
                continue
            held = None
            yield item
    finally:
        if not producer.done():
            producer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await producer
