"""The AI client: chat completions from any OpenAI-compatible API (OpenRouter by default,
Ollama, vLLM, LM Studio) over httpx, for every caller of the model.

    text = await generate_text(system_prompt, user_prompt, settings.MODEL_PLAN)

    async with generate_text_stream(system_prompt, user_prompt, settings.MODEL_PLAN) as stream:
        async for piece in stream:
            ...
    stream.completion  # text, model, finish reason, token usage and cost

Every failure is an `AIError` (plans/ai_errors.py) that says whether trying again can help
and what a learner may be told. Retryable faults are retried here (AI_MAX_RETRIES attempts
in all); a stream only until its first piece of content, since after that the caller has
already used what it received and must decide itself (the plan builder re-runs the document).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import ssl
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import tenacity
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from httpx_aiohttp import AiohttpTransport
from httpx_sse import ServerSentEvent, aconnect_sse

from plans.ai_errors import (
    AIAuthenticationError,
    AIBadRequestError,
    AIConnectionError,
    AICreditsError,
    AIError,
    AIForbiddenError,
    AINotFoundError,
    AIOutputTruncatedError,
    AIProviderError,
    AIRateLimitError,
    AIStreamError,
    AITimeoutError,
    AITruncatedError,
    error_for_broken_answer,
    error_for_failed_request,
    error_for_response,
    error_in_answer,
)

__all__ = [
    "AIAuthenticationError",
    "AIBadRequestError",
    "AIClient",
    "AIConnectionError",
    "AICreditsError",
    "AIError",
    "AIForbiddenError",
    "AINotFoundError",
    "AIOutputTruncatedError",
    "AIProviderError",
    "AIRateLimitError",
    "AIStreamError",
    "AITimeoutError",
    "AITruncatedError",
    "Completion",
    "TextStream",
    "close_clients",
    "generate_text",
    "generate_text_stream",
    "get_client",
]

logger = logging.getLogger(__name__)

# After `data: [DONE]`, how long to wait for the end of the HTTP body. Reading it lets the
# connection go back to the pool instead of being closed.
DRAIN_AFTER_DONE = 1.0


@dataclass(frozen=True)
class Completion:
    """A finished answer and what it cost."""

    text: str
    model: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost: float | None


@dataclass(frozen=True)
class _Config:
    """The settings of one call, read when it starts."""

    url: str
    api_key: str
    app_url: str
    app_title: str
    connect_timeout: float
    read_timeout: float
    max_attempts: int
    retry_max_wait: float

    @property
    def timeout(self) -> httpx.Timeout:
        # httpx's read timeout is per read: the longest silence, never a limit on a stream
        # that keeps producing. Waiting for a free pooled connection is waiting for an answer.
        return httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.connect_timeout,
            pool=self.read_timeout,
        )

    def headers(self, accept: str) -> dict[str, str]:
        headers = {"Accept": accept}
        if self.api_key:  # Ollama and vLLM need none
            headers["Authorization"] = f"Bearer {self.api_key}"
        if self.app_url:
            headers["HTTP-Referer"] = self.app_url
        if self.app_title:
            headers["X-OpenRouter-Title"] = self.app_title
            headers["X-Title"] = self.app_title  # the older name, still read by OpenRouter
        return headers


class AIClient:
    """Chat completions against one OpenAI-compatible API.

    Each argument left as None is read from Django settings when a call starts. `sleep` is
    awaited between attempts (tests pass a recorder).
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        max_retries: int | None = None,
        retry_max_wait: float | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_retries = max_retries
        self.retry_max_wait = retry_max_wait
        self._sleep = sleep

    async def complete(
        self,
        system_prompt: str,
        user_prompt: str,
        *,
        model: str,
        response_format: dict[str, Any] | None = None,
        extra_body: dict[str, Any] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        """The whole answer in one response (no streaming)."""
        config = self._config()
        body = _request_body(
            system_prompt,
            user_prompt,
            model=model,
            stream=False,
            response_format=response_format,
            extra_body=extra_body,
            temperature=temperature,
            max_tokens=max_tokens,
        )
        return await self._retrying(config)(_complete_once, config, body)

    def stream(
        self,
        system_prompt: str,
        user_prompt: str,
        *,
        model: str,
        response_format: dict[str, Any] | None = None,
        extra_body: dict[str, Any] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> TextStream:
        """The answer as it is written; see `TextStream`."""
        config = self._config()
        body = _request_body(
            system_prompt,
            user_prompt,
            model=model,
            stream=True,
            response_format=response_format,
            extra_body=extra_body,
            temperature=temperature,
            max_tokens=max_tokens,
        )
        return TextStream(self._retrying(config), config, body)

    def _config(self) -> _Config:
        def chosen(value: Any, setting: str) -> Any:
            return getattr(settings, setting) if value is None else value

        base_url = chosen(self.base_url, "OPENROUTER_BASE_URL")
        return _Config(
            url=base_url.rstrip("/") + "/chat/completions",
            api_key=chosen(self.api_key, "OPENROUTER_API_KEY"),
            app_url=settings.AI_APP_URL,
            app_title=settings.AI_APP_TITLE,
            connect_timeout=chosen(self.connect_timeout, "AI_CONNECT_TIMEOUT"),
            read_timeout=chosen(self.read_timeout, "AI_READ_TIMEOUT"),
            max_attempts=max(1, chosen(self.max_retries, "AI_MAX_RETRIES")),
            retry_max_wait=chosen(self.retry_max_wait, "AI_RETRY_MAX_WAIT"),
        )

    def _retrying(self, config: _Config) -> tenacity.AsyncRetrying:
        return tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(config.max_attempts),
            wait=_retry_wait(config.retry_max_wait),
            retry=tenacity.retry_if_exception(_is_retryable),
            sleep=self._sleep,
            before_sleep=_log_retry,
            reraise=True,
        )


class TextStream:
    """The content of a streamed answer, piece by piece: an async iterator of str.

    Nothing is sent until the first piece is awaited. Faults before the first piece of
    content are retried; later ones are raised to the consumer. `completion` is set once the
    answer ended well. Use `async with` (or `aclose()`) so that the upstream connection is
    closed at once when the consumer stops early or is cancelled between two pieces; a
    consumer cancelled while awaiting a piece closes it in any case.
    """

    def __init__(self, retrying: tenacity.AsyncRetrying, config: _Config, body: dict[str, Any]):
        self._retrying = retrying
        self._config = config
        self._body = body
        self.completion: Completion | None = None
        self._pieces = self._generate()

    def __aiter__(self) -> TextStream:
        return self

    async def __anext__(self) -> str:
        return await self._pieces.__anext__()

    async def aclose(self) -> None:
        await self._pieces.aclose()

    async def __aenter__(self) -> TextStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _generate(self) -> AsyncGenerator[str, None]:
        attempt, piece = await self._retrying(self._open_attempt)
        try:
            while piece is not None:
                yield piece
                piece = await attempt.next_piece()
            self.completion = attempt.completion()
        finally:
            await attempt.aclose()

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

    def __init__(self, config: _Config, body: dict[str, Any]):
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
                    _shared_http_client(),
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
        _check_finish(self.completion())
        return None

    def completion(self) -> Completion:
        return Completion(
            text="".join(self._parts),
            model=self._model,
            finish_reason=self._finish_reason,
            **_usage_fields(self._usage),
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
            chunk = json.loads(event.data)
        except ValueError as exc:
            raise AIProviderError(f"unreadable event in the stream: {event.data[:200]!r}") from exc
        if not isinstance(chunk, dict):
            raise AIProviderError(f"unexpected event in the stream: {event.data[:200]!r}")
        self._model = chunk.get("model") or self._model
        # Usage comes on the last chunk: one with empty choices, or the one that finishes.
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        choice = _first_choice(chunk)
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


async def _complete_once(config: _Config, body: dict[str, Any]) -> Completion:
    try:
        response = await _shared_http_client().post(
            config.url,
            json=body,
            headers=config.headers("application/json"),
            timeout=config.timeout,
        )
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise error_for_failed_request(exc, config.url, config.timeout) from exc
    if response.status_code != 200:
        raise error_for_response(response, response.content)
    try:
        data = response.json()
    except ValueError as exc:
        raise AIProviderError(f"the answer is not JSON: {response.text[:200]!r}") from exc
    if not isinstance(data, dict):
        raise AIProviderError(f"unexpected answer: {response.text[:200]!r}")
    choice = _first_choice(data)
    if data.get("error") is not None or choice.get("finish_reason") == "error":
        raise error_in_answer(choice.get("error") or data.get("error"))
    if not choice:
        raise AIProviderError(f"an answer without choices: {response.text[:200]!r}")
    completion = Completion(
        text=(choice.get("message") or {}).get("content") or "",
        model=data.get("model"),
        finish_reason=choice.get("finish_reason"),
        **_usage_fields(data.get("usage")),
    )
    _check_finish(completion)
    return completion


def _request_body(
    system_prompt: str,
    user_prompt: str,
    *,
    model: str,
    stream: bool,
    response_format: dict[str, Any] | None,
    extra_body: dict[str, Any] | None,
    temperature: float | None,
    max_tokens: int | None,
) -> dict[str, Any]:
    messages = [{"role": "user", "content": user_prompt}]
    if system_prompt:
        messages.insert(0, {"role": "system", "content": system_prompt})
    body: dict[str, Any] = {"model": model, "messages": messages}
    if response_format is not None:
        body["response_format"] = response_format
    if temperature is not None:
        body["temperature"] = temperature
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    body.update(extra_body or {})
    if stream:
        # OpenAI-style servers report usage on a stream only when asked; OpenRouter always does.
        body.update(stream=True, stream_options={"include_usage": True})
    return body


def _first_choice(data: dict[str, Any]) -> dict[str, Any]:
    choices = data.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return {}


def _usage_fields(usage: Any) -> dict[str, Any]:
    usage = usage if isinstance(usage, dict) else {}

    def number(name: str, kind: type) -> Any:
        value = usage.get(name)
        return kind(value) if isinstance(value, int | float) else None

    return {
        "prompt_tokens": number("prompt_tokens", int),
        "completion_tokens": number("completion_tokens", int),
        "cost": number("cost", float),
    }


def _check_finish(completion: Completion) -> None:
    """Raises for the finish reasons that mean the answer is not whole."""
    if completion.finish_reason == "length":
        raise AIOutputTruncatedError(
            "the model stopped at its output limit (finish_reason length)", completion=completion
        )
    if completion.finish_reason == "content_filter":
        raise AIForbiddenError("a content filter stopped the answer (finish_reason content_filter)")


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


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, AIError) and exc.retryable


def _retry_wait(cap: float) -> Callable[[tenacity.RetryCallState], float]:
    """The provider's Retry-After when it gave one, else exponential backoff with jitter;
    both capped at `cap` seconds."""
    backoff = tenacity.wait_exponential_jitter(multiplier=0.5, max=cap, jitter=0.5)

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, AIError) and error.retry_after is not None:
            return min(error.retry_after, cap)
        return backoff(state)

    return wait


