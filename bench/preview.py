"""The live preview's cost (SPEC §13, issue 16): loop CPU per answer when a model streams
the plan in ~4-character pieces, as real models do. Run it by hand, not in CI:

    .venv/bin/python bench/preview.py                      # 6, 20 and 40 topics, 3 runs each
    .venv/bin/python bench/preview.py --topics 40 --runs 5 --piece-gap 0.005
    .venv/bin/python bench/preview.py --code /tmp/old-checkout   # measure another version
    .venv/bin/python bench/preview.py --sources http --loop uvloop  # the server's event loop
    .venv/bin/python bench/preview.py --sources wire --topics 40 --events-per-chunk 8
    .venv/bin/python bench/preview.py --sources http --topics 40 --streams 20 --runs 1

The fake provider (tests/fakes/provider.py) runs in a process of its own and streams a
realistic plan — `--topics` topics of five subtopics, indented JSON as models write it — in
`--piece-size` character pieces, `--piece-gap` seconds apart. This process folds it in with
the real OpenRouterBuilder and reports, per answer, twice: with the real AI client over HTTP
("http"), and with the same pieces handed over from memory at the same pace ("memory": no
client stack, so the preview's own cost stands out of the noise):

- fold CPU: time.process_time() over the whole fold, its steps paced as the stream core
  paces progress events (studyplanner.sse.paced; this process does nothing else);
- client-only CPU: the same answer read through the AI client alone, with no preview at
  all; fold - client-only is what the preview costs ("preview CPU");
- previews: steps the builder yielded, and pieces received;
- µs per piece: client-only and fold CPU divided by the pieces received (medians);
- relay: a topic's title received (the piece closing it) → the builder's step showing it
  ("builder"), and → pacing letting that step out ("paced": what a page sees, less the
  encoding and the network), p50/p95/max.

Two more sources: "replay" (from memory in simulated time: nothing but the preview's work
costs CPU) and "wire" (the real AI client — httpx, httpx-sse, the stream's parsing — reading
the fake provider's exact wire bytes from memory, one loop turn per network chunk, in
simulated time: the client's own CPU per piece without the socket's noise; with
`--events-per-chunk N` a chunk holds N events, as bursts do). `--streams N` reads N answers at
once (http, memory and floor; over HTTP: a loaded worker, where network chunks often hold
several events); CPU is then per answer. "floor" is plain aiohttp reading the same answer over
HTTP and parsing nothing — the event loop's and the socket's cost per network chunk, which no
client can go below (its "pieces" are network chunks; no fold).

Each size is run `--runs` times, the sizes interleaved (this machine is shared and noisy);
medians and ranges are reported. `--code DIR` imports the app from DIR instead of this
checkout (e.g. `git archive main | tar -x -C DIR`), so the version before a change is
measured by this same script.
"""

import argparse
import asyncio
import copy
import functools
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from statistics import median
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent


def plan_answer(topics: int) -> str:
    idea = "Key idea {}.{}: what to understand and practise"
    plan = [
        {
            "order_index": n,
            "title": f"Topic {n}: principles and methods of area {n}",
            "subtopics": [idea.format(n, m) for m in range(1, 6)],
        }
        for n in range(1, topics + 1)
    ]
    return json.dumps({"topics": plan}, indent=2)


def serve(piece_size: int, piece_gap: float) -> None:
    """The fake provider: answers each request with the plan for the topic count named in
    the prompt (`topics=<n>`), printing its base URL, until stdin closes."""
    sys.path.insert(0, str(ROOT))
    from tests.fakes.provider import FakeProvider, Reply

    def respond(request):
        match = re.search(r"topics=(\d+)", request.user_prompt or "")
        topics = int(match[1]) if match else 6
        return Reply.stream(
            plan_answer(topics), chunk_size=piece_size, delay=piece_gap, keepalive=0
        )

    provider = FakeProvider(responder=respond).start()
    print(provider.base_url, flush=True)
    sys.stdin.read()
    provider.stop()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


