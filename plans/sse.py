"""Server-Sent Events encoding: one small pure module (SPEC §7).

    event: progress
    id: 4
    data: {"doc": 1, "total": 3, "plan": [...]}

JSON data is always one line; text (HTML fragments) is split into one `data:` line per
line, which the browser joins back with newlines. Comments start with a colon.
"""

import json
import re

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _single_line(value: str, field: str) -> str:
    if _LINE_BREAK.search(value):
        raise ValueError(f"an SSE {field} cannot contain a line break: {value!r}")
    return value


def encode_event(
    event: str | None = None,
    data: object = None,
    *,
    id: str | int | None = None,
    retry: int | None = None,
) -> str:
    """One event block, ending with the blank line that dispatches it.

    `data` that is a str is sent as text (one `data:` line per line); anything else is sent
    as one line of JSON.
    """
    lines = []
    if retry is not None:
        lines.append(f"retry: {int(retry)}")
    if event is not None:
        lines.append(f"event: {_single_line(event, 'event name')}")
    if id is not None:
        lines.append(f"id: {_single_line(str(id), 'id')}")
    if data is not None:
        if isinstance(data, str):
            text = data
        else:
            text = json.dumps(data, ensure_ascii=False, separators=(", ", ": "))
        lines.extend(f"data: {line}" for line in _LINE_BREAK.split(text))
    return "\n".join(lines) + "\n\n"


def encode_retry(milliseconds: int) -> str:
    """Tell the client how long to wait before reconnecting."""
    return f"retry: {int(milliseconds)}\n\n"


def encode_comment(text: str = "") -> str:
    """A comment line: ignored by clients, keeps proxies and the connection alive."""
    return "".join(f": {line}\n" if line else ":\n" for line in _LINE_BREAK.split(text)) + "\n"
