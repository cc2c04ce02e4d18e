"""GET /metrics (SPEC §17): the token, and values after a known sequence of runs — in this
process through the real generation path, and added up across two worker processes."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from studyplanner.db import run_db
from tests.base import AppTestCase
from tests.fakes import FakeProviderMixin, Reply
from tests.plans_scripts import ScriptedPlans
from tests.streams import read_all

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "metrics-secret-for-tests"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of a Prometheus text page."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(page: dict, name: str, **labels) -> float:
    """One sample's value (0 when the page doesn't have it)."""
    return page.get((name, tuple(sorted(labels.items()))), 0.0)


@override_settings(METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR="")
class MetricsAccessTests(AppTestCase):
    def test_without_a_token_setting_the_endpoint_does_not_exist(self):
        with override_settings(METRICS_TOKEN=""):
            self.assertEqual(self.client.get("/metrics", headers=AUTH).status_code, 404)

    def test_a_missing_or_wrong_token_is_refused(self):
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}):
            response = self.client.get("/metrics", headers=headers)
            self.assertEqual(response.status_code, 401, headers)
            self.assertEqual(response["WWW-Authenticate"], 'Bearer realm="metrics"')

    def test_the_right_token_gets_the_prometheus_text_format(self):
        response = self.client.get("/metrics", headers=AUTH)
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response["Content-Type"].startswith("text/plain; version="))
        page = samples(response.content.decode())
        self.assertIn(("studyplanner_sessions_generating", (("state", "live"),)), page)


@override_settings(METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR="")
class RunMetricsTests(FakeProviderMixin, AppTestCase):
    def setUp(self):
        super().setUp()
        self.enterContext(override_settings(PLAN_BUILDER="openrouter", AI_RETRY_MAX_WAIT=0.01))

    async def scrape(self) -> dict:
        response = await self.async_client.get("/metrics", headers=AUTH)
        self.assertEqual(response.status_code, 200)
        return samples(response.content.decode())

    async def run_once(self, name: str):
        session = await run_db(self.make_session)
        await run_db(self.make_document, session, name=name, text=f"# {name}\n\nNotes.")
        await self.async_client.aforce_login(self.owner)
        response = await self.async_client.get(
            f"/sessions/{session.pk}/generate-plan", headers={"accept": "text/event-stream"}
        )
        events, _, _ = await read_all(response)
        return events[-1].event

    async def test_a_success_a_retried_success_and_a_failure_are_counted(self):
        self.provider.responder = ScriptedPlans()
        before = await self.scrape()

        self.assertEqual(await self.run_once("week1.md"), "completed")
        self.provider.enqueue(Reply.error(503))
        self.assertEqual(await self.run_once("week2.md"), "completed")
        self.provider.responder = lambda request: Reply.error(400, message="no")
        self.assertEqual(await self.run_once("week3.md"), "error")
        after = await self.scrape()

        def delta(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        finished = "studyplanner_finished_total"
        run = {"kind": "run", "builder": "openrouter"}
        self.assertEqual(delta(finished, outcome="succeeded", **run), 2)
        self.assertEqual(delta(finished, outcome="failed", **run), 1)
        calls = "studyplanner_ai_upstream_calls_total"
        self.assertEqual(delta(calls, status="200", retry="false"), 1)
        self.assertEqual(delta(calls, status="503", retry="false"), 1)
        self.assertEqual(delta(calls, status="200", retry="true"), 1)
        self.assertEqual(delta(calls, status="400", retry="false"), 1)
        tokens = "studyplanner_ai_tokens_total"
        model = {"kind": "run", "model": "fake/model-1"}
        self.assertEqual(delta(tokens, direction="prompt", **model), 24)  # 2 answers × 12
        self.assertEqual(delta(tokens, direction="completion", **model), 68)
        durations = "studyplanner_duration_seconds_count"
        self.assertEqual(delta(durations, kind="run", outcome="succeeded"), 2)
        self.assertEqual(delta("studyplanner_first_event_seconds_count", kind="run"), 2)
        self.assertEqual(value(after, "studyplanner_open_streams", kind="plan"), 0)

    async def test_an_event_stream_is_counted_as_open_until_it_ends(self):
        self.provider.responder = ScriptedPlans()
        session = await run_db(self.make_session)
        await run_db(self.make_document, session, name="week1.md", text="# week1.md\n\nNotes.")
        await self.async_client.aforce_login(self.owner)
        gauge = {"name": "studyplanner_open_streams", "kind": "plan"}
        before = value(await self.scrape(), **gauge)

        response = await self.async_client.get(
            f"/sessions/{session.pk}/generate-plan", headers={"accept": "text/event-stream"}
        )
        chunks = aiter(response.streaming_content)
        self.assertTrue((await anext(chunks)).startswith(b"retry:"))
        during = value(await self.scrape(), **gauge)
        rest = b"".join([chunk async for chunk in chunks])
        after = value(await self.scrape(), **gauge)

        self.assertIn(b"event: completed", rest)
        self.assertEqual((during - before, after - before), (1, 0))


class MultiProcessMetricsTests(AppTestCase):
    def start_worker(self, folder: str, succeeded: int, failed: int) -> subprocess.Popen:
        worker = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "tests" / "metrics_worker.py"),
                str(succeeded),
                str(failed),
            ],
            cwd=ROOT,
            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": folder, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.addCleanup(worker.kill)
        self.assertEqual(worker.stdout.readline().strip(), "streaming")
        return worker

    def scrape(self, folder: str) -> dict:
        with override_settings(METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=folder):
            response = self.client.get("/metrics", headers=AUTH)
        self.assertEqual(response.status_code, 200)
        return samples(response.content.decode())

    def test_two_workers_counts_are_added_up_and_a_stopped_worker_leaves_the_gauge(self):
        folder = self.enterContext(tempfile.TemporaryDirectory())
        workers = [self.start_worker(folder, 3, 1), self.start_worker(folder, 2, 2)]

        page = self.scrape(folder)

        run = {"kind": "run", "builder": "openrouter"}
        self.assertEqual(value(page, "studyplanner_finished_total", outcome="succeeded", **run), 5)
        self.assertEqual(value(page, "studyplanner_finished_total", outcome="failed", **run), 3)
        calls = "studyplanner_ai_upstream_calls_total"
        self.assertEqual(value(page, calls, status="503", retry="false"), 3)
        self.assertEqual(
            value(page, "studyplanner_ai_cost_total", kind="run", model="fake/model-1"), 4.0
        )
        buckets = "studyplanner_duration_seconds_bucket"
        self.assertEqual(value(page, buckets, kind="run", outcome="failed", le="30.0"), 0)
        self.assertEqual(value(page, buckets, kind="run", outcome="failed", le="60.0"), 3)
        self.assertEqual(value(page, "studyplanner_open_streams", kind="plan"), 2)

        workers[0].communicate("stop\n", timeout=10)
        page = self.scrape(folder)

        self.assertEqual(value(page, "studyplanner_open_streams", kind="plan"), 1)
        self.assertEqual(value(page, "studyplanner_finished_total", outcome="succeeded", **run), 5)
