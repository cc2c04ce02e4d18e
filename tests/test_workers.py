"""Generations across real uvicorn workers on PostgreSQL (SPEC §7 "Resumable streams", §14):
a watcher on worker B follows a run on worker A, a cancel sent to B stops it on A, and a
worker stopped with SIGTERM hands its generation back before it exits.

Each test class starts its own uvicorn processes (tests/e2e/support.LiveServer) on a fresh
database of the PostgreSQL server in DATABASE_URL; the PostgreSQL pass only.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from urllib.parse import urlparse

import httpx
import psycopg
from django.db import connection

from tests import pg_cluster
from tests.e2e.support import LEARNER, ROOT, LiveServer
from tests.fakes import FAKE_API_KEY, FakeProvider
from tests.plans_scripts import ScriptedPlans
from tests.streams import parse_stream

NEEDS = "needs PostgreSQL (run with DATABASE_URL=postgres://...)"

MAKE_SESSION = """
from django.contrib.auth import get_user_model
from sessions_app.models import Document, StudySession
owner = get_user_model().objects.get(username="learner")
session = StudySession.objects.create(owner=owner, title="Workers")
for position, name in enumerate({names!r}, start=1):
    Document.objects.create(session=session, original_name=name, content_text="Notes of " + name,
                            size=10, status="COMPLETED", position=position)