def _log_retry(state: tenacity.RetryCallState) -> None:
    logger.warning(
        "AI request failed (attempt %d): %s; retrying in %.1f s",
        state.attempt_number,
        state.outcome.exception() if state.outcome else "?",
        state.upcoming_sleep,
    )


# The shared HTTP clients, one per event loop: an httpx client (its connection pool) belongs
# to the loop that first used it, and tests run many loops. A server has just one.
_http_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def _shared_http_client() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    client = _http_clients.get(loop)
    if client is None or client.is_closed:
        for ended in [other for other in _http_clients if other.is_closed()]:
            del _http_clients[ended]
        limits = httpx.Limits(
            max_connections=settings.AI_MAX_CONNECTIONS,
            max_keepalive_connections=settings.AI_MAX_CONNECTIONS,
        )
        client = _http_clients[loop] = httpx.AsyncClient(transport=_transport(limits))
    return client


def _transport(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """The HTTP transport under the shared client: the one place where it is chosen."""
    if settings.AI_HTTP_TRANSPORT == "httpx":
        return httpx.AsyncHTTPTransport(limits=limits, verify=_tls_context())
    if settings.AI_HTTP_TRANSPORT == "aiohttp":
        # httpx's API over aiohttp's connection pool, cheaper at hundreds of streams (SPEC §13).
        return AiohttpTransport(limits=limits, verify=_tls_context())
    raise ImproperlyConfigured(
        f"AI_HTTP_TRANSPORT must be httpx or aiohttp, not {settings.AI_HTTP_TRANSPORT!r}."
    )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # One per process: loading the CA bundle takes tens of milliseconds.
    return httpx.create_ssl_context()


async def close_clients() -> None:
    """Close the shared HTTP clients (called when the server shuts down).

    The running loop's client is closed; those of loops that have ended are only forgotten,
    as their connections can no longer be closed from here.
    """
    current = asyncio.get_running_loop()
    for loop, client in list(_http_clients.items()):
        if loop is current or loop.is_closed():
            del _http_clients[loop]
        if loop is current:
            await client.aclose()


@functools.cache
def get_client() -> AIClient:
    """The process-wide client; it reads its settings at each call."""
    return AIClient()


async def generate_text(system_prompt: str, user_prompt: str, model: str, **options: Any) -> str:
    """The model's whole answer. Options: response_format, extra_body, temperature, max_tokens."""
    completion = await get_client().complete(system_prompt, user_prompt, model=model, **options)
    return completion.text


def generate_text_stream(
    system_prompt: str, user_prompt: str, model: str, **options: Any
) -> TextStream:
    """The model's answer as it is written (options as for `generate_text`)."""
    return get_client().stream(system_prompt, user_prompt, model=model, **options)
