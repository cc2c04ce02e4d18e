"""What a generation's events cost on the wire and in CPU (SPEC §13, issue 16 item 5): bytes
delivered to the htmx page (`?format=html`) and to a JSON client for a 2-document
generation of a large plan, and the encoding CPU per event. Run it by hand, not in CI:

    .venv/bin/python bench/html_stream.py                          # this checkout
    git archive main | (mkdir -p /tmp/before && tar -x -C /tmp/before)
    .venv/bin/python bench/html_stream.py --code /tmp/before --code .   # before vs after

1. Record: the real OpenRouterBuilder folds two documents into a large plan (document 1:
   `--topics` topics of `--subtopics` subtopics; document 2: the model writes the plan again
   with two more subtopics per topic and a new topic after every tenth), its answers arriving
   in `--piece-size`-character pieces `--piece-gap` seconds apart (a real model: ~4
   characters every 10–20 ms). `--source replay` (default) hands the pieces over from memory
   in simulated time (the builder's clock advances one gap per piece: fast and exact);
   `--source http` streams them from the fake provider (tests/fakes/provider.py) in real
   time, paced as the stream core paces a page (studyplanner.sse.paced). The events are made
   as plans.generation.build_plan makes them (started, progress per preview,
   document_processed, completed): what a watcher that keeps up receives.
2. Measure: each `--code` checkout, in a process of its own, sends the recorded events
   through its plans.stream.GenerationStream to `--watchers` watchers at once (all in step,
   like tabs or devices watching one run), in both flavours; bytes per watcher and
   time.process_time() per event (all watchers' encoding) are reported, median (range) over
   `--runs` rounds, the checkouts and flavours interleaved in every round.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
IDEA = "Key idea {}.{}: what to understand and practise"
TITLE = "Topic {}: principles and methods of area {}"
NAMES = ("part1.md", "part2.md")


def answers(topics: int, subtopics: int) -> dict[str, str]:
    """The model's answer per document, indented JSON as models write it."""
    first = [
        {
            "order_index": n,
            "title": TITLE.format(n, n),
            "subtopics": [IDEA.format(n, m) for m in range(1, subtopics + 1)],
        }
        for n in range(1, topics + 1)
    ]
    second = []
    for topic in first:
        n = topic["order_index"]
        more = [IDEA.format(n, m) for m in range(subtopics + 1, subtopics + 3)]
        second.append({**topic, "subtopics": topic["subtopics"] + more})
        if n % 10 == 5:  # a new topic in the middle of the plan
            new = f"New {n}"
            second.append(
                {
                    "title": TITLE.format(new, new),
                    "subtopics": [IDEA.format(new, m) for m in range(1, 7)],
                }
            )
    second = [{**t, "order_index": i} for i, t in enumerate(second, start=1)]
    return {
        NAMES[0]: json.dumps({"topics": first}, indent=2),
        NAMES[1]: json.dumps({"topics": second}, indent=2),
    }


def _answer_for(prompt: str, texts: dict[str, str]) -> str:
    return texts[NAMES[1]] if f'"{NAMES[1]}"' in prompt else texts[NAMES[0]]


# --- recording (this checkout) --------------------------------------------------------------


class _Clock:
    def __init__(self):
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


class _MemoryStream:
    completion = None

    def __init__(self, answer: str, size: int, gap: float, clock: _Clock):
        self._pieces = [answer[at : at + size] for at in range(0, len(answer), size)]
        self._gap, self._next, self._clock = gap, 0, clock

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self._next == len(self._pieces):
            raise StopAsyncIteration
        if self._next:
            self._clock.now += self._gap
            await asyncio.sleep(0)
        self._next += 1
        return self._pieces[self._next - 1]

    async def aclose(self):
        pass


class _MemoryClient:
    def __init__(self, texts, size, gap, clock):
        self.texts, self.size, self.gap, self.clock = texts, size, gap, clock

    def stream(self, system_prompt, user_prompt, **options):
        answer = _answer_for(user_prompt, self.texts)
        return _MemoryStream(answer, self.size, self.gap, self.clock)


