"""A fake OpenRouter: a real HTTP/1.1 server on 127.0.0.1 speaking the chat-completions wire
format, faults included, for tests and the benchmark.

It runs its own event loop in a background thread, so any client can use it: the code under
test in the same process, or another process (a uvicorn subprocess given `base_url` as its
OPENROUTER_BASE_URL). Each `POST <base_url>/chat/completions` is answered with the next
scripted `Reply` from the queue, or, when the queue is empty, with whatever the responder
returns for the request (by default, a short answer in the form the request asked for).

    provider = FakeProvider().start()              # or: with FakeProvider() as provider:
    provider.enqueue(Reply.error(429, retry_after=2), Reply.stream("[...]", delay=0.05))
    provider.responder = lambda request: Reply.answer(request, plan_for(request.user_prompt))
    ...                                            # point OPENROUTER_BASE_URL at provider.base_url
    request = provider.wait_for_requests(1)[0]     # a RecordedRequest: .json, .headers, .stream
    assert request.wait_disconnected(timeout=1)    # from async code: await asyncio.to_thread(...)
    provider.reset()                               # between tests: empty queue, no records
    provider.stop()

In a unittest class: `cls.provider = FakeProvider().start()` in `setUpClass`, then
`cls.addClassCleanup(cls.provider.stop)`, and `self.provider.reset()` in `setUp`.

The responder runs on the server's loop: keep it quick and never block in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

KEEPALIVE = ": OPENROUTER PROCESSING\n\n"
DONE = "data: [DONE]\n\n"
DEFAULT_MODEL = "fake/model-1"
DEFAULT_USAGE = {"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46, "cost": 0.00021}
DEFAULT_TEXT = "This is the fake provider's answer."

Ending = Literal["complete", "hang", "abort"]


def completion_chunk(
    content: str | None = None,
    *,
    reasoning: str | None = None,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    model: str = DEFAULT_MODEL,
    choices: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A `chat.completion.chunk` as OpenRouter streams it. `choices=[]` gives the final
    usage-only chunk."""
    if choices is None:
        delta: dict[str, Any] = {"role": "assistant"}
        if content is not None:
            delta["content"] = content
        if reasoning is not None:
            delta["reasoning"] = reasoning
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        if finish_reason is not None:
            choice["native_finish_reason"] = finish_reason
        choices = [choice]
    chunk = {
        "id": "gen-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "provider": "Fake",
        "choices": choices,
    }
    if usage is not None:
        chunk["usage"] = usage
    if error is not None:
        chunk["error"] = error
    return chunk