class _Clock:
    """Simulated time for a replay: it advances `gap` per piece delivered."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


class _MemoryStream:
    """The AI client's stream without a network: the answer's pieces, `gap` seconds apart
    (with a `clock`: in simulated time, one loop turn apart)."""

    completion = None

    def __init__(self, answer: str, size: int, gap: float, clock: _Clock | None = None):
        self._pieces = [answer[at : at + size] for at in range(0, len(answer), size)]
        self._gap, self._next, self._clock = gap, 0, clock

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self._next == len(self._pieces):
            raise StopAsyncIteration
        if self._next and self._clock is not None:
            self._clock.now += self._gap
            await asyncio.sleep(0)
        elif self._next:
            await asyncio.sleep(self._gap)
        self._next += 1
        return self._pieces[self._next - 1]

    async def aclose(self):
        pass


class _MemoryClient:
    def __init__(self, size: int, gap: float, clock: _Clock | None = None):
        self.size, self.gap, self.clock = size, gap, clock

    def stream(self, system_prompt, user_prompt, **options):
        return _MemoryStream(
            plan_answer(int(re.search(r"topics=(\d+)", user_prompt)[1])),
            self.size,
            self.gap,
            self.clock,
        )


def _wire_body(chunks: list[bytes], clock: _Clock, step: float):
    """An HTTP body from memory: `chunks` one loop turn apart, `step` of simulated time each."""
    import httpx

    class WireBody(httpx.AsyncByteStream):
        async def __aiter__(self):
            for index, chunk in enumerate(chunks):
                if index:
                    clock.now += step
                    await asyncio.sleep(0)
                yield chunk

    return WireBody()


def wire_http_client(size: int, gap: float, clock: _Clock, events_per_chunk: int):
    """An httpx client whose transport answers from memory with the fake provider's exact
    wire bytes (tests/fakes/provider.py), `events_per_chunk` server-sent events per network
    chunk: the whole AI client stack runs, without a socket or the event loop's network
    wake-ups, so its own CPU stands out of the noise."""
    import httpx

    from tests.fakes.provider import Reply

    @functools.cache
    def wire_bytes(topics: int) -> list[bytes]:
        return Reply.stream(plan_answer(topics), chunk_size=size, keepalive=0).parts

    def respond(request: httpx.Request) -> httpx.Response:
        prompt = json.loads(request.content)["messages"][-1]["content"]
        parts = wire_bytes(int(re.search(r"topics=(\d+)", prompt)[1]))
        k = events_per_chunk
        chunks = [b"".join(parts[at : at + k]) for at in range(0, len(parts), k)]
        body = _wire_body(chunks, clock, gap * k)
        return httpx.Response(200, headers={"Content-Type": "text/event-stream"}, stream=body)

    client = httpx.AsyncClient(transport=httpx.MockTransport(respond))
    client.wire_bytes = wire_bytes  # made before the measurement, not during it
    return client


class _Recorded:
    """The AI client's stream, recording when each piece arrived (and the answer's length
    after it), so the relay delay can be computed."""

    def __init__(self, stream, arrivals: list):
        self._stream, self._arrivals, self._length = stream, arrivals, 0

    def __aiter__(self):
        return self

    async def __anext__(self):
        piece = await self._stream.__anext__()
        self._length += len(piece)
        self._arrivals.append((self._length, time.monotonic()))
        return piece

    async def aclose(self):
        await self._stream.aclose()

    @property
    def completion(self):
        return self._stream.completion


async def measure(
    source: str,
    base_url: str,
    topics: int,
    size: int,
    gap: float,
    streams: int = 1,
    events_per_chunk: int = 1,
) -> dict:
    """One answer of `topics` topics: over HTTP from the fake provider ("http"), from memory
    at the same pace ("memory"), or from memory in simulated time ("replay": the builder's
    clock advances `gap` per piece, so nothing but the work itself costs CPU; no relay), or
    with the real AI client reading the provider's wire bytes from memory ("wire": the
    client's own CPU, in simulated time as for replay).
    With `streams` > 1, that many answers at once (a loaded worker: network chunks then
    often hold several events); CPU is per answer, the relay that of the first."""
    from ai import AIClient

    if source == "floor":
        return await measure_floor(base_url, topics, streams)
    clock = _Clock() if source in ("replay", "wire") else None
    if source in ("replay", "memory"):
        client = _MemoryClient(size, gap, clock)
    else:
        client = AIClient(base_url=base_url, api_key="sk-bench", read_timeout=60, max_retries=1)
    if source == "wire":
        wire = wire_http_client(size, gap, clock, events_per_chunk)
        wire.wire_bytes(topics)
        with mock.patch("ai.stream.shared_http_client", lambda: wire):
            result = await _measure(client, clock, topics, streams)
        await wire.aclose()
        return result
    return await _measure(client, clock, topics, streams)


async def measure_floor(base_url: str, topics: int, streams: int) -> dict:
    """The same answer over HTTP read by plain aiohttp, parsing nothing ("floor"): what the
    event loop and the socket cost per network chunk, whatever client reads them."""
    import aiohttp

    def body(prompt: str) -> dict:
        return {
            "model": "bench/model",
            "stream": True,
            "messages": [{"role": "user", "content": prompt}],
        }

    async with aiohttp.ClientSession(headers={"Authorization": "Bearer sk-bench"}) as session:

        async def read_answer(prompt: str) -> int:
            chunks = 0
            async with session.post(f"{base_url}/chat/completions", json=body(prompt)) as answer:
                async for _ in answer.content.iter_any():
                    chunks += 1
            return chunks

        await read_answer("topics=1.md")  # warm up
        started = time.process_time()
        chunks = (
            await asyncio.gather(*(read_answer(f"topics={topics}.md") for _ in range(streams)))
        )[0]
        cpu_ms = (time.process_time() - started) / streams * 1000
    return {
        "topics": topics,
        "pieces": chunks,  # network chunks here
        "steps": 0,
        "builder_ms": cpu_ms,  # no fold: the floor is all there is
        "client_ms": cpu_ms,
        "relay_ms": [],
        "paced_relay_ms": [],
        "shown": 0,
    }


async def _measure(client, clock, topics: int, streams: int) -> dict:
    from ai import close_clients
    from plans.builders import openrouter
    from plans.builders.base import SourceDocument
    from plans.builders.openrouter import OpenRouterBuilder
    from studyplanner.sse import paced

    document = SourceDocument(f"topics={topics}.md", f"topics={topics}")

    # The client alone: what reading the answer costs without any preview.
    stream = client.stream("system", "topics=1.md", model="bench/model")  # warm up
    async for _ in stream:
        pass
    await stream.aclose()

    async def read_answer() -> int:
        stream = client.stream("system", f"topics={topics}.md", model="bench/model")
        pieces = 0
        async for _ in stream:
            pieces += 1
        await stream.aclose()
        return pieces

    started = time.process_time()
    pieces = (await asyncio.gather(*(read_answer() for _ in range(streams))))[0]
    client_cpu = (time.process_time() - started) / streams

    async def fold_unobserved() -> None:
        others = OpenRouterBuilder(client=client, model="bench/model")
        async for _ in paced(
            (_Coalescing(step) async for step in others.fold([], document, language="en")),
            ping_interval=60,
        ):
            pass

    recorded = copy.copy(client)
    builder = OpenRouterBuilder(client=recorded, model="bench/model")
    arrivals: list[tuple[int, float]] = []
    recorded.stream = lambda *a, **k: _Recorded(client.stream(*a, **k), arrivals)
    shown_at: dict[str, float] = {}  # when the builder yielded a step showing a topic
    sent_at: dict[str, float] = {}  # when pacing (0.1 s, as for the page) let it go out
    steps = 0

    async def folded():
        nonlocal steps
        async for step in builder.fold([], document, language="en"):
            steps += 1
            now = time.monotonic()
            for topic in step.plan if not step.final else ():
                shown_at.setdefault(topic["title"], now)
            yield _Coalescing(step)

    started = time.process_time()
    if clock is not None:
        # Only a builder that paces its previews reads a clock (the version before didn't).
        with mock.patch.object(openrouter, "time", clock, create=True):
            async for _ in folded():
                pass
        shown_at.clear()
    else:

        async def fold_observed() -> None:
            async for item in paced(folded(), ping_interval=60):
                now = time.monotonic()
                for topic in item.step.plan if not item.step.final else ():
                    sent_at.setdefault(topic["title"], now)

        await asyncio.gather(fold_observed(), *(fold_unobserved() for _ in range(streams - 1)))
    builder_cpu = (time.process_time() - started) / streams
    await close_clients()

    answer = plan_answer(topics)
    relays, paced_relays = [], []
    for n in range(1, topics + 1):
        title = f"Topic {n}: principles and methods of area {n}"
        closing_quote = answer.index(json.dumps(title)) + len(json.dumps(title)) - 1
        received = next(t for length, t in arrivals if length > closing_quote)
        if title in shown_at:
            relays.append(shown_at[title] - received)
        if title in sent_at:
            paced_relays.append(sent_at[title] - received)
    return {
        "topics": topics,
        "pieces": pieces,
        "steps": steps - 1,
        "builder_ms": builder_cpu * 1000,
        "client_ms": client_cpu * 1000,
        "relay_ms": [r * 1000 for r in relays],
        "paced_relay_ms": [r * 1000 for r in paced_relays],
        "shown": len(relays),
    }


class _Coalescing:
    """A builder step as the stream core sends it: previews coalesce under pacing."""

    def __init__(self, step):
        self.step, self.coalesce = step, not step.final


def summary(values: list[float]) -> str:
    return f"{median(values):7.1f} ({min(values):.1f}–{max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", type=int, nargs="+", default=[6, 20, 40])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--sources",
        nargs="+",
        choices=["replay", "memory", "wire", "http", "floor"],
        default=["replay", "http"],
    )
    parser.add_argument(
        "--events-per-chunk", type=int, default=1, help="wire: server-sent events per chunk"
    )
    parser.add_argument("--piece-size", type=int, default=4)
    parser.add_argument("--piece-gap", type=float, default=0.002)
    parser.add_argument(
        "--streams", type=int, default=1, help="answers at once (http: a loaded worker)"
    )
    parser.add_argument("--code", type=Path, default=ROOT, help="import the app from here")
    parser.add_argument(
        "--loop",
        choices=["asyncio", "uvloop"],
        default="asyncio",
        help="the event loop (uvicorn, hence the server, uses uvloop when it is installed)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.streams > 1 and {"replay", "wire"} & set(args.sources):
        # Their simulated clock is one for all answers: N answers would run it N times as fast.
        parser.error("--streams is for the real-time sources (http, memory, floor)")
    if args.serve:
        serve(args.piece_size, args.piece_gap)
        return

    sys.path.insert(0, str(args.code.resolve()))
    os.chdir(args.code)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyplanner.settings")
    import django

    django.setup()

    gap = [f"--piece-gap={args.piece_gap}"]
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", f"--piece-size={args.piece_size}", *gap],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        base_url = server.stdout.readline().strip()
        results = {(s, n): [] for s in args.sources for n in args.topics}
        run = asyncio.run
        if args.loop == "uvloop":
            import uvloop

            run = uvloop.run
        for _ in range(args.runs):
            for source in args.sources:
                for topics in args.topics:  # interleaved: every case in every round
                    result = run(
                        measure(
                            source,
                            base_url,
                            topics,
                            args.piece_size,
                            args.piece_gap,
                            args.streams,
                            args.events_per_chunk,
                        )
                    )
                    results[source, topics].append(result)
    finally:
        server.stdin.close()
        server.wait(10)

    print(
        f"code: {args.code.resolve()}; {args.loop} loop; {args.streams} answer(s) at once; "
        f"pieces of {args.piece_size} characters "
        f"{args.piece_gap * 1000:g} ms apart; {args.runs} runs; CPU in ms, median (range); "
        "relay in ms p50/p95/max over all runs"
    )
    print(
        f"{'source':6} {'topics':>6} {'pieces':>6} {'steps':>5}  {'fold CPU':22}"
        f" {'client-only CPU':22} {'preview CPU':22} {'client µs/piece':15} {'fold µs/piece':14}"
        f" {'relay: builder':18} {'relay: paced':18}"
    )
    for (source, topics), runs in results.items():
        relays = [r for run in runs for r in run["relay_ms"]]
        paced_relays = [r for run in runs for r in run["paced_relay_ms"]]
        print(
            f"{source:6} {topics:6d} {runs[0]['pieces']:6d} {median(r['steps'] for r in runs):5.0f}"
            f"  {summary([r['builder_ms'] for r in runs]):22}"
            f" {summary([r['client_ms'] for r in runs]):22}"
            f" {summary([r['builder_ms'] - r['client_ms'] for r in runs]):22}"
            f" {median(r['client_ms'] * 1000 / r['pieces'] for r in runs):15.2f}"
            f" {median(r['builder_ms'] * 1000 / r['pieces'] for r in runs):14.2f}"
            f" {spread(relays):18} {spread(paced_relays):18}"
            f" {min(r['shown'] for r in runs) if relays else '-'}/{topics} topics seen"
        )


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{percentile(values, 50):.1f}/{percentile(values, 95):.1f}/{max(values):.1f}"


if __name__ == "__main__":
    main()
