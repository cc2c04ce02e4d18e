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
