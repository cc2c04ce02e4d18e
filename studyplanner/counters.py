"""What the benchmark counts inside a running worker (issue 16): SQL statements and
sync_to_async thread hops.

Off unless the environment names a file in STUDYPLANNER_COUNTERS_FILE — only bench/run.py
sets it. Then every statement (a connection execute wrapper) and every sync_to_async call is
counted, and SIGUSR1 makes the worker write its totals there as JSON, so the benchmark reads
them before and after a phase. Nothing is exposed over HTTP.
"""

import json
import os
import signal
from pathlib import Path

from asgiref.sync import SyncToAsync
from django.db.backends.signals import connection_created

COUNTERS_FILE = "STUDYPLANNER_COUNTERS_FILE"

_totals = {"statements": 0, "hops": 0}


def _count_statement(execute, sql, params, many, context):
    _totals["statements"] += 1
    return execute(sql, params, many, context)


def _watch(sender, connection, **kwargs) -> None:
    if _count_statement not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_statement)


def install_from_environment() -> bool:
    """Start counting if the benchmark asked for it; whether it did."""
    path = os.environ.get(COUNTERS_FILE)
    if not path:
        return False
    connection_created.connect(_watch, weak=False)
    hop = SyncToAsync.__call__

    async def counted_hop(self, *args, **kwargs):
        _totals["hops"] += 1
        return await hop(self, *args, **kwargs)

    SyncToAsync.__call__ = counted_hop

    def write(signum, frame) -> None:
        Path(path).write_text(json.dumps(_totals))

    signal.signal(signal.SIGUSR1, write)
    return True
