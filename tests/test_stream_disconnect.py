"""A client that goes away in the middle of a generation (SPEC §7, §12), through the real
ASGI application: the upstream request is closed within a second, the session is released
with its progress, and the next run resumes."""

import asyncio
import time
from datetime import timedelta

from asgiref.testing import ApplicationCommunicator
from django.test import override_settings
from django.utils import timezone

from plans.builders import select_builder
from plans.generation import build_plan
from plans.stream import GenerationStream
from sessions_app.models import GenerationRun, StudySession
from studyplanner.asgi import application
from tests.base import AppTransactionTestCase
from tests.fakes import FakeProviderMixin
from tests.plans_scripts import WEEK_PLANS, ScriptedPlans, document_in
from tests.streams import parse_stream


@override_settings(PLAN_BUILDER="openrouter")
class ClientDisconnectTests(FakeProviderMixin, AppTransactionTestCase):
    def setUp(self):
        super().setUp()
        self.session = self.make_session()
        self.documents = [
            self.make_document(self.session, name=name, text=f"Notes of {name}.")
            for name in ("week1.md", "week2.md", "week3.md")
        ]
        self.client.force_login(self.owner)
        self.cookie = f"sessionid={self.client.cookies['sessionid'].value}".encode()

    def stream_request(self) -> ApplicationCommunicator:
        path = f"/sessions/{self.session.pk}/generate-plan"
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"testserver"),
                (b"accept", b"text/event-stream"),
                (b"cookie", self.cookie),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        return ApplicationCommunicator(application, scope)

    async def read_until(self, communicator, predicate) -> str:
        """Body text received until `predicate(text)` holds."""
        text = ""
        while not predicate(text):
            message = await communicator.receive_output(timeout=10)
            self.assertEqual(message["type"], "http.response.body")
            text += message["body"].decode()
        return text

    async def test_disconnect_in_document_two_closes_upstream_releases_and_resumes(self):
        slow = ScriptedPlans(chunk_size=4, delay=0.05)  # week2 takes seconds to stream
        self.provider.responder = slow
        communicator = self.stream_request()
        await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await communicator.receive_output(timeout=10)
        self.assertEqual(start["status"], 200)

        def inside_document_two(text: str) -> bool:
            events, _ = parse_stream(text)
            return any(
                e.event == "progress"
                and e.json["doc"] == 2
                and e.json["plan"] != WEEK_PLANS["week1.md"]
                for e in events
            )

        received = await self.read_until(communicator, inside_document_two)
        upstream = self.provider.requests[1]
        self.assertEqual(document_in(upstream), "week2.md")
        self.assertFalse(upstream.completed.is_set())

        disconnected_at = time.monotonic()
        await communicator.send_input({"type": "http.disconnect"})
        self.assertTrue(await self.wait_for(upstream.disconnected, within=1))
        self.assertLess(upstream.disconnected_at - disconnected_at, 1.0)
        await communicator.wait(timeout=5)

        session = await StudySession.objects.aget(pk=self.session.pk)
        self.assertEqual(session.status, StudySession.Status.UPLOADING)
        self.assertEqual(session.draft_plan, WEEK_PLANS["week1.md"])
        self.assertEqual(session.folded_document_ids, [str(self.documents[0].pk)])
        run = await GenerationRun.objects.aget(session=self.session)
        self.assertEqual(run.outcome, GenerationRun.Outcome.CANCELLED)
        self.assertIn("disconnected", run.error)
        self.assertIn("document_processed", received)

        # The next run sends only documents 2 and 3 to the model.
        self.provider.reset()
        self.provider.responder = ScriptedPlans()
        communicator = self.stream_request()
        await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
        await communicator.receive_output(timeout=10)
        body = await self.read_until(communicator, lambda text: "event: completed" in text)
        await communicator.wait(timeout=5)

        events, _ = parse_stream(body)
        self.assertEqual(events[0].json["resumed_from"], 1)
        self.assertEqual([document_in(r) for r in self.provider.requests], ["week2.md", "week3.md"])
        session = await StudySession.objects.aget(pk=self.session.pk)
        self.assertEqual(session.status, StudySession.Status.EDITING_PLAN)
        self.assertEqual(session.draft_plan, WEEK_PLANS["week3.md"])

    async def test_disconnect_while_waiting_for_the_first_token_still_releases(self):
        self.provider.responder = ScriptedPlans(latency=30)
        communicator = self.stream_request()
        await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
        await communicator.receive_output(timeout=10)
        await self.read_until(communicator, lambda text: "event: started" in text)
        [upstream] = await asyncio.to_thread(self.provider.wait_for_requests, 1)

        await communicator.send_input({"type": "http.disconnect"})

        self.assertTrue(await self.wait_for(upstream.disconnected, within=1))
        await communicator.wait(timeout=5)
        session = await StudySession.objects.aget(pk=self.session.pk)
        self.assertEqual(session.status, StudySession.Status.UPLOADING)


@override_settings(PLAN_BUILDER="openrouter")
class EarlyDisconnectTests(FakeProviderMixin, AppTransactionTestCase):
    """A client gone before the stream was read: the claim must not outlive the request."""

    def setUp(self):
        super().setUp()
        self.session = self.make_session()
        self.make_document(self.session, name="week1.md")
        self.provider.responder = ScriptedPlans(latency=5)
        self.client.force_login(self.owner)
        self.cookie = f"sessionid={self.client.cookies['sessionid'].value}".encode()

    async def status_within(self, seconds: float) -> str:
        """The session's status once it left GENERATING_PLAN, or after `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            session = await StudySession.objects.aget(pk=self.session.pk)
            if session.status != StudySession.Status.GENERATING_PLAN or time.monotonic() > deadline:
                return session.status
            await asyncio.sleep(0.02)  # polling a condition, with a deadline

    async def test_an_unread_body_gives_the_claim_back_when_django_closes_it(self):
        await self.session.aclaim_for_generation()
        builder = select_builder()
        stream = GenerationStream(
            self.session, build_plan(self.session, builder=builder), html=False
        )

        # Django closes the response from a worker thread, the body never read.
        done = await asyncio.to_thread(stream.close)
        await asyncio.wrap_future(done)

        session = await StudySession.objects.aget(pk=self.session.pk)
        self.assertEqual(session.status, StudySession.Status.UPLOADING)
        self.assertFalse(await GenerationRun.objects.filter(session=self.session).aexists())

    async def test_cancel_ends_a_generation_whose_worker_is_gone(self):
        await self.session.aclaim_for_generation()  # and then the worker died
        await StudySession.objects.filter(pk=self.session.pk).aupdate(
            generation_heartbeat_at=timezone.now() - timedelta(seconds=30)
        )
        await self.async_client.aforce_login(self.owner)

        response = await self.async_client.post(
            f"/sessions/{self.session.pk}/cancel-generation", headers={"accept": "application/json"}
        )

        self.assertEqual(response.json(), {"status": "cancelled"})
        session = await StudySession.objects.aget(pk=self.session.pk)
        self.assertEqual(session.status, StudySession.Status.UPLOADING)

    async def test_a_response_django_dropped_without_closing_ends_its_claim(self):
        await self.session.aclaim_for_generation()
        builder = select_builder()
        GenerationStream(
            self.session, build_plan(self.session, builder=builder), html=False, unread_grace=0.05
        )  # never read, never closed: the client left while middleware still ran

        self.assertEqual(await self.status_within(2), StudySession.Status.UPLOADING)
