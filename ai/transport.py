"""The HTTP side of a call to the provider: its settings (URL, headers, timeouts, attempts)
and the shared HTTP clients every request goes through, one connection pool per event loop.

Part of the AI client (ai/client.py), which re-exports `close_clients`.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from httpx_aiohttp import AiohttpTransport

from ai.errors import AIError
from studyplanner.metrics import record_upstream_call

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class CallConfig:
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


def counting_attempts(attempt: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """`attempt` (one request to the provider, retried by the client's policy), counted for
    /metrics by the HTTP status it ended with and whether it was a retry."""
    made = 0

    async def counted(*args: P.args, **kwargs: P.kwargs) -> T:
        nonlocal made
        made += 1
        try:
            result = await attempt(*args, **kwargs)
        except AIError as error:
            record_upstream_call(error.status_code, retry=made > 1)
            raise
        record_upstream_call(200, retry=made > 1)
        return result

    return counted


# The shared HTTP clients, one per event loop: an httpx client (its connection pool) belongs
# to the loop that first used it, and tests run many loops. A server has just one.
_http_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def shared_http_client() -> httpx.AsyncClient:
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
