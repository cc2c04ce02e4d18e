"""Every upstream fault of SPEC §12 through the whole generate-plan endpoint: success after a
retry or a repair, or a clear `error` event with the session back in UPLOADING — never a
stuck status, never a half-written plan saved as complete."""

import json
import socket

from django.test import override_settings

from sessions_app.models import GenerationRun, StudySession
from tests.fakes import Reply
from tests.plans_scripts import WEEK_PLANS, ScriptedPlans, document_in, plan_json
from tests.streams import read_all
from tests.test_generate_stream import StreamTestCase

Status = StudySession.Status
WEEK1 = plan_json(WEEK_PLANS["week1.md"])


class FaultTestCase(StreamTestCase):
    async def generate(self):
        events, _, _ = await read_all(await self.open_stream())
        return events

    async def assertSucceeded(self, events):
        self.assertEqual(events[-1].event, "completed", events[-1].data)
        self.assertEqual(events[-1].json["plan"], WEEK_PLANS["week3.md"])
        session = await self.refreshed()
        self.assertEqual(session.status, Status.EDITING_PLAN)
        self.assertEqual(session.draft_plan, WEEK_PLANS["week3.md"])

    async def assertFailedCleanly(self, events, message_part, *, kept_plan=(), retryable=True):
        """An error event, the session released, and only whole documents in the plan."""
        self.assertEqual(events[-1].event, "error", events[-1].data)
        self.assertIn(message_part, events[-1].json["message"])
        self.assertEqual(events[-1].json["retryable"], retryable)
        self.assertNotIn("completed", [e.event for e in events])
        session = await self.refreshed()
        self.assertEqual(session.status, Status.UPLOADING)
        self.assertIsNone(session.generation_token)
        self.assertEqual(session.draft_plan, list(kept_plan))
        run = await GenerationRun.objects.aget(session=self.session)
        self.assertEqual(run.outcome, GenerationRun.Outcome.FAILED)
        self.assertTrue(run.error)


class RetriedFaultTests(FaultTestCase):
    async def test_429_with_retry_after_is_retried(self):
        self.provider.enqueue(Reply.error(429, retry_after=1))
        self.provider.responder = ScriptedPlans()

        events = await self.generate()

        await self.assertSucceeded(events)
        self.assertEqual(len(self.provider.requests), 4)

    async def test_500_502_and_503_are_retried(self):
        for status in (500, 502, 503):
            with self.subTest(status=status):
                self.provider.reset()
                await StudySession.objects.filter(pk=self.session.pk).aupdate(
                    status=Status.UPLOADING, draft_plan=[], folded_document_ids=[]
                )
                await GenerationRun.objects.all().adelete()
                self.provider.enqueue(Reply.error(status))
                self.provider.responder = ScriptedPlans()

                await self.assertSucceeded(await self.generate())
                self.assertEqual(self.provider.requests[0].json, self.provider.requests[1].json)

    async def test_keepalive_comments_before_and_between_chunks_are_harmless(self):
        self.provider.responder = ScriptedPlans(keepalive=5, chunk_size=3)

        await self.assertSucceeded(await self.generate())

    @override_settings(AI_READ_TIMEOUT=0.3)
    async def test_a_stream_that_is_slow_but_steady_succeeds(self):
        self.provider.responder = ScriptedPlans(chunk_size=40, delay=0.1)

        await self.assertSucceeded(await self.generate())


class UnrecoverableFaultTests(FaultTestCase):
    @override_settings(AI_MAX_RETRIES=2)
    async def test_a_refused_connection_ends_in_an_error_event(self):
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            port = unused.getsockname()[1]  # nothing listens here once closed
        with override_settings(OPENROUTER_BASE_URL=f"http://127.0.0.1:{port}/api/v1"):
            events = await self.generate()

        await self.assertFailedCleanly(events, "Could not reach the AI service")

    @override_settings(AI_READ_TIMEOUT=0.2, AI_MAX_RETRIES=2)
    async def test_a_read_timeout_ends_in_an_error_event(self):
        self.provider.enqueue(Reply.stream(WEEK1))
        self.provider.responder = lambda request: Reply.hang()

        events = await self.generate()

        await self.assertFailedCleanly(
            events, "took too long to answer", kept_plan=WEEK_PLANS["week1.md"]
        )
        self.assertEqual(len(self.provider.requests), 3)  # week1, then week2 twice

    async def test_a_retryable_status_that_persists_ends_in_an_error_event(self):
        self.provider.responder = lambda request: Reply.error(503)

        await self.assertFailedCleanly(await self.generate(), "temporary problem")

    async def test_an_authentication_failure_is_not_retried(self):
        self.provider.responder = lambda request: Reply.error(401)

        events = await self.generate()

        await self.assertFailedCleanly(events, "rejected this site's credentials", retryable=False)
        self.assertEqual(len(self.provider.requests), 1)


