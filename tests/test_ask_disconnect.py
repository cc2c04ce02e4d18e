"""A learner who leaves while the answer is being written (SPEC §15), through the real ASGI
application: the upstream request is closed within a second and the question is kept as
cancelled."""

import asyncio
import time

from asgiref.testing import ApplicationCommunicator
from django.test import override_settings

from questions.models import Question
from studyplanner.asgi import application
from tests.ask_fixture import CONTAINERS
from tests.ask_support import add_document
from tests.base import AppTransactionTestCase
from tests.fakes import FakeProviderMixin, Reply
from tests.streams import http_scope


@override_settings(QUESTION_BUILDER="openrouter")
class AskDisconnectTests(FakeProviderMixin, AppTransactionTestCase):
    def setUp(self):
        super().setUp()
        self.session = self.make_session()
        add_document(self.session, "containers.md", CONTAINERS)
        self.client.force_login(self.owner)
        self.cookie = f"sessionid={self.client.cookies['sessionid'].value}".encode()

    def ask_request(self, question: str) -> ApplicationCommunicator:
        scope = http_scope(
            f"/sessions/{self.session.pk}/ask",
            query={"q": question},
            headers=[(b"accept", b"text/event-stream"), (b"cookie", self.cookie)],
        )
        return ApplicationCommunicator(application, scope)

    async def read_until(self, communicator, marker: str) -> str:
        text = ""
        while marker not in text:
            message = await communicator.receive_output(timeout=10)
            self.assertEqual(message["type"], "http.response.body")
            text += message["body"].decode()
        return text

    async def test_leaving_in_the_middle_of_the_answer_closes_upstream_within_a_second(self):
        long_answer = "Images are read-only templates [1]. " * 200
        self.provider.enqueue(Reply.stream(long_answer, chunk_size=4, delay=0.02))
        communicator = self.ask_request("What is an image?")
        await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await communicator.receive_output(timeout=10)
        self.assertEqual(start["status"], 200)
        await self.read_until(communicator, "event: token")
        [upstream] = await asyncio.to_thread(self.provider.wait_for_requests, 1)
        self.assertFalse(upstream.completed.is_set())

        left_at = time.monotonic()
        await communicator.send_input({"type": "http.disconnect"})
        self.assertTrue(await self.wait_for(upstream.disconnected, within=1))
        self.assertLess(upstream.disconnected_at - left_at, 1.0)
        await communicator.wait(timeout=5)

        question = await Question.objects.aget(session=self.session)
        self.assertEqual(question.outcome, Question.Outcome.CANCELLED)
        self.assertIsNotNone(question.finished_at)

    async def test_leaving_while_the_model_has_not_answered_yet_closes_upstream(self):
        self.provider.enqueue(Reply.stream("Late [1].", latency=30))
        communicator = self.ask_request("What is an image?")
        await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
        await communicator.receive_output(timeout=10)
        await self.read_until(communicator, "event: sources")
        [upstream] = await asyncio.to_thread(self.provider.wait_for_requests, 1)

        await communicator.send_input({"type": "http.disconnect"})

        self.assertTrue(await self.wait_for(upstream.disconnected, within=1))
        await communicator.wait(timeout=5)
        question = await Question.objects.aget(session=self.session)
        self.assertEqual(question.outcome, Question.Outcome.CANCELLED)