@dataclass
class Reply:
    """What the fake sends for one request. Build one with the class methods.

    `parts` are sent one by one, `delay` seconds apart, each as its own HTTP chunk (chunked
    transfer encoding) when `streamed`, else as one body with a Content-Length. `latency`
    passes before anything is sent. `status=None` sends no response at all. `ending` says
    what follows the parts: the end of the response ("complete"), silence until the client
    goes away ("hang"), or closing the connection without ending the response ("abort").
    """

    status: int | None = 200
    headers: dict[str, str] = field(default_factory=dict)
    parts: list[bytes] = field(default_factory=list)
    streamed: bool = False
    delay: float = 0.0
    latency: float = 0.0
    ending: Ending = "complete"

    @classmethod
    def sse(
        cls,
        events: Iterable[dict[str, Any] | str],
        *,
        delay: float = 0.0,
        latency: float = 0.0,
        split_bytes: int | Sequence[int] | None = None,
        newline: str = "\n",
        ending: Ending = "complete",
    ) -> Reply:
        """An event stream: each dict becomes `data: <json>`, each str is sent as it is
        (KEEPALIVE, DONE, or any raw text). One event per HTTP chunk, unless `split_bytes`
        cuts the whole body into chunks at those byte offsets (an int n: every n bytes), then
        `delay` separates those chunks. `newline="\\r\\n"` frames the events with CRLF."""
        texts = [
            f"data: {_compact_json(event)}\n\n" if isinstance(event, dict) else event
            for event in events
        ]
        parts = [text.replace("\n", newline).encode() for text in texts]
        if split_bytes is not None:
            parts = _split(b"".join(parts), split_bytes)
        return cls(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
            parts=parts,
            streamed=True,
            delay=delay,
            latency=latency,
            ending=ending,
        )

    @classmethod
    def stream(
        cls,
        text: str = DEFAULT_TEXT,
        *,
        chunk_size: int = 8,
        delay: float = 0.0,
        latency: float = 0.0,
        keepalive: int = 1,
        reasoning: str | None = None,
        model: str = DEFAULT_MODEL,
        finish_reason: str | None = "stop",
        usage: dict[str, Any] | None = DEFAULT_USAGE,
        usage_in_last_chunk: bool = False,
        error: dict[str, Any] | None = None,
        done: bool = True,
        split_bytes: int | Sequence[int] | None = None,
        newline: str = "\n",
        ending: Ending = "complete",
    ) -> Reply:
        """A streamed answer as OpenRouter sends it: `keepalive` comments, a role chunk,
        `reasoning` (if any) then `text` in pieces of `chunk_size` characters, a chunk with
        `finish_reason`, a usage chunk with empty choices (or the usage on the finishing
        chunk: `usage_in_last_chunk`), then `[DONE]`. With `error`, an OpenRouter error
        chunk (`finish_reason: "error"`) replaces everything after the text."""
        events: list[dict[str, Any] | str] = [KEEPALIVE] * keepalive
        events.append(completion_chunk("", model=model))
        for piece in _pieces(reasoning or "", chunk_size):
            events.append(completion_chunk(reasoning=piece, model=model))
        for piece in _pieces(text, chunk_size):
            events.append(completion_chunk(piece, model=model))
        if error is not None:
            events.append(completion_chunk("", finish_reason="error", error=error, model=model))
        elif usage_in_last_chunk:
            last = events[-1]
            assert isinstance(last, dict)
            last["choices"][0].update(
                finish_reason=finish_reason, native_finish_reason=finish_reason
            )
            if usage is not None:
                last["usage"] = usage
        else:
            if finish_reason is not None:
                events.append(completion_chunk("", finish_reason=finish_reason, model=model))
            if usage is not None:
                events.append(completion_chunk(usage=usage, model=model, choices=[]))
        if done and error is None:
            events.append(DONE)
        return cls.sse(
            events,
            delay=delay,
            latency=latency,
            split_bytes=split_bytes,
            newline=newline,
            ending=ending,
        )

    @classmethod
    def mid_stream_error(
        cls,
        text_before: str = "",
        *,
        code: int | str = 502,
        message: str = "Provider returned error",
        **stream_options: Any,
    ) -> Reply:
        """Some text, then OpenRouter's error chunk (`error` plus `finish_reason: "error"`)."""
        return cls.stream(text_before, error={"code": code, "message": message}, **stream_options)

    @classmethod
    def truncated(cls, text: str = "", *, abort: bool = False, **stream_options: Any) -> Reply:
        """A stream that ends without a finish reason and without [DONE]: the response ends
        properly, or with `abort` the connection is closed in the middle of it."""
        return cls.stream(
            text,
            finish_reason=None,
            usage=None,
            done=False,
            ending="abort" if abort else "complete",
            **stream_options,
        )

    @classmethod
    def length(cls, text: str = DEFAULT_TEXT, **stream_options: Any) -> Reply:
        """A stream cut off at the output limit (`finish_reason: "length"`)."""
        return cls.stream(text, finish_reason="length", **stream_options)

    @classmethod
    def hang(cls, after_text: str | None = None, **stream_options: Any) -> Reply:
        """Silence: no response at all, or with `after_text` a stream that stops after it."""
        if after_text is None:
            return cls(status=None, ending="hang")
        return cls.stream(
            after_text, finish_reason=None, usage=None, done=False, ending="hang", **stream_options
        )

    @classmethod
    def disconnect(cls) -> Reply:
        """Close the connection without sending a response."""
        return cls(status=None, ending="abort")

    @classmethod
    def completion(
        cls,
        text: str = DEFAULT_TEXT,
        *,
        model: str = DEFAULT_MODEL,
        finish_reason: str = "stop",
        usage: dict[str, Any] | None = DEFAULT_USAGE,
        error: dict[str, Any] | None = None,
        latency: float = 0.0,
    ) -> Reply:
        """A non-streamed answer. With `error`: the 200 answer OpenRouter gives when the model
        failed after it started (`finish_reason: "error"` and an `error` object)."""
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "error" if error is not None else finish_reason,
        }
        body: dict[str, Any] = {
            "id": "gen-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "provider": "Fake",
            "choices": [choice],
        }
        if usage is not None:
            body["usage"] = usage
        if error is not None:
            choice["error"] = body["error"] = error
        return cls.json(body, latency=latency)

    @classmethod
    def error(
        cls,
        status: int,
        body: dict[str, Any] | str | bytes | None = None,
        *,
        message: str | None = None,
        retry_after: float | str | None = None,
        latency: float = 0.0,
    ) -> Reply:
        """An HTTP error. The body defaults to OpenRouter's `{"error": {"code", "message"}}`;
        a str or bytes body is sent as text/html (what a proxy in the way would send).
        `retry_after` may be seconds or an HTTP date."""
        if body is None:
            body = {"error": {"code": status, "message": message or _phrase(status)}}
        if isinstance(body, dict):
            reply = cls.json(body, status=status, latency=latency)
        else:
            raw = body.encode() if isinstance(body, str) else body
            reply = cls(
                status=status,
                headers={"Content-Type": "text/html"},
                parts=[raw],
                latency=latency,
            )
        if retry_after is not None:
            reply.headers["Retry-After"] = str(retry_after)
        return reply

    @classmethod
    def json(cls, body: Any, *, status: int = 200, latency: float = 0.0) -> Reply:
        return cls(
            status=status,
            headers={"Content-Type": "application/json"},
            parts=[_compact_json(body).encode()],
            latency=latency,
        )

    @classmethod
    def answer(cls, request: RecordedRequest, text: str = DEFAULT_TEXT, **options: Any) -> Reply:
        """`text` in the form the request asked for: streamed or not. `options` go to
        `stream()` or `completion()` (only those that `completion()` takes, for the latter)."""
        if request.stream:
            return cls.stream(text, **options)
        keep = {"model", "finish_reason", "usage", "latency"}
        return cls.completion(text, **{name: options[name] for name in keep & options.keys()})


