"""The SPEC §13 benchmark. Run it by hand (it takes a minute or two), not in CI:

    .venv/bin/python bench/run.py                          # every scenario, httpx transport
    .venv/bin/python bench/run.py --transport aiohttp      # the same on httpx-aiohttp
    .venv/bin/python bench/run.py --only concurrency --concurrency 200

It creates a fresh PostgreSQL database (default: studyplanner_bench on 127.0.0.1:5432 as
postgres), starts the fake provider (bench/fake_server.py) and ONE uvicorn worker of the app
in processes of their own, and drives the load with an aiohttp client. It reports:

- first byte: request → `started` event, p50/p95, on sessions of three 1 MB documents, one
  request at a time (each stream is cut after `started`, and the next request waits until
  the server has released that session);
- relay: a topic completed upstream → the `progress` event showing it, p50/p95;
- overhead: a 10-document session, end to end against the sum of its upstream calls;
- concurrency: N simultaneous 3-document generations against a lone one (p95 ratio), with
  the peak of open database connections and the worker's peak memory.

- remote-watch: generations on the worker, each watched (`?attach=1`) from a SECOND uvicorn
  worker on the same database: the delay of each `document_processed` and final event on
  the second worker after the first one's, p50/p95 (SPEC §13: within 1 s).

The workers run with PLAN_DETACHED_GRACE=0, so a stream the benchmark cuts (first byte)
hands its session back at once.
"""

import argparse
import asyncio
import json
import math
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import login_cookie  # noqa: E402  (needs ROOT on the path)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(values: list[float], unit: float = 1000.0, suffix: str = "ms") -> str:
    p50, p95 = percentile(values, 50) * unit, percentile(values, 95) * unit
    most = max(values) * unit
    return (
        f"p50 {p50:.1f} {suffix}, p95 {p95:.1f} {suffix}, max {most:.1f} {suffix} (n={len(values)})"
    )


