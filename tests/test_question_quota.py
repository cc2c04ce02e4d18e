"""The daily AI quota on questions (SPEC §16): only answers the model writes count, the
refusal is a 429 before any stream, and an answer the model never wrote gives its unit back.
Against the fake provider (a real HTTP server speaking OpenRouter's format)."""

import json

from django.test import override_settings
from django.utils import timezone

from quotas.models import Kind, QuotaUsage
from quotas.service import consume
from studyplanner.db import run_db
from tests.ask_support import AskTestCase
from tests.fakes import FakeProviderMixin, Reply
from tests.streams import read_all

QUESTION = "What does an inode store?"


def used_today(user) -> int:
    row = QuotaUsage.objects.filter(user=user, kind=Kind.QUESTION, day=timezone.now().date())
    return row.values_list("used", flat=True).first() or 0


@override_settings(QUOTA_AI_QUESTIONS_PER_DAY=2)
class QuestionQuotaTests(FakeProviderMixin, AskTestCase):
    builder = "openrouter"

    async def used(self) -> int:
        return await run_db(used_today, self.owner)

    async def test_an_answer_from_the_model_takes_one_unit(self):
        self.provider.enqueue(Reply.stream("Inodes store metadata [1]."))
        events, _, _ = await read_all(await self.ask_stream(QUESTION))
        self.assertEqual(events[-1].event, "done")
        self.assertEqual(await self.used(), 1)

    @override_settings(QUESTION_BUILDER="offline")
    async def test_offline_answers_never_count(self):
        for _ in range(3):
            events, _, _ = await read_all(await self.ask_stream(QUESTION))
            self.assertEqual(events[-1].event, "done")
        self.assertEqual(await self.used(), 0)

    async def test_a_spent_quota_is_a_429_before_any_stream_and_no_model_call(self):
        await run_db(consume, self.owner, Kind.QUESTION)
        await run_db(consume, self.owner, Kind.QUESTION)

        response = await self.ask_stream(QUESTION)

        self.assertEqual(response.status_code, 429)
        body = json.loads(response.content)
        self.assertEqual((body["limit"], body["used"]), (2, 2))
        self.assertEqual(int(response["Retry-After"]), body["retry_after"])
        self.assertIn("used all 2 AI answers", body["error"])
        self.assertEqual(self.provider.requests, [])
        self.assertEqual(await self.questions(), [])

    async def test_the_ask_box_says_so_at_once_when_the_quota_is_spent(self):
        await run_db(consume, self.owner, Kind.QUESTION)
        await run_db(consume, self.owner, Kind.QUESTION)
        await self.async_client.aforce_login(self.owner)

        response = await self.async_client.post(
            self.url, {"question": QUESTION}, headers={"hx-request": "true"}
        )

        self.assertContains(response, "You have used all 2 AI answers for today")
        self.assertNotContains(response, "sse-connect")

    async def test_a_model_failure_before_any_token_gives_the_unit_back(self):
        self.provider.responder = lambda request: Reply.error(400, message="bad request")
        events, _, _ = await read_all(await self.ask_stream(QUESTION))
        self.assertEqual(events[-1].event, "error")
        self.assertEqual(await self.used(), 0)

    async def test_a_failure_after_tokens_keeps_the_unit(self):
        self.provider.enqueue(Reply.mid_stream_error("Inodes store ", code=502))
        events, _, _ = await read_all(await self.ask_stream(QUESTION))
        self.assertIn("token", [e.event for e in events])
        self.assertEqual(events[-1].event, "error")
        self.assertEqual(await self.used(), 1)

    async def test_no_passage_found_means_no_model_call_and_no_unit(self):
        events, _, _ = await read_all(await self.ask_stream("zzyzx qwertyuiop"))
        self.assertEqual(events[-1].event, "done")
        self.assertEqual(self.provider.requests, [])
        self.assertEqual(await self.used(), 0)

    async def test_a_finished_question_logs_one_line_without_its_text(self):
        self.provider.enqueue(Reply.stream("Inodes store metadata [1]."))
        with self.assertLogs("studyplanner.finished", "INFO") as logs:
            await read_all(await self.ask_stream(QUESTION))
        [line] = logs.output
        self.assertNotIn("inode", line.lower())
        fields = json.loads(line.split("finished ", 1)[1])
        self.assertEqual(fields["event"], "question_finished")
        self.assertEqual((fields["outcome"], fields["builder"]), ("succeeded", "openrouter"))
        self.assertEqual(fields["session_id"], str(self.session.pk))
        self.assertGreaterEqual(fields["documents"], 1)
        self.assertIsNotNone(fields["duration_s"])


@override_settings(METRICS_TOKEN="t0ken", PROMETHEUS_MULTIPROC_DIR="")
class QuestionMetricsTests(FakeProviderMixin, AskTestCase):
    builder = "openrouter"

    async def scrape(self) -> dict:
        from tests.test_metrics import samples

        response = await self.async_client.get(
            "/metrics", headers={"authorization": "Bearer t0ken"}
        )
        return samples(response.content.decode())

    async def test_an_answer_is_counted_and_its_stream_was_open_meanwhile(self):
        from tests.test_metrics import value

        self.provider.enqueue(Reply.stream("Inodes store metadata [1]."))
        finished = {
            "name": "studyplanner_finished_total",
            "kind": "question",
            "outcome": "succeeded",
            "builder": "openrouter",
        }
        gauge = {"name": "studyplanner_open_streams", "kind": "question"}
        before = await self.scrape()

        response = await self.ask_stream(QUESTION)
        chunks = aiter(response.streaming_content)
        await anext(chunks)
        during = await self.scrape()
        async for _ in chunks:
            pass
        after = await self.scrape()

        self.assertEqual(value(during, **gauge) - value(before, **gauge), 1)
        self.assertEqual(value(after, **gauge), value(before, **gauge))
        self.assertEqual(value(after, **finished) - value(before, **finished), 1)