def default_responder(request: RecordedRequest) -> Reply:
    return Reply.answer(request)


@dataclass(eq=False)
class RecordedRequest:
    """One request the fake received, and what became of its reply: `completed` is set once
    the scripted reply was sent in full, `disconnected` if the client closed the connection
    before that. Times are `time.monotonic()`, comparable with the test's own.
    """

    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    connection: int  # the same number for requests on one kept-alive connection
    arrived_at: float
    reply: Reply | None = None
    completed_at: float | None = None
    disconnected_at: float | None = None
    # When each part of a streamed reply was written (time.monotonic()), for relay timings.
    sent_at: list[float] = field(default_factory=list, repr=False)
    completed: threading.Event = field(default_factory=threading.Event, repr=False)
    disconnected: threading.Event = field(default_factory=threading.Event, repr=False)

    @functools.cached_property
    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def stream(self) -> bool:
        return isinstance(self.json, dict) and bool(self.json.get("stream"))

    @property
    def model(self) -> str | None:
        return self.json.get("model") if isinstance(self.json, dict) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.json.get("messages", []) if isinstance(self.json, dict) else []

    @property
    def system_prompt(self) -> str | None:
        return next((m["content"] for m in self.messages if m.get("role") == "system"), None)

    @property
    def user_prompt(self) -> str | None:
        users = [m["content"] for m in self.messages if m.get("role") == "user"]
        return users[-1] if users else None

    def wait_completed(self, timeout: float = 5.0) -> bool:
        """Whether the reply was sent in full within `timeout` seconds."""
        return self.completed.wait(timeout)

    def wait_disconnected(self, timeout: float = 5.0) -> bool:
        """Whether the client closed the connection before the reply was sent in full."""
        return self.disconnected.wait(timeout)