class _Coalescing:
    def __init__(self, event):
        self.event, self.coalesce = event, event.coalesce


async def record(args, texts: dict[str, str], base_url: str | None) -> list[dict]:
    """The events of the generation, as [{"seq", "name", "data"}]."""
    from ai import AIClient, close_clients
    from plans.builders import openrouter
    from plans.builders.base import SourceDocument
    from plans.builders.openrouter import OpenRouterBuilder
    from plans.generation import Completed, DocumentProcessed, Progress, Started, _percent
    from studyplanner.sse import paced

    clock = None
    if args.source == "replay":
        clock = _Clock()
        client = _MemoryClient(texts, args.piece_size, args.piece_gap, clock)
    else:
        client = AIClient(base_url=base_url, api_key="sk-bench", read_timeout=60, max_retries=1)
    builder = OpenRouterBuilder(client=client, model="bench/model")

    async def events():
        total, plan = len(NAMES), []
        yield Started("bench-run", total, 0, f"Starting: {total} documents to read.", 0)
        for number, name in enumerate(NAMES, start=1):
            reading = f"Reading document {number} of {total}: {name}"
            yield Progress(number, total, plan, _percent(number - 1, total), reading, name)
            dropped = ()
            async for step in builder.fold(
                plan, SourceDocument(name, f"Notes of {name}."), language="en"
            ):
                if step.final:
                    plan, dropped = step.plan, tuple(step.dropped)
                    continue
                share = (step.section - 1 + step.done) / step.sections
                percent = _percent(number - 1 + min(share, 0.99), total)
                yield Progress(
                    number, total, step.plan, percent, reading, name, step.section, step.sections
                )
            message = f"Finished document {number} of {total}: {name}"
            yield DocumentProcessed(
                number, total, plan, _percent(number, total), message, name, dropped
            )
        yield Completed(plan)

    recorded = []
    if clock is not None:
        with mock.patch.object(openrouter, "time", clock, create=True):
            async for event in events():
                recorded.append(event)
    else:
        async for item in paced((_Coalescing(e) async for e in events()), ping_interval=60):
            recorded.append(item.event)
        await close_clients()
    return [
        {"seq": seq, "name": e.name, "data": e.payload()} for seq, e in enumerate(recorded, start=1)
    ]


def serve(args, texts) -> None:
    """The fake provider, streaming each document's answer; prints its base URL."""
    sys.path.insert(0, str(ROOT))
    from tests.fakes.provider import FakeProvider, Reply

    def respond(request):
        answer = _answer_for(request.user_prompt or "", texts)
        return Reply.stream(answer, chunk_size=args.piece_size, delay=args.piece_gap, keepalive=0)

    provider = FakeProvider(responder=respond).start()
    print(provider.base_url, flush=True)
    sys.stdin.read()
    provider.stop()


# --- measuring (any checkout, in a process of its own) ---------------------------------------


def measure(events_path: str, watchers: int) -> dict:
    """Send the recorded events to `watchers` watchers in both flavours: bytes per watcher,
    events, and the CPU of all the encoding."""
    from plans import generation
    from plans.live import Numbered, Watch
    from plans.stream import GenerationStream

    classes = {
        "started": generation.Started,
        "progress": generation.Progress,
        "document_processed": generation.DocumentProcessed,
        "completed": generation.Completed,
    }
    recorded = json.loads(Path(events_path).read_text())

    def items():  # fresh events and items, as a new run would publish them
        made = []
        for entry in recorded:
            data = dict(entry["data"])
            if "dropped" in data:
                data["dropped"] = tuple(data["dropped"])
            made.append(Numbered(entry["seq"], classes[entry["name"]](**data)))
        return made

    class InStep(Watch):
        """A watcher that gets every event, in order (it keeps up), from its own queue."""

        run_id = "bench-run"

        def __init__(self):
            self.queue = asyncio.Queue()

        async def items(self):
            while (item := await self.queue.get()) is not None:
                yield item

    async def one(watch, html: bool) -> int:
        sent = 0
        session_id = "00000000-0000-4000-8000-000000000000"
        async for text in GenerationStream(watch, session_id=session_id, html=html):
            sent += len(text.encode())
        return sent

    async def fan_out(published: list, html: bool) -> list[int]:
        """Each event to every watcher, then the next (as a run's fan-out does; like the
        run, nothing keeps an event once its watchers have sent it)."""
        watches = [InStep() for _ in range(watchers)]
        streams = [asyncio.ensure_future(one(watch, html)) for watch in watches]
        while published:
            item = published.pop(0)
            for watch in watches:
                watch.queue.put_nowait(item)
            del item
            await asyncio.sleep(0)  # the watchers send it
        for watch in watches:
            watch.queue.put_nowait(None)
        return await asyncio.gather(*streams)

    results = {}
    for flavour in ("html", "json"):
        published = items()
        events = len(published)
        started = time.process_time()
        sizes = asyncio.run(fan_out(published, flavour == "html"))
        cpu = time.process_time() - started
        results[flavour] = {"bytes": sizes[0], "events": events, "cpu_ms": cpu * 1000}
    return results


