"""Server-Sent Events for any stream of events (SPEC §7): encoding, and pacing for a live
connection.

    event: progress
    id: 4
    data: {"doc": 1, "total": 3, "plan": [...]}

JSON data is always one line; text (HTML fragments) is split into one `data:` line per
line, which the browser joins back with newlines. Comments start with a colon.

Pacing adds what a client needs and a producer shouldn't know about: a keep-alive ping while
nothing happens (proxies and browsers drop silent connections), and no flood of updates —
events that only restate a newer state (their class says `coalesce = True`) go out at most
every `min_gap` seconds, the newest winning, never delayed past the gap.
"""

import asyncio
import contextlib
import json
import re
import time
from collections import deque
from collections.abc import AsyncIterator

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _single_line(value: str, field: str) -> str:
    if _LINE_BREAK.search(value):
        raise ValueError(f"an SSE {field} cannot contain a line break: {value!r}")
    return value


def encode_event(
    event: str | None = None,
    data: object = None,
    *,
    id: str | int | None = None,
    retry: int | None = None,
) -> str:
    """One event block, ending with the blank line that dispatches it.

    `data` that is a str is sent as text (one `data:` line per line); anything else is sent
    as one line of JSON.
    """
    lines = []
    if retry is not None:
        lines.append(f"retry: {int(retry)}")
    if event is not None:
        lines.append(f"event: {_single_line(event, 'event name')}")
    if id is not None:
        lines.append(f"id: {_single_line(str(id), 'id')}")
    if data is not None:
        if isinstance(data, str):
            text = data
        else:
            text = json.dumps(data, ensure_ascii=False, separators=(", ", ": "))
        lines.extend(f"data: {line}" for line in _LINE_BREAK.split(text))
    return "\n".join(lines) + "\n\n"


def encode_retry(milliseconds: int) -> str:
    """Tell the client how long to wait before reconnecting."""
    return f"retry: {int(milliseconds)}\n\n"


def encode_comment(text: str = "") -> str:
    """A comment line: ignored by clients, keeps proxies and the connection alive."""
    return "".join(f": {line}\n" if line else ":\n" for line in _LINE_BREAK.split(text)) + "\n"


PING = object()
_END = object()


class _Crashed:
    def __init__(self, error: BaseException):
        self.error = error


async def paced(
    events: AsyncIterator, *, ping_interval: float, min_gap: float = 0.1
) -> AsyncIterator:
    """Yield the events of `events`, PING after `ping_interval` s of silence, and
    coalescing events at most every `min_gap` s (a newer one replaces a held one; any other
    event supersedes a held one, since it carries a newer state).

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
    held = None
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
            if getattr(item, "coalesce", False):
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


def _coalesces(item) -> bool:
    return getattr(item, "coalesce", False)


class Feed:
    """One watcher's events of a stream that several clients may watch: bounded, paced, and
    detachable.

    The producer `put`s without ever waiting (one slow client must not slow the others): a
    coalescing item replaces a coalescing one still waiting at the tail, so a client that
    stops reading holds at most one pending state plus the items that must all arrive (the
    others, e.g. `document_processed` and the final event); past `max_items` of those the
    feed detaches itself. The connection takes items with `next()`: PING after
    `ping_interval` s of silence, coalescing items at most every `min_gap` s (a held one is
    dropped when a newer item follows it, as in `paced`), _END once the feed is finished
    (after its last item) or detached (at once).

    `stalled(timeout)` says whether the reader went off with an item (to send it) more than
    `timeout` s ago and hasn't come back while items wait: a client that stopped reading.
    """

    def __init__(self, *, ping_interval: float, min_gap: float = 0.1, max_items: int = 1000):
        self.ping_interval = ping_interval
        self.min_gap = min_gap
        self.max_items = max_items
        self.items: deque = deque()
        self.finished = False
        self.detached = ""  # why, once detached
        self._waiter: asyncio.Future | None = None
        self._away_since: float | None = None  # when `next` last returned
        self._last_out = time.monotonic()
        self._last_coalesced = float("-inf")

    def put(self, item) -> None:
        if self.finished or self.detached:
            return
        if self.items and _coalesces(self.items[-1]):
            # A state still waiting is obsolete once anything newer arrives (see `next`).
            self.items[-1] = item
        else:
            self.items.append(item)
            if len(self.items) > self.max_items:
                self.detach("too many events waiting")
                return
        self._wake()

    def finish(self) -> None:
        """No more items: `next` gives what is left, then _END."""
        self.finished = True
        self._wake()

    def detach(self, reason: str) -> None:
        """Stop now: what is left is dropped and `next` gives _END."""
        self.detached = reason
        self.items.clear()
        self._wake()

    def stalled(self, timeout: float, now: float | None = None) -> bool:
        away = self._away_since
        now = time.monotonic() if now is None else now
        return away is not None and bool(self.items) and now - away > timeout

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next(self):
        self._away_since = None
        try:
            while True:
                if self.detached:
                    return _END
                now = time.monotonic()
                if self.items:
                    item = self.items[0]
                    if not _coalesces(item):
                        self.items.popleft()
                        return self._out(item, now)
                    if len(self.items) > 1:  # a newer state follows: this one is obsolete
                        self.items.popleft()
                        continue
                    timeout = self._last_coalesced + self.min_gap - now
                    if timeout <= 0:
                        self.items.popleft()
                        self._last_coalesced = now
                        return self._out(item, now)
                elif self.finished:
                    return _END
                else:
                    timeout = self._last_out + self.ping_interval - now
                    if timeout <= 0:
                        return self._out(PING, now)
                await self._wait(timeout)
        finally:
            self._away_since = time.monotonic()

    def _out(self, item, now: float):
        self._last_out = now
        return item

    async def _wait(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        timer = loop.call_later(seconds, _resolve, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    async def __aiter__(self):
        while (item := await self.next()) is not _END:
            yield item


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