class MidStreamFaultTests(FaultTestCase):
    async def test_an_error_chunk_after_content_reruns_the_document_once(self):
        for code in (502, "server_error"):
            with self.subTest(code=code):
                self.provider.reset()
                await StudySession.objects.filter(pk=self.session.pk).aupdate(
                    status=Status.UPLOADING, draft_plan=[], folded_document_ids=[]
                )
                await GenerationRun.objects.all().adelete()
                self.provider.enqueue(Reply.mid_stream_error(WEEK1[:30], code=code))
                self.provider.responder = ScriptedPlans()

                events = await self.generate()

                await self.assertSucceeded(events)
                self.assertEqual(
                    [document_in(r) for r in self.provider.requests],
                    ["week1.md", "week1.md", "week2.md", "week3.md"],
                )

    async def test_an_error_chunk_twice_in_a_row_ends_in_an_error_event(self):
        self.provider.enqueue(
            Reply.stream(WEEK1),
            Reply.mid_stream_error(WEEK1[:30], code=502),
            Reply.mid_stream_error(WEEK1[:30], code=502),
        )

        events = await self.generate()

        await self.assertFailedCleanly(
            events, "stopped with an error while answering", kept_plan=WEEK_PLANS["week1.md"]
        )
        processed = [e.json["doc"] for e in events if e.event == "document_processed"]
        self.assertEqual(processed, [1])  # document 2 never counted as done

    async def test_a_truncated_stream_reruns_the_document(self):
        self.provider.enqueue(Reply.truncated(WEEK1[:40]))
        self.provider.responder = ScriptedPlans()

        await self.assertSucceeded(await self.generate())
        self.assertEqual(len(self.provider.requests), 4)

    async def test_a_connection_dropped_mid_stream_reruns_the_document(self):
        self.provider.enqueue(Reply.truncated(WEEK1[:40], abort=True))
        self.provider.responder = ScriptedPlans()

        await self.assertSucceeded(await self.generate())


class OutputRepairTests(FaultTestCase):
    def answer_first_with(self, text: str, **options):
        scripted = ScriptedPlans()
        answered = set()

        def responder(request):
            name = document_in(request)
            if name == "week1.md" and name not in answered:
                answered.add(name)
                return Reply.answer(request, text, **options)
            return scripted(request)

        self.provider.responder = responder

    async def test_output_in_code_fences_is_recovered_without_a_repair(self):
        self.answer_first_with(f"Here is the plan:\n```json\n{WEEK1}\n```\nGood luck!")

        await self.assertSucceeded(await self.generate())
        self.assertEqual(len(self.provider.requests), 3)

    async def test_output_wrapped_in_prose_is_recovered(self):
        self.answer_first_with(f"Sure! {WEEK1} Let me know if you need more.")

        await self.assertSucceeded(await self.generate())
        self.assertEqual(len(self.provider.requests), 3)

    async def test_a_bare_array_is_accepted(self):
        self.answer_first_with(json.dumps(WEEK_PLANS["week1.md"]))

        await self.assertSucceeded(await self.generate())

    async def test_invalid_json_gets_one_repair_request(self):
        self.answer_first_with('{"topics": [{"title": "Limits", "subtopics": [}')

        events = await self.generate()

        await self.assertSucceeded(events)
        repair = self.provider.requests[1].user_prompt
        self.assertIn("could not be used", repair)
        self.assertIn('{"topics": [{"title": "Limits", "subtopics": [}', repair)

    async def test_schema_invalid_json_gets_one_repair_request_with_the_reasons(self):
        self.answer_first_with(json.dumps({"topics": [{"title": 42}, {"title": "x" * 300}]}))

        events = await self.generate()

        await self.assertSucceeded(events)
        repair = self.provider.requests[1].user_prompt
        self.assertIn("Topic 1: the title must be text", repair)
        self.assertIn("Topic 2: the title is 300 characters long", repair)

    async def test_finish_reason_length_gets_one_repair_request(self):
        self.answer_first_with(WEEK1[:50], finish_reason="length")

        await self.assertSucceeded(await self.generate())
        repair = self.provider.requests[1].user_prompt
        self.assertIn("cut off", repair)
        self.assertIn("keeping every existing topic", repair)

    async def test_an_answer_that_stays_unusable_after_the_repair_ends_in_an_error_event(self):
        self.provider.enqueue(Reply.stream(WEEK1))
        self.provider.responder = lambda request: Reply.answer(request, "I cannot help with that.")

        events = await self.generate()

        await self.assertFailedCleanly(
            events, "could not be turned into a study plan", kept_plan=WEEK_PLANS["week1.md"]
        )
        self.assertEqual(len(self.provider.requests), 3)  # week1, week2, its one repair
