"""Short database blocks for async code.

Under ASGI all of a request's thread-sensitive ORM work runs on one thread, whose database
connection would otherwise stay open (or checked out of the pool) until the response ends.
A stream that waits minutes on the model must not hold a connection meanwhile (SPEC §12), so
async code does its database work through `run_db`, which hands the connection back after
each block.
"""

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import connections

P = ParamSpec("P")
T = TypeVar("T")


def _release_connections() -> None:
    for connection in connections.all(initialized_only=True):
        # Inside a transaction (a test's TestCase wrapper, an atomic block) the connection
        # belongs to that transaction and must stay.
        if not connection.in_atomic_block:
            connection.close()


async def run_db(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    def block() -> T:
        try:
            return fn(*args, **kwargs)
        finally:
            _release_connections()

    return await sync_to_async(block)()
