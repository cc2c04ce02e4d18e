"""A whole answer: `Completion`, the request that gets one in a single response, and how
the provider's JSON says what was answered (the first choice, token usage, finish reason).

Part of the AI client (ai/client.py), which retries `complete_once` and re-exports
`Completion`; a streamed answer (ai/stream.py) is read into the same `Completion`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from ai.errors import (
    AIForbiddenError,
    AIOutputTruncatedError,
    AIProviderError,
    error_for_failed_request,
    error_for_response,
    error_in_answer,
)
from ai.transport import CallConfig, shared_http_client


@dataclass(frozen=True)
class Completion:
    """A finished answer and what it cost."""

    text: str
    model: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost: float | None


async def complete_once(config: CallConfig, body: dict[str, Any]) -> Completion:
    try:
        response = await shared_http_client().post(
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
    choice = first_choice(data)
    if data.get("error") is not None or choice.get("finish_reason") == "error":
        raise error_in_answer(choice.get("error") or data.get("error"))
    if not choice:
        raise AIProviderError(f"an answer without choices: {response.text[:200]!r}")
    completion = Completion(
        text=(choice.get("message") or {}).get("content") or "",
        model=data.get("model"),
        finish_reason=choice.get("finish_reason"),
        **usage_fields(data.get("usage")),
    )
    check_finish(completion)
    return completion


def first_choice(data: dict[str, Any]) -> dict[str, Any]:
    choices = data.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return {}


def usage_fields(usage: Any) -> dict[str, Any]:
    usage = usage if isinstance(usage, dict) else {}

    def number(name: str, kind: type) -> Any:
        value = usage.get(name)
        return kind(value) if isinstance(value, int | float) else None

    return {
        "prompt_tokens": number("prompt_tokens", int),
        "completion_tokens": number("completion_tokens", int),
        "cost": number("cost", float),
    }


def check_finish(completion: Completion) -> None:
    """Raises for the finish reasons that mean the answer is not whole."""
    if completion.finish_reason == "length":
        raise AIOutputTruncatedError(
            "the model stopped at its output limit (finish_reason length)", completion=completion
        )
    if completion.finish_reason == "content_filter":
        raise AIForbiddenError("a content filter stopped the answer (finish_reason content_filter)")