class FakeProvider:
    """The server. See the module docstring for a tour."""

    def __init__(
        self,
        *,
        base_path: str = "/api/v1",
        responder: Callable[[RecordedRequest], Reply] = default_responder,
        port: int = 0,
    ) -> None:
        self.base_path = base_path.rstrip("/")
        self.responder = responder
        self._requested_port = port
        self.port: int | None = None
        self._replies: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._changed = threading.Condition()
        self._connections = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._open: dict[asyncio.Task, asyncio.StreamWriter] = {}  # connection handlers
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeProvider:
        self._thread = threading.Thread(target=self._run, name="fake-provider", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._startup_error is not None:
            raise RuntimeError("the fake provider could not start") from self._startup_error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None and self._thread is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """What OPENROUTER_BASE_URL should be, e.g. http://127.0.0.1:41234/api/v1."""
        return f"http://127.0.0.1:{self.port}{self.base_path}"

    # --- scripting and records -----------------------------------------------------------

    def enqueue(self, *replies: Reply) -> None:
        """Replies for the next requests, in order; the responder answers once they run out."""
        with self._changed:
            self._replies.extend(replies)

    def reset(self) -> None:
        """Forget scripted replies and records; back to the default responder."""
        with self._changed:
            self._replies.clear()
            self._requests.clear()
            self.responder = default_responder

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received so far, oldest first."""
        with self._changed:
            return list(self._requests)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Blocks until `count` requests have arrived; raises AssertionError after `timeout`."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._requests) >= count, timeout):
                raise AssertionError(
                    f"expected {count} requests within {timeout} s, got {len(self._requests)}"
                )
            return list(self._requests)

    # --- the server ----------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        try:
            self._loop = asyncio.get_running_loop()
            self._stopping = asyncio.Event()
            server = await asyncio.start_server(
                self._handle, "127.0.0.1", self._requested_port, backlog=1024
            )
            self.port = server.sockets[0].getsockname()[1]
        except BaseException as exc:
            self._startup_error = exc
            raise
        finally:
            self._ready.set()
        await self._stopping.wait()
        server.close()
        # Closing the sockets ends each handler as a client hanging up would. (Cancelling them
        # instead makes Python 3.11's asyncio log an error for each.)
        for writer in list(self._open.values()):
            writer.close()
        if self._open:
            await asyncio.wait(list(self._open), timeout=5)
        await server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._open[task] = writer
        connection = next(self._connections)
        leftover = b""  # a byte read while watching for a disconnect: the next request's first
        try:
            while True:
                request = await _read_request(reader, leftover, connection)
                if request is None:
                    return
                reply = self._reply_for(request)
                leftover, keep_open = await self._send_watching(reply, request, reader, writer)
                if not keep_open or request.headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
            del self._open[task]

    def _reply_for(self, request: RecordedRequest) -> Reply:
        if request.method != "POST" or request.path != f"{self.base_path}/chat/completions":
            reply = Reply.error(404, message=f"No route for {request.method} {request.path}")
        else:
            with self._changed:
                reply = self._replies.popleft() if self._replies else None
                responder = self.responder
            if reply is None:
                try:
                    reply = responder(request)
                except Exception as exc:  # shown to the test through the client's error
                    reply = Reply.error(500, message=f"fake provider responder failed: {exc!r}")
        request.reply = reply
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()
        return reply

    async def _send_watching(
        self,
        reply: Reply,
        request: RecordedRequest,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> tuple[bytes, bool]:
        """Sends the reply while watching the socket, so that a client going away is seen at
        once, even during a pause or a hang. Returns any byte read meanwhile, and whether the
        connection may serve another request."""
        sending = asyncio.ensure_future(_send(reply, writer, request.sent_at))
        watching = asyncio.ensure_future(_read_byte(reader))
        await asyncio.wait({sending, watching}, return_when=asyncio.FIRST_COMPLETED)
        if not sending.done() and watching.result():
            await asyncio.wait({sending})  # a client sending early (pipelining): not a hang-up
        if not sending.done():  # the client closed the connection
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sending
            _mark(request, "disconnected")
            return b"", False
        if sending.exception() is not None:
            watching.cancel()
            if not isinstance(sending.exception(), ConnectionError):
                raise sending.exception()
            _mark(request, "disconnected")  # writing failed: the client is gone
            return b"", False
        _mark(request, "completed")
        if watching.done():
            byte = watching.result()
            return byte, bool(byte) and reply.ending == "complete"
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        return b"", reply.ending == "complete"


def _mark(request: RecordedRequest, outcome: Literal["completed", "disconnected"]) -> None:
    setattr(request, f"{outcome}_at", time.monotonic())
    getattr(request, outcome).set()


async def _read_byte(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.read(1)
    except ConnectionError:
        return b""


async def _read_request(
    reader: asyncio.StreamReader, leftover: bytes, connection: int
) -> RecordedRequest | None:
    """The next request on the connection, or None when the client closed it."""
    try:
        head = leftover + await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    arrived_at = time.monotonic()
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, path, _version = request_line.split(" ", 2)
    headers = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += (await reader.readexactly(size + 2))[:-2]
        await reader.readuntil(b"\r\n")
    else:
        body = await reader.readexactly(int(headers.get("content-length", 0)))
    return RecordedRequest(method, path, headers, body, connection, arrived_at)


async def _send(reply: Reply, writer: asyncio.StreamWriter, sent_at: list[float]) -> None:
    if reply.latency:
        await asyncio.sleep(reply.latency)
    if reply.status is not None:
        headers = {"Server": "fake-openrouter", **reply.headers}
        if reply.streamed:
            headers["Transfer-Encoding"] = "chunked"
        else:
            headers["Content-Length"] = str(sum(len(part) for part in reply.parts))
        head = f"HTTP/1.1 {reply.status} {_phrase(reply.status)}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        writer.write(head.encode("latin-1") + b"\r\n")
        if not reply.streamed:
            writer.write(b"".join(reply.parts))
        await writer.drain()
        for index, part in enumerate(reply.parts if reply.streamed else []):
            if index and reply.delay:
                await asyncio.sleep(reply.delay)
            writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            await writer.drain()
            sent_at.append(time.monotonic())
    if reply.ending == "hang":
        await asyncio.Event().wait()  # until the client goes away or the server stops
    elif reply.ending == "abort":
        writer.close()
    elif reply.streamed:
        writer.write(b"0\r\n\r\n")
        await writer.drain()


def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))  # as OpenRouter sends it


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _pieces(text: str, size: int) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)]


def _split(data: bytes, split_bytes: int | Sequence[int]) -> list[bytes]:
    if isinstance(split_bytes, int):
        offsets = list(range(split_bytes, len(data), split_bytes))
    else:
        offsets = sorted(offset for offset in set(split_bytes) if 0 < offset < len(data))
    bounds = [0, *offsets, len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


# --- run on its own: watch the AI path without a key -------------------------------------

_CURRENT_PLAN = re.compile(r"Current plan:\n(.*?)\n\nNew document \"([^\"]+)\"", re.S)
_DOCUMENT_TEXT = re.compile(r"<document>\n(.*?)\n</document>", re.S)


def demo_responder(request: RecordedRequest) -> Reply:
    """Plausible answers, streamed slowly enough to watch: a fold request gets the plan the
    offline builder would make (as the model's JSON), a question gets a cited answer."""
    from plans.builders.base import SourceDocument
    from plans.builders.offline import fold_document

    prompt = request.user_prompt or ""
    plan_match, text_match = _CURRENT_PLAN.search(prompt), _DOCUMENT_TEXT.search(prompt)
    if plan_match and text_match:
        current = json.loads(plan_match.group(1)).get("topics", [])
        document = SourceDocument(plan_match.group(2), text_match.group(1))
        plan = list(fold_document(current, document))[-1]
        answer = json.dumps({"topics": plan}, ensure_ascii=False)
    else:
        answer = "Your documents cover this in the first passage [1]; see also [2]."
    return Reply.answer(request, answer, chunk_size=6, delay=0.03)


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(
        description="Serve the fake OpenAI-compatible provider on 127.0.0.1 until Ctrl-C."
    )
    parser.add_argument("--port", type=int, default=8001)
    options = parser.parse_args(argv)
    provider = FakeProvider(port=options.port, responder=demo_responder).start()
    print(f"Fake AI provider on {provider.base_url} (Ctrl-C to stop). In another terminal:")
    print(f"  OPENROUTER_API_KEY=fake OPENROUTER_BASE_URL={provider.base_url} make run", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        provider.stop()


if __name__ == "__main__":
    main()
