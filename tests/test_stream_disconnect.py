"""Resumable generation through the real ASGI application (SPEC §7 "Resumable streams"):
the generation belongs to the server, a client that goes away and comes back resumes it,
and a run nobody watches stops after its grace with its progress saved."""

import asyncio
import time

from asgiref.testing import ApplicationCommunicator
from django.test import override_settings

from sessions_app.models import GenerationRun, StudySession
from studyplanner.asgi import application
from tests.base import AppTransactionTestCase
from tests.fakes import FakeProviderMixin
from tests.plans_scripts import WEEK_PLANS, ScriptedPlans, document_in
from tests.streams import http_scope, parse_stream

Status = StudySession.Status


class AsgiStreamTestCase(FakeProviderMixin, AppTransactionTestCase):
    def setUp(self):
        super().setUp()
        self.enterContext(override_settings(PLAN_BUILDER="openrouter"))
        self.session = self.make_session()
        self.documents = [
            self.make_document(self.session, name=name, text=f"Notes of {name}.")
            for name in ("week1.md", "week2.md", "week3.md")
        ]
        self.client.force_login(self.owner)
        self.cookie = f"sessionid={self.client.cookies['sessionid'].value}".encode()

    def scope(self, query: dict | None = None, headers=(), method="GET") -> dict:
        return http_scope(
            f"/sessions/{self.session.pk}/generate-plan",
            method=method,
            query=query,
            headers=[(b"accept", b"text/event-stream"), (b"cookie", self.cookie), *headers],
        )

    async def open(self, query=None, headers=()) -> tuple[ApplicationCommunicator, dict]:
        communicator = ApplicationCommunicator(application, self.scope(query, headers))
        await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await communicator.receive_output(timeout=10)
        return communicator, start

    async def read_until(self, communicator, predicate, text="") -> str:
        """Body text received until `predicate(text)` holds."""
        while not predicate(text):
            message = await communicator.receive_output(timeout=10)
            self.assertEqual(message["type"], "http.response.body")
            text += message["body"].decode()
        return text

    async def read_to_end(self, communicator, text="") -> str:
        while True:
            message = await communicator.receive_output(timeout=10)
            text += message.get("body", b"").decode()
            if not message.get("more_body", False):
                return text

    async def refreshed(self) -> StudySession:
        return await StudySession.objects.aget(pk=self.session.pk)

    async def status_within(self, seconds: float, leaving=Status.GENERATING_PLAN) -> str:
        """The session's status once it left `leaving`, or after `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            session = await self.refreshed()
            if session.status != leaving or time.monotonic() > deadline:
                return session.status
            await asyncio.sleep(0.02)  # polling a condition, with a deadline


def inside_document_two(text: str) -> bool:
    events, _ = parse_stream(text)
    return any(
        e.event == "progress" and e.json["doc"] == 2 and e.json["plan"] != WEEK_PLANS["week1.md"]
        for e in events
    )


class NobodyWatchingTests(AsgiStreamTestCase):
    @override_settings(PLAN_DETACHED_GRACE=0)
    async def test_with_no_grace_a_disconnect_closes_upstream_releases_and_the_next_run_resumes(
        self,
    ):
        self.provider.responder = ScriptedPlans(chunk_size=4, delay=0.05)
        communicator, start = await self.open()
        self.assertEqual(start["status"], 200)
        received = await self.read_until(communicator, inside_document_two)
        upstream = self.provider.requests[1]
        self.assertEqual(document_in(upstream), "week2.md")
        self.assertFalse(upstream.completed.is_set())

        disconnected_at = time.monotonic()
        await communicator.send_input({"type": "http.disconnect"})
        self.assertTrue(await self.wait_for(upstream.disconnected, within=1))
        self.assertLess(upstream.disconnected_at - disconnected_at, 1.0)
        await communicator.wait(timeout=5)

        self.assertEqual(await self.status_within(2), Status.UPLOADING)
        session = await self.refreshed()
        self.assertEqual(session.draft_plan, WEEK_PLANS["week1.md"])
        self.assertEqual(session.folded_document_ids, [str(self.documents[0].pk)])
        run = await GenerationRun.objects.aget(session=self.session)
        self.assertEqual(run.outcome, GenerationRun.Outcome.CANCELLED)
        self.assertIn("Nobody watched", run.error)
        self.assertIn("document_processed", received)

        # The next run sends only documents 2 and 3 to the model.
        self.provider.reset()
        self.provider.responder = ScriptedPlans()
        communicator, _ = await self.open()
        body = await self.read_to_end(communicator)
        events, _ = parse_stream(body)
        self.assertEqual(events[0].json["resumed_from"], 1)
        self.assertEqual([document_in(r) for r in self.provider.requests], ["week2.md", "week3.md"])
        self.assertEqual((await self.refreshed()).status, Status.EDITING_PLAN)

    @override_settings(PLAN_DETACHED_GRACE=0.5)
    async def test_after_the_grace_the_upstream_is_closed_within_a_second_with_progress_kept(self):
        self.provider.responder = ScriptedPlans(chunk_size=4, delay=0.1)  # ~5 s a document
        communicator, _ = await self.open()
        await self.read_until(communicator, inside_document_two)
        upstream = self.provider.requests[1]

        left_at = time.monotonic()
        await communicator.send_input({"type": "http.disconnect"})

        self.assertTrue(await self.wait_for(upstream.disconnected, within=3))
        await communicator.wait(timeout=5)
        waited = upstream.disconnected_at - left_at
        self.assertGreaterEqual(waited, 0.4)  # the grace: it went on meanwhile
        self.assertLess(waited, 0.5 + 1.0)  # then the upstream closed within a second
        self.assertEqual(await self.status_within(2), Status.UPLOADING)
        session = await self.refreshed()
        self.assertEqual(session.draft_plan, WEEK_PLANS["week1.md"])
        run = await GenerationRun.objects.aget(session=self.session)
        self.assertEqual(run.outcome, GenerationRun.Outcome.CANCELLED)
        self.assertEqual(run.events["final"]["name"], "cancelled")

    @override_settings(PLAN_DETACHED_GRACE=0)
    async def test_disconnect_while_waiting_for_the_first_token_still_releases(self):
        self.provider.responder = ScriptedPlans(latency=30)
        communicator, _ = await self.open()
        await self.read_until(communicator, lambda text: "event: started" in text)
        [upstream] = await asyncio.to_thread(self.provider.wait_for_requests, 1)

        await communicator.send_input({"type": "http.disconnect"})

        self.assertTrue(await self.wait_for(upstream.disconnected, within=1))
        await communicator.wait(timeout=5)
        self.assertEqual(await self.status_within(2), Status.UPLOADING)


class ResumeTests(AsgiStreamTestCase):
    async def test_reconnecting_mid_document_resumes_the_same_run_without_a_repeated_model_call(
        self,
    ):
        self.provider.responder = ScriptedPlans(chunk_size=4, delay=0.03)
        communicator, _ = await self.open()
        first = await self.read_until(communicator, inside_document_two)
        await communicator.send_input({"type": "http.disconnect"})  # a reload, a network drop
        await communicator.wait(timeout=5)
        seen, _ = parse_stream(first)
        last_id = seen[-1].id
        run_id = seen[0].json["run"]

        communicator, start = await self.open(headers=[(b"last-event-id", last_id.encode())])
        body = await self.read_to_end(communicator)

        self.assertEqual(start["status"], 200)
        events, _ = parse_stream(body)
        self.assertEqual({e.id.rpartition(".")[0] for e in events}, {run_id})
        after = int(last_id.rpartition(".")[2])
        self.assertTrue(all(int(e.id.rpartition(".")[2]) >= after for e in events))
        self.assertEqual(events[0].event, "progress")  # the current plan at once
        self.assertEqual(events[0].json["doc"], 2)
        self.assertTrue(events[0].json["plan"])
        processed = [e for e in seen + events if e.event == "document_processed"]
        self.assertEqual([e.json["doc"] for e in processed], [1, 2, 3])
        self.assertEqual(events[-1].event, "completed")
        self.assertEqual(events[-1].json["plan"], WEEK_PLANS["week3.md"])
        calls = [document_in(r) for r in self.provider.requests]
        self.assertEqual(calls, ["week1.md", "week2.md", "week3.md"])  # once per document
        self.assertEqual(await GenerationRun.objects.acount(), 1)
        self.assertEqual((await self.refreshed()).status, Status.EDITING_PLAN)

    async def test_the_last_event_id_query_parameter_resumes_too(self):
        self.provider.responder = ScriptedPlans(chunk_size=4, delay=0.03)
        communicator, _ = await self.open()
        first = await self.read_until(communicator, lambda text: "document_processed" in text)
        await communicator.send_input({"type": "http.disconnect"})
        seen, _ = parse_stream(first)
        processed_id = next(e.id for e in seen if e.event == "document_processed")

        communicator, _ = await self.open({"last_event_id": processed_id})
        events, _ = parse_stream(await self.read_to_end(communicator))

        self.assertEqual([e.json["doc"] for e in events if e.event == "document_processed"], [2, 3])
        self.assertEqual(len(self.provider.requests), 3)

    async def test_reconnecting_after_completion_gets_only_the_final_event_again(self):
        self.provider.responder = ScriptedPlans()
        communicator, _ = await self.open()
        events, _ = parse_stream(await self.read_to_end(communicator))
        completed = events[-1]
        self.provider.reset()

        communicator, start = await self.open(headers=[(b"last-event-id", events[2].id.encode())])
        again, _ = parse_stream(await self.read_to_end(communicator))

        self.assertEqual(start["status"], 200)
        self.assertEqual(
            [(e.event, e.id, e.json) for e in again], [("completed", completed.id, completed.json)]
        )
        self.assertEqual(self.provider.requests, [])
        self.assertEqual(await GenerationRun.objects.acount(), 1)

    async def test_attach_watches_the_live_run_and_a_plain_request_still_gets_409(self):
        self.provider.responder = ScriptedPlans(chunk_size=4, delay=0.03)
        communicator, _ = await self.open()
        first = await self.read_until(communicator, lambda text: "document_processed" in text)

        refused, start = await self.open()
        self.assertEqual(start["status"], 409)
        await refused.wait(timeout=5)
        second, start = await self.open({"attach": "1"})
        self.assertEqual(start["status"], 200)
        watched, _ = parse_stream(await self.read_to_end(second))
        rest, _ = parse_stream(await self.read_to_end(communicator, first))

        self.assertEqual(watched[0].event, "started")
        self.assertEqual(watched[0].json["run"], rest[0].json["run"])
        self.assertEqual(watched[1].json["plan"], WEEK_PLANS["week1.md"])  # the plan so far
        self.assertEqual(watched[-1].event, "completed")
        self.assertEqual(watched[-1].id, rest[-1].id)
        self.assertEqual(len(self.provider.requests), 3)

    async def test_attach_without_a_live_run_starts_one(self):
        self.provider.responder = ScriptedPlans()

        communicator, start = await self.open({"attach": "1"})
        events, _ = parse_stream(await self.read_to_end(communicator))

        self.assertEqual(start["status"], 200)
        self.assertEqual(events[0].event, "started")
        self.assertEqual(events[-1].event, "completed")


class ShutdownTests(AsgiStreamTestCase):
    async def test_server_shutdown_saves_progress_and_hands_the_claim_back(self):
        self.provider.responder = ScriptedPlans(chunk_size=4, delay=0.05)
        communicator, _ = await self.open()
        await self.read_until(communicator, inside_document_two)
        lifespan = ApplicationCommunicator(application, {"type": "lifespan"})
        await lifespan.send_input({"type": "lifespan.startup"})
        await lifespan.receive_output(timeout=5)

        await lifespan.send_input({"type": "lifespan.shutdown"})
        done = await lifespan.receive_output(timeout=10)

        self.assertEqual(done, {"type": "lifespan.shutdown.complete"})
        session = await self.refreshed()  # before the process would exit
        self.assertEqual(session.status, Status.UPLOADING)
        self.assertEqual(session.draft_plan, WEEK_PLANS["week1.md"])
        run = await GenerationRun.objects.aget(session=self.session)
        self.assertEqual(run.outcome, GenerationRun.Outcome.FAILED)
        self.assertEqual(run.error, "The worker shut down.")
        rest, _ = parse_stream(await self.read_to_end(communicator))
        self.assertEqual(rest[-1].event, "error")
        self.assertTrue(rest[-1].json["retryable"])


class FrozenClientTests(AsgiStreamTestCase):
    @override_settings(SSE_SEND_TIMEOUT=0.2)
    async def test_a_client_that_never_reads_is_detached_and_the_run_goes_on(self):
        """The server's sends block (a socket nobody reads): the watcher is detached after
        SSE_SEND_TIMEOUT, holding no more than a few events meanwhile, and the run finishes."""
        self.provider.responder = ScriptedPlans(chunk_size=4, delay=0.02)
        blocked = asyncio.Event()
        sent = []

        async def receive():
            await asyncio.Event().wait()  # the client never says anything more

        async def send(message):
            sent.append(message)
            if message["type"] == "http.response.body" and b"event: started" in message["body"]:
                blocked.set()
                await asyncio.Event().wait()  # this send never completes

        request = asyncio.ensure_future(application(self.scope(), self._body_then(receive), send))
        try:
            await asyncio.wait_for(blocked.wait(), 10)
            with self.assertLogs("plans.live", "WARNING") as logs:
                self.assertEqual(await self.status_within(30), Status.EDITING_PLAN)
        finally:
            request.cancel()
        self.assertIn("Detached a watcher", logs.output[0])
        self.assertIn("blocked for more than 0.2 s", logs.output[0])
        self.assertEqual(len(self.provider.requests), 3)

    @staticmethod
    def _body_then(receive):
        first = True

        async def wrapped():
            nonlocal first
            if first:
                first = False
                return {"type": "http.request", "body": b"", "more_body": False}
            return await receive()

        return wrapped