class Bench:
    def __init__(self, args):
        self.args = args
        self.results: dict = {"transport": args.transport, "latency": args.latency}
        self.folder = Path(tempfile.mkdtemp(prefix="studyplanner-bench-"))

    # --- set-up -------------------------------------------------------------------------------

    def create_database(self) -> None:
        admin = dict(host=self.args.pg_host, port=self.args.pg_port, user=self.args.pg_user)
        with psycopg.connect(**admin, dbname="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.args.database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.args.database}"')
        self.database_url = f"postgres://{self.args.pg_user}@{self.args.pg_host}:{self.args.pg_port}/{self.args.database}"
        os.environ.update(
            SECRET_KEY=secrets.token_urlsafe(40),  # shared with the server: it signs the login
            DATABASE_URL=self.database_url,
            DJANGO_SETTINGS_MODULE="studyplanner.settings",
            ENV_FILE=os.devnull,
        )
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)

    def start_fake(self) -> None:
        self.fake = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "fake_server.py"),
                "--latency",
                str(self.args.latency),
                "--topic-gap",
                str(self.args.topic_gap),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.fake_url = self.fake.stdout.readline().strip()

    def fake_requests(self, scenario: str | None = None) -> list[dict]:
        """The upstream requests since the last call (only `scenario`'s documents if given:
        a scenario's cut-off streams may still reach the fake during the next one)."""
        requests = self._dump_fake_requests()
        if scenario is None:
            return requests
        return [
            r for r in requests if (r["document"] or "").startswith(f'New document "{scenario}-')
        ]

    def _dump_fake_requests(self) -> list[dict]:
        path = self.folder / f"dump-{time.monotonic_ns()}.jsonl"
        self.fake.stdin.write(f"dump {path}\n")
        self.fake.stdin.flush()
        assert self.fake.stdout.readline().strip() == "ok"
        return [json.loads(line) for line in path.read_text().splitlines()]

    def start_server(self, extra_env: dict | None = None) -> None:
        extra_env = dict(extra_env or {})
        # CODE=<dir> in a --compare configuration: serve another checkout (e.g. main's).
        code = Path(extra_env.pop("CODE", ROOT))
        # UVICORN_ARGS=... in a --compare configuration: more uvicorn options (--workers 2).
        uvicorn_args = extra_env.pop("UVICORN_ARGS", self.args.uvicorn_args).split()
        self.counting = self.args.counters and (code / "studyplanner" / "counters.py").exists()
        self.port = self.args.port or free_port()
        self.counters_file = self.folder / f"counters-{time.monotonic_ns()}.json"
        env = {
            **os.environ,
            "DEBUG": "False",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SESSION_COOKIE_SECURE": "False",
            "CSRF_COOKIE_SECURE": "False",
            "DATABASE_URL": self.database_url,
            "DB_POOL_MAX_SIZE": str(self.args.pool_size),
            "PLAN_BUILDER": "openrouter",
            "OPENROUTER_BASE_URL": self.fake_url,
            "OPENROUTER_API_KEY": "bench",
            "AI_HTTP_TRANSPORT": self.args.transport,
            "LOG_LEVEL": "WARNING",
            "PLAN_DETACHED_GRACE": "0",  # a stream the benchmark cuts hands back at once
            **extra_env,
        }
        if self.counting:
            env["STUDYPLANNER_COUNTERS_FILE"] = str(self.counters_file)
        self.server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "studyplanner.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--lifespan",
                "on",
                "--no-access-log",
                "--timeout-graceful-shutdown",
                "5",
                *([] if "--workers" in uvicorn_args else ["--workers", "1"]),
                *uvicorn_args,
            ],
            cwd=code,
            env=env,
        )
        import httpx

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/accounts/login/", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)  # polling for readiness
        raise RuntimeError("uvicorn did not start")

    def make_sessions(
        self, prefix: str, count: int, documents: int, text_chars: int = 200, first: int = 1
    ) -> list[str]:
        from django.contrib.auth import get_user_model

        from sessions_app.models import Document, StudySession

        user, _ = get_user_model().objects.get_or_create(username="bench")
        text = ("Some course text about the subject at hand. " * (text_chars // 45 + 1))[
            :text_chars
        ]
        ids = []
        for n in range(count):
            session = StudySession.objects.create(owner=user, title=f"{prefix} {n}", language="en")
            Document.objects.bulk_create(
                Document(
                    session=session,
                    original_name=f"{prefix}-{d}.md",
                    content_text=text,
                    status=Document.Status.COMPLETED,
                    position=d,
                    size=len(text),
                )
                for d in range(first, first + documents)
            )
            ids.append(str(session.pk))
        return ids

    # --- one generation, as a browser would read it --------------------------------------------

    async def generate(self, http, session_id: str, *, stop_after_started: bool = False) -> dict:
        url = f"http://127.0.0.1:{self.port}/sessions/{session_id}/generate-plan"
        timeline = {"start": time.monotonic(), "events": [], "bytes": 0}
        headers = {"Accept": "text/event-stream", "Cookie": self.cookie}
        async with http.get(url, headers=headers) as response:
            if response.status != 200:
                raise RuntimeError(f"{response.status}: {await response.text()}")
            event, data = None, []
            async for raw in response.content:
                timeline["bytes"] += len(raw)
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and event:
                    now = time.monotonic()
                    timeline["events"].append((now, event, json.loads("\n".join(data))))
                    if event == "started" and stop_after_started:
                        break
                    if event in ("completed", "error", "cancelled"):
                        break
                    event, data = None, []
        timeline["end"] = time.monotonic()
        last = timeline["events"][-1][1] if timeline["events"] else None
        if not stop_after_started and last != "completed":
            raise RuntimeError(f"generation of {session_id} ended with {last}")
        return timeline

    async def released(self, http, session_id: str, within: float = 5.0) -> None:
        url = f"http://127.0.0.1:{self.port}/sessions/{session_id}/plan-status"
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            async with http.get(url, headers={"Cookie": self.cookie}) as response:
                if (await response.json())["status"] != "GENERATING_PLAN":
                    return
            await asyncio.sleep(0.02)  # polling the server's state, with a deadline
        raise RuntimeError(f"session {session_id} still generating after {within} s")

    # --- scenarios ----------------------------------------------------------------------------

    def prepare(self) -> None:
        """Every session the scenarios will use, created before the load starts."""
        wanted = set(self.args.only)
        self.ids = {
            "first-byte": self.make_sessions("first", self.args.first_byte_runs, 3, 1_000_000)
            if "first-byte" in wanted
            else [],
            # relay-8.md: a plan of 16 topics, one every --topic-gap seconds.
            "relay": self.make_sessions("relay", self.args.relay_runs, 1, first=8)
            if "relay" in wanted
            else [],
            "overhead": self.make_sessions("over", 1, 10) if "overhead" in wanted else [],
            "lone": self.make_sessions("lone", 3, 3) if "concurrency" in wanted else [],
            "concurrency": self.make_sessions("conc", self.args.concurrency, 3)
            if "concurrency" in wanted
            else [],
            "remote-watch": self.make_sessions("remote", self.args.remote_runs, 3)
            if "remote-watch" in wanted
            else [],
        }
        self.cookie = login_cookie()
        from django.db import connections

        # So that the server's connections are the only ones counted: closing isn't enough,
        # this process's own pool would keep its connections open.
        connections.close_all()
        connections["default"].close_pool()

    async def first_byte(self, http) -> None:
        ids = self.ids["first-byte"]
        delays = []
        for session_id in ids:
            timeline = await self.generate(http, session_id, stop_after_started=True)
            delays.append(timeline["events"][0][0] - timeline["start"])
            # Each sample on a settled server: not while the previous one is still being
            # cleaned up (the client left right after `started`).
            await self.released(http, session_id)
        self.fake_requests()
        self.results["first_byte_s"] = delays
        print(f"first byte (request → started, 3 × 1 MB documents): {summary(delays)}")

    async def relay(self, http) -> None:
        ids = self.ids["relay"]
        received = []
        for session_id in ids:
            timeline = await self.generate(http, session_id)
            seen = {}
            for at, event, data in timeline["events"]:
                if event in ("progress", "document_processed"):
                    for count in range(1, len(data["plan"]) + 1):
                        seen.setdefault(count, at)
            received.append(seen)
        delays = []
        for seen, request in zip(received, self.fake_requests("relay"), strict=True):
            # Part 0 is the role chunk; part k carries topic k.
            for topic, sent in enumerate(request["sent_at"][1:], start=1):
                if topic in seen:
                    delays.append(seen[topic] - sent)
        self.results["relay_s"] = delays
        print(f"relay (topic complete upstream → progress event): {summary(delays)}")

    async def overhead(self, http) -> None:
        [session_id] = self.ids["overhead"]
        timeline = await self.generate(http, session_id)
        requests = self.fake_requests("over")
        upstream = sum(r["completed_at"] - r["arrived_at"] for r in requests)
        total = timeline["events"][-1][0] - timeline["start"]
        budget = 1.05 * upstream + 0.1
        self.results["overhead"] = {
            "end_to_end_s": total,
            "upstream_s": upstream,
            "budget_s": budget,
        }
        print(
            f"overhead (10 documents): end to end {total:.3f} s, upstream {upstream:.3f} s "
            f"(ratio {total / upstream:.4f}, +{(total - upstream) * 1000:.0f} ms); "
            f"target ≤ {budget:.3f} s: {'met' if total <= budget else 'MISSED'}"
        )

    async def concurrency(self, http) -> None:
        lone_ids = self.ids["lone"]
        lone = []
        for session_id in lone_ids:
            timeline = await self.generate(http, session_id)
            lone.append(timeline["end"] - timeline["start"])
        lone_time = statistics.median(lone)
        ids = self.ids["concurrency"]
        self.fake_requests()

        peak = {"connections": 0, "states": ""}
        stop = asyncio.Event()
        sampler = asyncio.create_task(self.sample(peak, stop))
        usage_before = self.worker_usage()
        started = time.monotonic()
        timelines = await asyncio.gather(*(self.generate(http, i) for i in ids))
        wall = time.monotonic() - started
        usage = {k: v - usage_before[k] for k, v in self.worker_usage().items()}
        stop.set()
        await sampler
        durations = [t["end"] - t["start"] for t in timelines]
        p95 = percentile(durations, 95)
        hwm = self.peak_rss_kb()
        self.results["concurrency"] = {
            "lone_s": lone_time,
            "durations_s": durations,
            "p95_s": p95,
            "ratio": p95 / lone_time,
            "wall_s": wall,
            "peak_db_connections": peak["connections"],
            "peak_rss_mb": hwm / 1024,
            "pool_size": self.args.pool_size,
            **self.per_generation(usage, timelines),
        }
        print(
            f"concurrency ({len(ids)} × 3 documents, {self.args.latency} s upstream latency): lone "
            f"{lone_time:.3f} s; {summary(durations, 1, 's')}; p95/lone = {p95 / lone_time:.3f} "
            f"(target ≤ 1.2); wall {wall:.2f} s"
        )
        print(
            f"  peak database connections {peak['connections']} ({peak['states']}; "
            f"pool max {self.args.pool_size}); worker peak memory {hwm / 1024:.0f} MB "
            "(target < 300 MB)"
        )
        print("  per generation: " + self.describe_per_generation(self.results["concurrency"]))

    async def stream(self, http, port: int, session_id: str, query: str = "", started=None):
        """(arrival time, event, id) of each event of one stream; `started` is set on the
        first event."""
        url = f"http://127.0.0.1:{port}/sessions/{session_id}/generate-plan{query}"
        seen, event, event_id = [], None, None
        headers = {"Accept": "text/event-stream", "Cookie": self.cookie}
        async with http.get(url, headers=headers) as response:
            if response.status != 200:
                raise RuntimeError(f"{response.status}: {await response.text()}")
            async for raw in response.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("id: "):
                    event_id = line[4:]
                elif line == "" and event:
                    seen.append((time.monotonic(), event, event_id))
                    if started is not None:
                        started.set()
                    if event in ("completed", "error", "cancelled"):
                        break
                    event, event_id = None, None
        return seen

    async def remote_watch(self, http) -> None:
        # A second worker on the same database, on a free port.
        first, saved_port = (self.server, self.port), self.args.port
        self.args.port = 0
        self.start_server()
        self.server_b, port_b = self.server, self.port
        (self.server, self.port), self.args.port = first, saved_port

        async def one(session_id: str):
            started = asyncio.Event()
            owner = asyncio.ensure_future(self.stream(http, self.port, session_id, "", started))
            await started.wait()
            remote = await self.stream(http, port_b, session_id, "?attach=1")
            return await owner, remote

        pairs = await asyncio.gather(*(one(i) for i in self.ids["remote-watch"]))
        delays, missing = [], 0
        for owner, remote in pairs:
            arrived = {event_id: at for at, _, event_id in remote}
            for at, event, event_id in owner:
                if event in ("document_processed", "completed", "error", "cancelled"):
                    if event_id in arrived:
                        delays.append(arrived[event_id] - at)
                    else:
                        missing += 1
        self.results["remote_watch_s"] = delays
        self.results["remote_watch_missing"] = missing
        print(
            f"watcher on another worker ({len(pairs)} generations): event delay "
            f"{summary(delays)}; events missing: {missing} (target: each within 1 s)"
        )

    async def sample(self, peak: dict, stop: asyncio.Event) -> None:
        """Track the most connections the server held open to the database at once."""
        query = (
            "SELECT state, count(*) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid() GROUP BY state"
        )
        async with await psycopg.AsyncConnection.connect(
            self.database_url, autocommit=True
        ) as conn:
            while not stop.is_set():
                rows = await (await conn.execute(query, (self.args.database,))).fetchall()
                count = sum(n for _, n in rows)
                if count > peak["connections"]:
                    peak["connections"] = count
                    peak["states"] = ", ".join(f"{n} {state or '?'}" for state, n in rows)
                await asyncio.sleep(0.02)

    def peak_rss_kb(self) -> int:
        for line in Path(f"/proc/{self.server.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    # --- what the worker spent (issue 16) ------------------------------------------------------

    def worker_usage(self) -> dict:
        """The worker processes' own CPU seconds (utime + stime, from /proc), and with
        --counters their SQL statements and sync_to_async hops so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        pids = [self.server.pid]
        children = Path(f"/proc/{self.server.pid}/task/{self.server.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        cpu = 0.0
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        usage = {"cpu_s": cpu}
        if self.counting:
            # With --workers N the first process only supervises: ask the workers.
            usage.update(self.worker_counters(pids[1:] or pids))
        return usage

    def worker_counters(self, pids: list[int]) -> dict:
        """SIGUSR1 makes each worker write its counters (studyplanner/counters.py). Only a
        process that catches SIGUSR1 is asked (for any other it would be fatal)."""
        totals = {"statements": 0, "hops": 0}
        for pid in pids:
            if not catches_sigusr1(pid, within=10):
                print(f"  (process {pid} doesn't count: skipped)")
                continue
            self.counters_file.unlink(missing_ok=True)
            os.kill(pid, signal.SIGUSR1)
            deadline = time.monotonic() + 5
            while not self.counters_file.exists() and time.monotonic() < deadline:
                time.sleep(0.005)  # polling for the worker's answer, with a deadline
            time.sleep(0.01)  # the file is written in one call; let it finish
            counted = json.loads(self.counters_file.read_text() or "{}")
            for key in totals:
                totals[key] += counted.get(key, 0)
        return totals

    @staticmethod
    def per_generation(usage: dict, timelines: list[dict]) -> dict:
        count = len(timelines)
        figures = {
            "cpu_ms_per_generation": usage["cpu_s"] * 1000 / count,
            "bytes_per_generation": sum(t["bytes"] for t in timelines) / count,
        }
        for key in ("statements", "hops"):
            if key in usage:
                figures[f"{key}_per_generation"] = usage[key] / count
        return figures

    @staticmethod
    def describe_per_generation(figures: dict) -> str:
        parts = [f"worker CPU {figures['cpu_ms_per_generation']:.1f} ms"]
        for key, name in (("statements", "SQL statements"), ("hops", "thread hops")):
            if f"{key}_per_generation" in figures:
                parts.append(f"{figures[f'{key}_per_generation']:.1f} {name}")
        parts.append(f"{figures['bytes_per_generation'] / 1024:.1f} KiB on the wire")
        return ", ".join(parts)

    # --- configurations compared, interleaved (issue 16) ---------------------------------------

    def compare(self) -> None:
        """--compare: the concurrency scenario for each configuration in turn, --repeat
        rounds, a fresh worker (and fresh sessions) each time; medians and ranges."""
        configs = [parse_config(text) for text in self.args.compare]
        self.create_database()
        self.cookie = None
        self.start_fake()
        runs: dict[str, list[dict]] = {name: [] for name, _ in configs}
        try:
            for round_number in range(1, self.args.repeat + 1):
                for name, env in configs:
                    self.ids = {
                        "lone": self.make_sessions("lone", 3, 3),
                        "concurrency": self.make_sessions("conc", self.args.concurrency, 3),
                    }
                    self.cookie = self.cookie or login_cookie()
                    from django.db import connections

                    connections.close_all()
                    connections["default"].close_pool()
                    print(f"round {round_number}, {name}:")
                    self.start_server(env)
                    try:
                        asyncio.run(self.run_concurrency_only())
                    finally:
                        self.server.terminate()
                        self.server.wait(15)
                    runs[name].append(self.results["concurrency"])
        finally:
            self.fake.stdin.close()
            self.fake.wait(15)
        print(f"\n{self.args.repeat} rounds, interleaved; median (min–max)")
        for name, results in runs.items():
            print(f"{name}:")
            for key, label in COMPARED:
                values = [r[key] for r in results if key in r]
                if values:
                    print(
                        f"  {label:28} {statistics.median(values):10.3f}"
                        f"  ({min(values):.3f}–{max(values):.3f})"
                    )
        out = ROOT / "bench" / "results"
        out.mkdir(exist_ok=True)
        path = out / f"compare-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(json.dumps(runs, indent=1))
        print(f"raw figures: {path}")

    async def run_concurrency_only(self) -> None:
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            await self.concurrency(http)

    # --- driver -------------------------------------------------------------------------------

    async def run_scenarios(self) -> None:
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            for name in self.args.only:
                await getattr(self, name.replace("-", "_"))(http)

    def run(self) -> None:
        self.create_database()
        self.prepare()
        self.start_fake()
        try:
            self.start_server()
            asyncio.run(self.run_scenarios())
        finally:
            for server in (getattr(self, "server", None), getattr(self, "server_b", None)):
                if server is not None:
                    server.terminate()
                    server.wait(15)
            self.fake.stdin.close()
            self.fake.wait(15)
        out = ROOT / "bench" / "results"
        out.mkdir(exist_ok=True)
        path = out / f"bench-{self.args.transport}-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(json.dumps(self.results, indent=1))
        print(f"raw figures: {path}")


COMPARED = [
    ("ratio", "p95/lone"),
    ("lone_s", "lone generation, s"),
    ("p95_s", "p95, s"),
    ("cpu_ms_per_generation", "worker CPU ms/generation"),
    ("statements_per_generation", "SQL statements/generation"),
    ("hops_per_generation", "thread hops/generation"),
    ("bytes_per_generation", "bytes/generation"),
    ("peak_db_connections", "peak DB connections"),
    ("peak_rss_mb", "worker peak memory, MB"),
]


def parse_config(text: str) -> tuple[str, dict]:
    """ "name:VAR=value,VAR=value" (or just "name") → (name, environment for the worker)."""
    name, _, assignments = text.partition(":")
    env = dict(a.split("=", 1) for a in assignments.split(",") if a)
    return name, env


def catches_sigusr1(pid: int, within: float) -> bool:
    """Whether the process has a SIGUSR1 handler (SigCgt in /proc), waiting up to `within`
    seconds for a worker that is still starting."""
    deadline = time.monotonic() + within
    while True:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigCgt:") and int(line.split()[1], 16) & (
                1 << (signal.SIGUSR1 - 1)
            ):
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)  # polling a starting worker, with a deadline


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=["first-byte", "relay", "overhead", "concurrency", "remote-watch"],
        choices=["first-byte", "relay", "overhead", "concurrency", "remote-watch"],
    )
    parser.add_argument("--transport", choices=["httpx", "aiohttp"], default="aiohttp")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--latency", type=float, default=1.0, help="upstream latency per call, s")
    parser.add_argument(
        "--topic-gap", type=float, default=0.25, help="relay: seconds between topics"
    )
    parser.add_argument("--first-byte-runs", type=int, default=40)
    parser.add_argument("--relay-runs", type=int, default=5)
    parser.add_argument("--remote-runs", type=int, default=20, help="remote-watch: generations")
    parser.add_argument("--pool-size", type=int, default=20, help="DB_POOL_MAX_SIZE of the worker")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument(
        "--counters",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="count the worker's SQL statements and thread hops (studyplanner/counters.py)",
    )
    parser.add_argument(
        "--compare",
        nargs="+",
        metavar="NAME:VAR=VALUE,...",
        help="run the concurrency scenario for each configuration (worker environment) in "
        "turn, --repeat rounds, e.g. --compare default gc:GC_FREEZE=true,GC_GEN0_THRESHOLD=7000",
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds of --compare")
    parser.add_argument(
        "--uvicorn-args", default="", help="extra uvicorn options, e.g. '--loop uvloop'"
    )
    parser.add_argument("--database", default="studyplanner_bench")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
    args = parser.parse_args()
    if args.compare:
        Bench(args).compare()
    else:
        Bench(args).run()


if __name__ == "__main__":
    main()
