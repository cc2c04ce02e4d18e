"""A streamed answer: `TextStream` hands out its content piece by piece while each attempt
(`_StreamAttempt`) reads the provider's server-sent events and notes what the `Completion`
needs.

The answer is read a network chunk at a time: every event a chunk completes is decoded
(ai/event_stream.py) and parsed (jiter) in one pass, and `TextStream` hands out the
chunk's pieces from a list, so a piece costs no generator levels of its own — one chunk, one
trip through httpx (see "Performance (issue 16)" in the README).

Part of the AI client (ai/client.py): `AIClient.stream` makes a `TextStream`, and
the client's module re-exports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jiter
import tenacity

from ai.completion import Completion, check_finish, first_choice, usage_fields
from ai.errors import (
    AIError,
    AIOutputTruncatedError,
    AIProviderError,
    AITruncatedError,
    error_for_broken_answer,
    error_for_failed_request,
    error_for_response,
    error_in_answer,
)
from ai.event_stream import EventStreamDecoder
from ai.transport import CallConfig, counting_attempts, shared_http_client

# After `data: [DONE]`, how long to wait for the end of the HTTP body. Reading it lets the
# connection go back to the pool instead of being closed.
DRAIN_AFTER_DONE = 1.0


class TextStream:
    """The content of a streamed answer, piece by piece: an async iterator of str.

    Nothing is sent until the first piece is awaited. Faults before the first piece of
    content are retried; later ones are raised to the consumer. `completion` is set once the
    answer ended well, or was cut at the output limit (`AIOutputTruncatedError`: its tokens
    are paid all the same). Use `async with` (or `aclose()`) so that the upstream connection is
    closed at once when the consumer stops early or is cancelled between two pieces; a
    consumer cancelled while awaiting a piece closes it in any case.
    """

    def __init__(self, retrying: tenacity.AsyncRetrying, config: CallConfig, body: dict[str, Any]):
        self._retrying = retrying
        self._config = config
        self._body = body
        self.completion: Completion | None = None
        self._attempt: _StreamAttempt | None = None
        self._ended = False
        self._pieces: list[str] = []  # those of the last network chunk that had any
        self._next = 0  # the next one to hand out

    def __aiter__(self) -> TextStream:
        return self

    async def __anext__(self) -> str:
        if self._next < len(self._pieces):  # received already: no trip through httpx
            self._next += 1
            return self._pieces[self._next - 1]
        if self._ended:
            raise StopAsyncIteration
        try:
            if self._attempt is None:
                self._attempt, pieces = await self._retrying(counting_attempts(self._open_attempt))
            else:
                pieces = await self._attempt.next_pieces()
            if not pieces:
                self.completion = self._attempt.completion()
        except AIOutputTruncatedError as cut:
            self.completion = cut.completion
            await self.aclose()
            raise
        except BaseException:
            # Cancellation included: the connection must not outlive the consumer's interest.
            await self.aclose()
            raise
        if not pieces:
            await self.aclose()
            raise StopAsyncIteration
        self._pieces, self._next = pieces, 1
        return pieces[0]

    async def aclose(self) -> None:
        self._ended = True
        self._pieces, self._next = [], 0
        if self._attempt is not None:
            await self._attempt.aclose()

    async def __aenter__(self) -> TextStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _open_attempt(self) -> tuple[_StreamAttempt, list[str]]:
        attempt = _StreamAttempt(self._config, self._body)
        try:
            await attempt.start()
            return attempt, await attempt.next_pieces()
        except BaseException:
            # Cancellation included: the connection must not outlive a failed attempt.
            await attempt.aclose()
            raise


class _StreamAttempt:
    """One streamed request: sends it, checks the answer's status and type, then turns its
    server-sent events into pieces of content while noting what the Completion needs."""

    def __init__(self, config: CallConfig, body: dict[str, Any]):
        self._config = config
        self._body = body
        self._exit_stack = contextlib.AsyncExitStack()
        self._chunks: AsyncIterator[bytes] | None = None
        self._decoder = EventStreamDecoder()
        self._parts: list[str] = []
        self._model: str | None = None
        self._finish_reason: str | None = None
        self._usage: dict[str, Any] = {}
        self._done = False
        self._fault: AIError | None = None  # found after content in the same chunk: raised next

    async def start(self) -> None:
        headers = self._config.headers("text/event-stream")
        headers["Cache-Control"] = "no-store"
        try:
            response = await self._exit_stack.enter_async_context(
                shared_http_client().stream(
                    "POST",
                    self._config.url,
                    json=self._body,
                    headers=headers,
                    timeout=self._config.timeout,
                )
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise error_for_failed_request(exc, self._config.url, self._config.timeout) from exc
        # Check before reading events: error bodies are JSON, not events.
        if response.status_code != 200 or not _is_event_stream(response):
            raise await _unusable_stream(response)
        self._chunks = await self._exit_stack.enter_async_context(
            contextlib.aclosing(response.aiter_bytes())
        )

    async def next_pieces(self) -> list[str]:
        """The pieces of content in the next network chunks (at least one), or [] once the
        answer has ended well."""
        assert self._chunks is not None, "start() first"
        if self._fault is not None:
            raise self._fault
        if not self._done:
            try:
                async for chunk in self._chunks:
                    pieces = self._read(self._decoder.feed(chunk))
                    if pieces:
                        return pieces
                    if self._done:
                        break
            except httpx.HTTPError as exc:
                raise error_for_broken_answer(exc, self._config.timeout) from exc
        if self._done:
            await self._drain()
        elif self._finish_reason is None:
            raise AITruncatedError("the stream ended without a finish reason and without [DONE]")
        check_finish(self.completion())
        return []

    def completion(self) -> Completion:
        return Completion(
            text="".join(self._parts),
            model=self._model,
            finish_reason=self._finish_reason,
            **usage_fields(self._usage),
        )

    async def aclose(self) -> None:
        await self._exit_stack.aclose()

    def _read(self, events: list[bytes]) -> list[str]:
        """Notes what the events say, up to [DONE]; returns their content. A fault after
        some content is kept for the next call: the content before it is handed out first."""
        pieces: list[str] = []
        try:
            self._read_into(pieces, events)
        except AIError as fault:
            if not pieces:
                raise
            self._fault = fault
        self._parts += pieces
        return pieces

    def _read_into(self, pieces: list[str], events: list[bytes]) -> None:
        for data in events:
            if data == b"[DONE]":
                self._done = True
                break
            try:
                chunk = jiter.from_json(data)
            except ValueError as exc:
                if not data.strip():
                    continue
                raise AIProviderError(f"unreadable event in the stream: {data[:200]!r}") from exc
            if not isinstance(chunk, dict):
                raise AIProviderError(f"unexpected event in the stream: {data[:200]!r}")
            self._model = chunk.get("model") or self._model
            # Usage comes on the last chunk: one with empty choices, or the one that finishes.
            if isinstance(chunk.get("usage"), dict):
                self._usage = chunk["usage"]
            choice = first_choice(chunk)
            if chunk.get("error") is not None or choice.get("finish_reason") == "error":
                raise error_in_answer(chunk.get("error") or choice.get("error"))
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
            # delta.reasoning is the model thinking aloud: activity, not part of the answer.
            content = (choice.get("delta") or {}).get("content")
            if isinstance(content, str) and content:
                pieces.append(content)

    async def _drain(self) -> None:
        assert self._chunks is not None
        with contextlib.suppress(httpx.HTTPError, TimeoutError):
            async with asyncio.timeout(DRAIN_AFTER_DONE):
                async for _chunk in self._chunks:
                    pass


def _is_event_stream(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "")
    return content_type.partition(";")[0].strip().lower() == "text/event-stream"


async def _unusable_stream(response: httpx.Response) -> AIError:
    """The error for a streamed request that got an error status or no event stream."""
    try:
        body = await response.aread()
    except httpx.HTTPError:
        body = b""  # the status says enough
    if response.status_code != 200:
        return error_for_response(response, body)
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("error") is not None:
        return error_in_answer(data["error"])
    content_type = response.headers.get("content-type", "")
    return AIProviderError(f"expected an event stream, got {content_type!r}", retryable=False)