def summary(values: list[float], digits: int = 3) -> str:
    return f"{median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--code", type=Path, action="append", help="checkouts to measure (repeatable)"
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--watchers", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--topics", type=int, default=50)
    parser.add_argument("--subtopics", type=int, default=8)
    parser.add_argument("--source", choices=["replay", "http"], default="replay")
    parser.add_argument("--piece-size", type=int, default=4)
    parser.add_argument("--piece-gap", type=float, default=0.015)
    parser.add_argument("--events", help="use these recorded events (JSON) instead of recording")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    texts = answers(args.topics, args.subtopics)
    if args.serve:
        serve(args, texts)
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyplanner.settings")
    if args.measure:  # a child: this process imports the app from its working directory
        sys.path.insert(0, os.getcwd())
        import django

        django.setup()
        print(json.dumps(measure(args.measure, args.watchers[0])))
        return

    events_path = args.events
    if events_path is None:
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        server = None
        base_url = None
        if args.source == "http":
            server = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--serve",
                    f"--piece-size={args.piece_size}",
                    f"--piece-gap={args.piece_gap}",
                    f"--topics={args.topics}",
                    f"--subtopics={args.subtopics}",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            base_url = server.stdout.readline().strip()
        try:
            recorded = asyncio.run(record(args, texts, base_url))
        finally:
            if server is not None:
                server.stdin.close()
                server.wait(10)
        events_path = tempfile.mkstemp(prefix="html-stream-events-", suffix=".json")[1]
        Path(events_path).write_text(json.dumps(recorded))

    codes = [path.resolve() for path in (args.code or [ROOT])]
    results: dict = {}
    for _ in range(args.runs):
        for watchers in args.watchers:
            for code in codes:  # interleaved: every checkout in every round
                output = subprocess.run(
                    [
                        sys.executable,
                        str(Path(__file__).resolve()),
                        f"--measure={events_path}",
                        f"--watchers={watchers}",
                    ],
                    cwd=code,
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, "LOG_LEVEL": "WARNING"},
                ).stdout
                for flavour, result in json.loads(output.splitlines()[-1]).items():
                    results.setdefault((code, watchers, flavour), []).append(result)

    recorded = json.loads(Path(events_path).read_text())
    progress = sum(e["name"] == "progress" for e in recorded)
    print(
        f"events: {events_path} ({len(recorded)} events, {progress} progress; plan of "
        f"{len(recorded[-1]['data']['plan'])} topics at the end); source {args.source}, pieces "
        f"of {args.piece_size} characters {args.piece_gap * 1000:g} ms apart; {args.runs} runs"
    )
    header = f"{'code':28} {'flavour':7} {'watchers':>8} {'bytes per watcher':>18}"
    print(f"{header} {'CPU per event, ms (all watchers)':>34}")
    for (code, watchers, flavour), runs in results.items():
        per_event = summary([r["cpu_ms"] / r["events"] for r in runs])
        row = f"{str(code)[-28:]:28} {flavour:7} {watchers:8d} {runs[0]['bytes']:18,d}"
        print(f"{row} {per_event:>34}")


if __name__ == "__main__":
    main()
