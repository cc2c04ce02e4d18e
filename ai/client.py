"""The AI client: chat completions from any OpenAI-compatible API (OpenRouter by default,
Ollama, vLLM, LM Studio) over httpx, for every caller of the model.

    text = await generate_text(system_prompt, user_prompt, settings.MODEL_PLAN)

    async with generate_text_stream(system_prompt, user_prompt, settings.MODEL_PLAN) as stream:
        async for piece in stream:
            ...
    stream.completion  # text, model, finish reason, token usage and cost

Every failure is an `AIError` (ai/errors.py) that says whether trying again can help
and what a learner may be told. Retryable faults are retried here (AI_MAX_RETRIES attempts
in all); a stream only until its first piece of content, since after that the caller has
already used what it received and must decide itself (the plan builder re-runs the document).

This module is the entry point: the client, its settings and its retry policy. One attempt
is made by ai/completion.py (a whole answer) or ai/stream.py (a streamed one),
over the shared HTTP clients of ai/transport.py.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import tenacity
from django.conf import settings

from ai.completion import Completion, complete_once
from ai.errors import AIError
from ai.stream import TextStream
from ai.transport import CallConfig, counting_attempts

logger = logging.getLogger(__name__)


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
        return await self._retrying(config)(counting_attempts(complete_once), config, body)

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

    def _config(self) -> CallConfig:
        def chosen(value: Any, setting: str) -> Any:
            return getattr(settings, setting) if value is None else value

        base_url = chosen(self.base_url, "OPENROUTER_BASE_URL")
        return CallConfig(
            url=base_url.rstrip("/") + "/chat/completions",
            api_key=chosen(self.api_key, "OPENROUTER_API_KEY"),
            app_url=settings.AI_APP_URL,
            app_title=settings.AI_APP_TITLE,
            connect_timeout=chosen(self.connect_timeout, "AI_CONNECT_TIMEOUT"),
            read_timeout=chosen(self.read_timeout, "AI_READ_TIMEOUT"),
            max_attempts=max(1, chosen(self.max_retries, "AI_MAX_RETRIES")),
            retry_max_wait=chosen(self.retry_max_wait, "AI_RETRY_MAX_WAIT"),
        )

    def _retrying(self, config: CallConfig) -> tenacity.AsyncRetrying:
        return tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(config.max_attempts),
            wait=_retry_wait(config.retry_max_wait),
            retry=tenacity.retry_if_exception(_is_retryable),
            sleep=self._sleep,
            before_sleep=_log_retry,
            reraise=True,
        )


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
