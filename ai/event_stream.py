"""Reading a server-sent event stream (the provider's streamed answer), one network chunk at
a time: `EventStreamDecoder.feed(chunk)` returns the data of every event the chunk completes.

It follows the WHATWG event-stream format (HTML §9.2.5–9.2.6): lines end with CR, LF or
CRLF (a CRLF may be split between two chunks), a line starting with ":" is a comment, a
field's value loses one leading space, `data` lines of one event are joined with LF, a blank
line dispatches the event, an event without data is not dispatched, a leading BOM is
ignored, and an unfinished event at the end of the stream is dropped. `event`, `id` and
`retry` are read and ignored: the chat-completions stream doesn't use them.

It works on bytes (the stream is UTF-8 by definition, and CR/LF never occur inside a
multi-byte character), so each event's data goes to the JSON parser without a text copy,
and every complete line of a chunk is handled in one call — per chunk, not per line or per
event (httpx-sse's `aiter_sse` adds two generator levels and an object per event: see
"Performance (issue 16)" in the README).

Part of the AI client (ai/client.py); ai/stream.py reads each attempt's answer through it.
"""

from __future__ import annotations

_BOM = b"\xef\xbb\xbf"


class EventStreamDecoder:
    def __init__(self) -> None:
        self._tail = b""  # the start of a line whose end hasn't arrived
        self._data: list[bytes] = []  # the `data` lines of the event being read
        self._after_cr = False  # the last chunk ended with CR: an LF now ends no new line
        self._first_line = True

    def feed(self, chunk: bytes) -> list[bytes]:
        """The data of each event completed by `chunk`, in order."""
        if self._after_cr:
            self._after_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if not chunk:
            return []
        text = self._tail + chunk if self._tail else chunk
        if b"\r" in text:
            self._after_cr = text[-1:] == b"\r"
            text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = text.split(b"\n")
        self._tail = lines.pop()  # after the last line end: unfinished (often b"")
        if not lines:
            return []
        if self._first_line:
            self._first_line = False
            if lines[0].startswith(_BOM):
                lines[0] = lines[0][len(_BOM) :]
        events = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    events.append(data[0] if len(data) == 1 else b"\n".join(data))
                    data = self._data = []
            elif line.startswith(b"data:"):
                data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif line == b"data":
                data.append(b"")
            # Comments (":…") and the other fields (event, id, retry, unknown) say nothing here.
        return events
