"""Reading Server-Sent Events in tests, the way a browser's EventSource would."""

import json
from dataclasses import dataclass
from urllib.parse import urlencode


@dataclass
class Event:
    event: str
    data: str
    id: str | None = None

    @property
    def json(self):
        return json.loads(self.data)


def parse_stream(text: str) -> tuple[list[Event], list[str]]:
    """(events, comments) of an event-stream body, per the WHATWG parsing rules."""
    events, comments, fields, data = [], [], {}, []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line == "":
            if data:
                events.append(
                    Event(fields.get("event", "message"), "\n".join(data), fields.get("id"))
                )
            fields, data = {}, []
            continue
        if line.startswith(":"):
            comments.append(line[1:].strip())
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        else:
            fields[name] = value
    return events, comments


class EventReader:
    """Reads a streaming response's events one at a time (for mid-stream actions)."""

    def __init__(self, response):
        self.chunks = aiter(response.streaming_content)
        self.buffer = ""
        self.raw = ""

    async def next_event(self) -> Event:
        """The next event (comments are skipped); StopAsyncIteration at the end."""
        while True:
            while "\n\n" in self.buffer:
                block, _, self.buffer = self.buffer.partition("\n\n")
                events, _ = parse_stream(block + "\n\n")
                if events:
                    return events[0]
            chunk = await anext(self.chunks)
            text = chunk.decode() if isinstance(chunk, bytes) else chunk
            self.buffer += text
            self.raw += text

    async def until(self, name: str) -> list[Event]:
        seen = []
        while True:
            event = await self.next_event()
            seen.append(event)
            if event.event == name:
                return seen

    async def rest(self) -> str:
        async for chunk in self.chunks:
            text = chunk.decode() if isinstance(chunk, bytes) else chunk
            self.buffer += text
            self.raw += text
        return self.buffer


async def read_all(response) -> tuple[list[Event], list[str], str]:
    text = ""
    async for chunk in response.streaming_content:
        text += chunk.decode() if isinstance(chunk, bytes) else chunk
    events, comments = parse_stream(text)
    return events, comments, text


def http_scope(path: str, *, method: str = "GET", query: dict | None = None, headers=()) -> dict:
    """An ASGI HTTP scope for driving the real application with ApplicationCommunicator."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": urlencode(query or {}).encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