print(session.pk)
"""

SESSION_STATE = """
from sessions_app.models import GenerationRun, StudySession
session = StudySession.objects.get(pk="{pk}")
running = GenerationRun.objects.filter(session=session).running().count()
print(session.status, len(session.folded_document_ids), running)
"""


class Watcher(threading.Thread):
    """Reads one event stream on its own thread, noting when each event arrived."""

    def __init__(self, client: httpx.Client, url: str):
        super().__init__(daemon=True)
        self.client, self.url = client, url
        self.events: list[tuple[float, object]] = []
        self.status = None
        self.first_event = threading.Event()
        self.done = threading.Event()

    def run(self):
        buffer = ""
        try:
            with self.client.stream("GET", self.url, headers={"accept": "text/event-stream"}) as r:
                self.status = r.status_code
                for text in r.iter_text():
                    buffer += text
                    while "\n\n" in buffer:
                        block, _, buffer = buffer.partition("\n\n")
                        for event in parse_stream(block + "\n\n")[0]:
                            self.events.append((time.monotonic(), event))
                            self.first_event.set()
        except httpx.HTTPError:
            pass
        finally:
            self.done.set()

    def names(self) -> list[str]:
        return [event.event for _, event in self.events]

    def wait_for(self, name: str, within: float) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if name in self.names():
                return True
            if self.done.wait(0.05):  # waiting on the reader thread, with a deadline
                return name in self.names()
        return False


@unittest.skipUnless(connection.vendor == "postgresql", NEEDS)
class WorkersTestCase(unittest.TestCase):
    workers = 2
    documents = 3
    server_env: dict = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.database_url = cls.create_database()
        cls.provider = FakeProvider().start()
        cls.addClassCleanup(cls.provider.stop)
        env = {
            "DATABASE_URL": cls.database_url,
            "PLAN_BUILDER": "openrouter",
            "OPENROUTER_BASE_URL": cls.provider.base_url,
            "OPENROUTER_API_KEY": FAKE_API_KEY,
            "AI_RETRY_MAX_WAIT": "0.1",
            "DB_POOL_MIN_SIZE": "1",
            "DB_POOL_MAX_SIZE": "4",
            "DB_POOL_TIMEOUT": "2",
            "PLAN_HEARTBEAT_INTERVAL": "1",
            "LOG_LEVEL": "INFO",
            **cls.server_env,
        }
        cls.servers = []
        for _ in range(cls.workers):
            server = LiveServer(**env)
            server.start()
            cls.addClassCleanup(server.stop)
            cls.servers.append(server)

    @classmethod
    def create_database(cls) -> str:
        """A fresh database on the PostgreSQL server of DATABASE_URL; its URL."""
        settings = connection.settings_dict
        cls.dbname = f"sp_workers_{uuid.uuid4().hex[:8]}"
        cls.admin = psycopg.connect(
            host=settings["HOST"] or "127.0.0.1",
            port=settings["PORT"] or 5432,
            user=settings["USER"] or "postgres",
            password=settings["PASSWORD"] or None,
            dbname="postgres",
            autocommit=True,
        )
        cls.admin.execute(f'CREATE DATABASE "{cls.dbname}"')
        cls.addClassCleanup(cls._drop_database)
        url = urlparse(os.environ.get("DATABASE_URL", ""))
        return url._replace(path=f"/{cls.dbname}").geturl()

    @classmethod
    def _drop_database(cls):
        cls.admin.execute(f'DROP DATABASE IF EXISTS "{cls.dbname}" WITH (FORCE)')
        cls.admin.close()

    def setUp(self):
        self.provider.reset()
        names = ("week1.md", "week2.md", "week3.md")[: self.documents]
        self.session_id = self.manage_python(MAKE_SESSION.format(names=names)).split()[-1]

    def manage_python(self, code: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=self.servers[0].env,
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout

    def state(self) -> tuple[str, int, int]:
        output = self.manage_python(SESSION_STATE.format(pk=self.session_id))
        status, folded, running = output.split()[-3:]
        return status, int(folded), int(running)

    def logged_in(self, server: LiveServer) -> httpx.Client:
        client = httpx.Client(base_url=server.url, timeout=30)
        self.addCleanup(client.close)
        page = client.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        client.post(
            "/accounts/login/",
            data={"username": LEARNER[0], "password": LEARNER[1], "csrfmiddlewaretoken": token},
        )
        client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
        return client

    def url(self, query: str = "") -> str:
        return f"/sessions/{self.session_id}/generate-plan{query}"


class CrossWorkerTests(WorkersTestCase):
    def test_a_watcher_on_worker_b_sees_every_document_and_the_end_within_a_second(self):
        self.provider.responder = ScriptedPlans(chunk_size=8, delay=0.05, latency=0.5)
        owner = Watcher(self.logged_in(self.servers[0]), self.url())
        owner.start()
        self.assertTrue(
            owner.first_event.wait(10), (owner.status, self.servers[0].log_path.read_text()[-3000:])
        )
        remote = Watcher(self.logged_in(self.servers[1]), self.url("?attach=1"))
        remote.start()

        self.assertTrue(remote.wait_for("completed", within=60), remote.names())
        owner.join(10)

        self.assertEqual(remote.status, 200)
        arrived = {event.id: at for at, event in remote.events}
        processed = [(at, e) for at, e in owner.events if e.event == "document_processed"]
        self.assertEqual([e.json["doc"] for _, e in processed], [1, 2, 3])
        remote_processed = [
            e.json["doc"] for _, e in remote.events if e.event == "document_processed"
        ]
        self.assertEqual(remote_processed, [1, 2, 3])
        delays = [arrived[e.id] - at for at, e in [*processed, owner.events[-1]]]
        self.assertLess(max(delays), 1.0, (delays, self.servers[1].log_path.read_text()[-4000:]))
        self.assertEqual(remote.events[-1][1].json["plan"], owner.events[-1][1].json["plan"])
        self.assertEqual(len(self.provider.requests), 3)

    def test_cancel_sent_to_worker_b_stops_the_run_on_worker_a(self):
        self.provider.responder = ScriptedPlans(chunk_size=4, delay=0.1)
        owner = Watcher(self.logged_in(self.servers[0]), self.url())
        owner.start()
        self.assertTrue(owner.wait_for("document_processed", within=30), owner.names())
        upstream = self.provider.wait_for_requests(2)[1]

        sent_at = time.monotonic()
        answer = self.logged_in(self.servers[1]).post(
            f"/sessions/{self.session_id}/cancel-generation", headers={"accept": "application/json"}
        )

        self.assertEqual(answer.status_code, 202, answer.text)
        self.assertTrue(
            owner.wait_for("cancelled", within=5), [e.data[:300] for _, e in owner.events[-2:]]
        )
        self.assertTrue(upstream.wait_disconnected(timeout=2))
        self.assertLess(upstream.disconnected_at - sent_at, 1.0)
        self.assertEqual(self.state(), ("UPLOADING", 1, 0))


class ShutdownTests(WorkersTestCase):
    workers = 1

    def test_sigterm_during_a_generation_hands_it_back_before_the_process_exits(self):
        self.provider.responder = ScriptedPlans(chunk_size=4, delay=0.1)
        server = self.servers[0]
        owner = Watcher(self.logged_in(server), self.url())
        owner.start()
        self.assertTrue(owner.wait_for("document_processed", within=30), owner.names())

        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=30)

        self.assertEqual(self.state(), ("UPLOADING", 1, 0))  # progress kept, run closed
        log = server.log_path.read_text()
        self.assertIn("Application shutdown complete", log)


class DatabaseRestartTests(WorkersTestCase):
    """PostgreSQL restarted in the middle of a generation: a private cluster (never the
    shared server), restarted by the test."""

    workers = 1

    @classmethod
    def create_database(cls) -> str:
        pg_cluster.require()
        cls.cluster = pg_cluster.PrivateCluster()
        cls.addClassCleanup(cls.cluster.destroy)
        cls.cluster.start()
        cls.cluster.create_database("studyplanner")
        return cls.cluster.url("studyplanner")

    def wait_for_log(self, text: str, *, count: int, within: float) -> None:
        log = self.servers[0].log_path
        deadline = time.monotonic() + within
        while log.read_text().count(text) < count:
            self.assertLess(time.monotonic(), deadline, f"{text!r} not logged {count} times")
            time.sleep(0.1)  # polling the server's log for a condition, with a deadline

    def test_the_run_waits_for_the_database_then_ends_and_nothing_is_left_running(self):
        self.provider.responder = ScriptedPlans(chunk_size=4, delay=0.05)
        owner = Watcher(self.logged_in(self.servers[0]), self.url())
        owner.start()
        self.assertTrue(owner.wait_for("document_processed", within=30), owner.names())

        self.cluster.stop()
        # Document 2 is answered while the database is down: its save must wait.
        second = self.provider.wait_for_requests(2, timeout=30)[1]
        self.assertTrue(second.wait_completed(timeout=30))
        # Down longer than a pool checkout waits (DB_POOL_TIMEOUT): two failed heartbeats.
        failed = self.servers[0].log_path.read_text().count("Heartbeat of session")
        self.wait_for_log("Heartbeat of session", count=failed + 2, within=30)
        self.cluster.start()
        back_at = time.monotonic()

        self.assertTrue(owner.wait_for("completed", within=30) or "error" in owner.names())
        owner.join(10)
        ended_at = owner.events[-1][0]
        self.assertLess(ended_at - back_at, 5.0)
        status, folded, running = self.state()
        self.assertIn(status, ("EDITING_PLAN", "UPLOADING"))
        self.assertEqual(running, 0)
        if owner.names()[-1] == "completed":
            self.assertEqual(folded, 3)


def _big_plan() -> list:
    """A plan at the bounds of SPEC §3 (60 topics × 30 subtopics, long titles): ~250 KB."""
    return [
        {
            "order_index": t,
            "title": f"Topic {t} " + "x" * 150,
            "subtopics": [f"Subtopic {t}.{s} " + "y" * 120 for s in range(1, 31)],
        }
        for t in range(1, 61)
    ]


def _rss_kb(pid: int) -> int:
    for line in open(f"/proc/{pid}/status").read().splitlines():  # noqa: SIM115
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


class FrozenClientTests(WorkersTestCase):
    """Clients that never read their stream (a raw socket): bounded memory, detached, the
    run goes on. One worker on SQLite, so it runs in both passes."""

    __unittest_skip__ = False
    workers = 1
    documents = 1
    server_env = {"SSE_SEND_TIMEOUT": "1"}

    @classmethod
    def create_database(cls) -> str:
        cls.folder = tempfile.mkdtemp(prefix="studyplanner-frozen-")
        cls.addClassCleanup(shutil.rmtree, cls.folder, True)
        return f"sqlite:///{cls.folder}/frozen.sqlite3"

    def frozen_socket(self, cookie: str) -> socket.socket:
        """A connection that asks for the stream and then never reads a byte."""
        server = self.servers[0]
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.port))
        self.addCleanup(sock.close)
        sock.sendall(
            f"GET {self.url('?attach=1')} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Accept: text/event-stream\r\nCookie: {cookie}\r\n\r\n".encode()
        )
        return sock

    def test_three_frozen_clients_are_detached_and_hold_no_more_than_a_megabyte_each(self):
        big = _big_plan()
        self.provider.responder = ScriptedPlans({"week1.md": big}, chunk_size=500, delay=0.01)
        server = self.servers[0]
        client = self.logged_in(server)
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        reader = Watcher(client, self.url())
        reader.start()
        self.assertTrue(reader.first_event.wait(10))
        before = _rss_kb(server.process.pid)

        frozen = [self.frozen_socket(cookie) for _ in range(3)]
        self.assertTrue(reader.wait_for("completed", within=120), reader.names())

        grown_mb = (_rss_kb(server.process.pid) - before) / 1024
        log = server.log_path.read_text()
        self.assertEqual(log.count("Detached a watcher"), len(frozen), log[-2000:])
        self.assertLess(grown_mb, 3 * 1 + 10)  # ≤ 1 MB a frozen client, plus noise
        self.assertEqual(len(self.provider.requests), 1)  # the run went on, once
