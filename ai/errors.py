"""The failures of an AI call as typed exceptions (re-exported by the `ai` package), and
how HTTP answers and faults map onto them.

Every error the client raises is an `AIError` carrying two answers for its caller: may this
be tried again (`retryable`), and what can a learner be told (`user_message`, one sentence
with no internals). The exception's own text is for logs.
"""

from __future__ import annotations

import email.utils
import json
import time
from http import HTTPStatus
from typing import Any

import aiohttp
import httpx


class AIError(Exception):
    """Base class of every failure the AI client raises."""

    retryable: bool = False
    user_message: str = "The AI service could not answer; please try again later."

    def __init__(
        self,
        message: str = "",
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message or self.user_message)
        self.status_code = status_code
        self.retry_after = retry_after
        if retryable is not None:
            self.retryable = retryable


class AIAuthenticationError(AIError):
    """401: the key is missing, invalid or disabled."""

    user_message = "The AI service rejected this site's credentials; please tell an administrator."


class AICreditsError(AIError):
    """402: out of credits. Retryable only when the provider says when to retry."""

    user_message = "The AI service account has run out of credit; please tell an administrator."


class AIForbiddenError(AIError):
    """403 (moderation or guardrail), or an answer stopped by a content filter."""

    user_message = "The AI service refused to process this content."


class AINotFoundError(AIError):
    """404: unknown model, or no provider endpoint meets the request's requirements."""

    user_message = "The AI model configured for this site is not available."


class AIBadRequestError(AIError):
    """400, 413, 422 and other 4xx: the request itself is wrong (often: too long)."""

    user_message = "The AI service could not process this request; the text may be too long."


class AIRateLimitError(AIError):
    """429: too many requests; `retry_after` holds the provider's delay when it gave one."""

    retryable = True
    user_message = "The AI service is busy right now; please try again in a minute."


class AIProviderError(AIError):
    """5xx, 408, or an answer the client cannot read."""

    retryable = True
    user_message = "The AI service had a temporary problem; please try again."


class AITimeoutError(AIError):
    """Connecting took longer than AI_CONNECT_TIMEOUT, or the answer fell silent for longer
    than AI_READ_TIMEOUT."""

    retryable = True
    user_message = "The AI service took too long to answer; please try again."


class AIConnectionError(AIError):
    """The provider could not be reached, or closed the connection before answering."""

    retryable = True
    user_message = "Could not reach the AI service; please try again in a moment."


class AIStreamError(AIError):
    """The provider reported an error inside a 200 answer: an error chunk in the middle of a
    stream, or a completion whose `finish_reason` is "error". `code` is the provider's code,
    a number or a string."""

    retryable = True
    user_message = "The AI service stopped with an error while answering; please try again."

    def __init__(self, message: str = "", *, code: int | str | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.code = code


class AITruncatedError(AIError):
    """The stream ended (or the connection broke) without a finish reason and without
    `[DONE]`: the answer is incomplete, whatever it looks like."""

    retryable = True
    user_message = "The AI service's answer was cut off; please try again."


class AIOutputTruncatedError(AIError):
    """`finish_reason: "length"`: the model hit its output limit. Asking again with the same
    input would stop at the same place, hence not retryable as it is. `completion` holds the
    partial answer and its usage."""

    user_message = "The AI's answer was too long and was cut off."

    def __init__(self, message: str = "", *, completion: Any = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.completion = completion


_ERRORS_BY_STATUS: dict[int, type[AIError]] = {
    400: AIBadRequestError,
    401: AIAuthenticationError,
    402: AICreditsError,
    403: AIForbiddenError,
    404: AINotFoundError,
    408: AIProviderError,
    413: AIBadRequestError,
    422: AIBadRequestError,
    429: AIRateLimitError,
}

# String codes that say the request itself is wrong, so sending it again cannot help.
_PERMANENT_ERROR_CODES = {"invalid_request_error", "context_length_exceeded", "content_filter"}


def error_for_response(response: httpx.Response, body: bytes) -> AIError:
    """The exception for an answer whose status is not 200."""
    status = response.status_code
    message = _error_message(body, status)
    retry_after = _retry_after(response.headers.get("retry-after"))
    if status in _ERRORS_BY_STATUS:
        error_class = _ERRORS_BY_STATUS[status]
    elif status >= 500:
        error_class = AIProviderError
    elif status >= 400:
        error_class = AIBadRequestError
    else:
        # A redirect or other surprise: the base URL is probably wrong; retrying won't fix it.
        return AIProviderError(
            f"HTTP {status} from the AI provider: {message}", status_code=status, retryable=False
        )
    # OpenRouter's 402 with Retry-After is a temporary spending limit, not an empty account.
    retryable = True if status == 402 and retry_after is not None else None
    return error_class(
        f"HTTP {status}: {message}",
        status_code=status,
        retry_after=retry_after,
        retryable=retryable,
    )


def error_for_failed_request(exc: Exception, url: str, timeout: httpx.Timeout) -> AIError:
    """The exception for a request that got no answer at all."""
    if _timed_out(exc) and isinstance(exc, httpx.ConnectTimeout):
        return AITimeoutError(f"could not connect to {url} within {timeout.connect} s")
    if _timed_out(exc):
        return AITimeoutError(f"no answer from {url} within {timeout.read} s")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return AIConnectionError(f"unusable AI URL {url!r}: {exc}", retryable=False)
    if isinstance(exc, httpx.TransportError):
        return AIConnectionError(f"could not reach {url}: {exc!r}")
    return AIProviderError(f"unreadable answer from {url}: {exc!r}")


def error_for_broken_answer(exc: httpx.HTTPError, timeout: httpx.Timeout) -> AIError:
    """The exception for a streamed answer that failed while it was being read."""
    if _timed_out(exc):
        return AITimeoutError(f"the answer fell silent for more than {timeout.read} s")
    if isinstance(exc, httpx.TransportError):
        return AITruncatedError(f"the connection broke in the middle of the answer: {exc!r}")
    return AIProviderError(f"unreadable answer: {exc!r}")


def error_in_answer(error: Any) -> AIStreamError:
    """The exception for an error reported inside a 200 answer (`{"code": ..., "message": ...}`)."""
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    message = str(error.get("message") or "the provider reported an error")
    status = code if isinstance(code, int) else None
    if isinstance(code, str) and code.isdigit():
        status = int(code)
    if status is not None:
        retryable = status in (408, 429) or status >= 500
    else:
        retryable = code not in _PERMANENT_ERROR_CODES
    return AIStreamError(
        f"error inside the answer ({code}): {message}", code=code, retryable=retryable
    )


def _timed_out(exc: Exception) -> bool:
    # httpx-aiohttp reports every aiohttp connection error as ConnectTimeout, a refused
    # connection included; for those, the aiohttp cause tells whether time ran out.
    if isinstance(exc.__cause__, aiohttp.ClientError):
        return isinstance(exc.__cause__, TimeoutError)
    return isinstance(exc, httpx.TimeoutException)


def _error_message(body: bytes, status: int) -> str:
    """The provider's message from an error body (`{"error": {"message": ...}}`), else a
    short excerpt of whatever came back (a proxy's HTML page, say)."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return str(data["error"].get("message") or "")
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return data["message"]
    excerpt = body[:200].decode("utf-8", "replace").strip()
    if excerpt:
        return excerpt
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "no message"


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())
