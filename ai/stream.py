"""A streamed answer: `TextStream` hands out its content piece by piece while each attempt
(`_StreamAttempt`) reads the provider's server-sent events and notes what the `Completion`
needs.

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
from httpx_sse import ServerSentEvent, aconnect_sse

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

    def __aiter__(self) -> TextStream:
        return self

    async def __anext__(self) -> str:
        # Written out rather than delegated to an async generator: one level less per piece.
        if self._ended:
            raise StopAsyncIteration
        try:
            if self._attempt is None:
                self._attempt, piece = await self._retrying(counting_attempts(self._open_attempt))
            else:
                piece = await self._attempt.next_piece()
            if piece is None:
                self.completion = self._attempt.completion()
        except AIOutputTruncatedError as cut:
            self.completion = cut.completion
            await self.aclose()
            raise
        except BaseException:
            # Cancellation included: the connection must not outlive the consumer's interest.
            await self.aclose()
            raise
        if piece is None:
            await self.aclose()
            raise StopAsyncIteration
        return piece

    async def aclose(self) -> None:
        self._ended = True
        if self._attempt is not None:
            await self._attempt.aclose()

    async def __aenter__(self) -> TextStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _open_attempt(self) -> tuple[_StreamAttempt, str | None]:
        attempt = _StreamAttempt(self._config, self._body)
        try:
            await attempt.start()
            return attempt, await attempt.next_piece()
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
        self._events: AsyncIterator[ServerSentEvent] | None = None
        self._parts: list[str] = []
        self._model: str | None = None
        self._finish_reason: str | None = None
        self._usage: dict[str, Any] = {}
        self._done = False

    async def start(self) -> None:
        try:
            source = await self._exit_stack.enter_async_context(
                aconnect_sse(
                    shared_http_client(),
                    "POST",
                    self._config.url,
                    json=self._body,
                    headers=self._config.headers("text/event-stream"),
                    timeout=self._config.timeout,
                )
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise error_for_failed_request(exc, self._config.url, self._config.timeout) from exc
        response = source.response
        # Check before reading events: error bodies are JSON, and httpx-sse would reject them
        # with SSEError, a TransportError that must not pass for a network fault.
        if response.status_code != 200 or not _is_event_stream(response):
            raise await _unusable_stream(response)
        self._events = await self._exit_stack.enter_async_context(
            contextlib.aclosing(source.aiter_sse())
        )

    async def next_piece(self) -> str | None:
        """The next piece of content, or None once the answer has ended well."""
        assert self._events is not None, "start() first"
        try:
            async for event in self._events:
                piece = self._read(event)
                if piece:
                    return piece
                if self._done:
                    break
        except httpx.HTTPError as exc:
            raise error_for_broken_answer(exc, self._config.timeout) from exc
        if self._done:
            await self._drain()
        elif self._finish_reason is None:
            raise AITruncatedError("the stream ended without a finish reason and without [DONE]")
        check_finish(self.completion())
        return None

    def completion(self) -> Completion:
        return Completion(
            text="".join(self._parts),
            model=self._model,
            finish_reason=self._finish_reason,
            **usage_fields(self._usage),
        )

    async def aclose(self) -> None:
        await self._exit_stack.aclose()

    def _read(self, event: ServerSentEvent) -> str | None:
        """Notes what one event says; returns its content, if any."""
        if event.data == "[DONE]":
            self._done = True
            return None
        if not event.data.strip():
            return None
        try:
            # jiter parses an event's JSON in a third of json.loads's time (issue 16).
            chunk = jiter.from_json(event.data.encode())
        except ValueError as exc:
            raise AIProviderError(f"unreadable event in the stream: {event.data[:200]!r}") from exc
        if not isinstance(chunk, dict):
            raise AIProviderError(f"unexpected event in the stream: {event.data[:200]!r}")
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
            self._parts.append(content)
            return content
        return None

    async def _drain(self) -> None:
        assert self._events is not None
        with contextlib.suppress(httpx.HTTPError, TimeoutError):
            async with asyncio.timeout(DRAIN_AFTER_DONE):
                async for _event in self._events:
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
