"""Answers written by a model (SPEC §15) against the fake provider, a real HTTP server that
speaks OpenRouter's streaming format: the prompt, the live tokens, citation markers that
point nowhere, tokens recorded, upstream faults (the daily quota: test_question_quota.py)."""

import asyncio
from decimal import Decimal

from django.test import override_settings

from questions.models import Question
from tests.ask_support import AskTestCase
from tests.fakes import FakeProviderMixin, Reply
from tests.fakes.provider import DEFAULT_USAGE
from tests.streams import read_all

ANSWER = "An image is a read-only template [2], unlike a container [7][1]; see [2, 9]."


class ModelAskTestCase(FakeProviderMixin, AskTestCase):
    builder = "openrouter"


class ModelAnswerTests(ModelAskTestCase):
    async def test_tokens_stream_through_with_citations_that_point_to_sources(self):
        self.provider.enqueue(Reply.stream(ANSWER, chunk_size=3, keepalive=2))
        response = await self.ask_stream("What is the difference between a container and an image?")
        events, _, _ = await read_all(response)

        names = [e.event for e in events]
        self.assertEqual(names[:3], ["status", "sources", "status"])
        self.assertEqual(names[-1], "done")
        self.assertGreater(names.count("token"), 5)  # piece by piece, as the model wrote
        tokens = "".join(e.json["text"] for e in events if e.event == "token")
        self.assertNotIn("[7]", tokens)
        self.assertNotIn("9]", tokens)
        expected = "An image is a read-only template [2], unlike a container [1]; see [2]."
        self.assertEqual(tokens, expected)
        done = events[-1].json
        self.assertEqual(done["answer"], expected)
        self.assertEqual(done["citations"], [2, 1])

    async def test_sources_arrive_before_the_model_is_even_asked(self):
        self.provider.enqueue(Reply.stream(ANSWER, latency=0.2))
        response = await self.ask_stream("What is an image?")
        chunks = aiter(response.streaming_content)
        text = ""
        while "event: sources" not in text:
            text += (await anext(chunks)).decode()
        self.assertNotIn("event: token", text)
        self.assertFalse(any(r.completed.is_set() for r in self.provider.requests))
        async for chunk in chunks:
            text += chunk.decode()
        self.assertLess(text.index("event: sources"), text.index("event: token"))

    async def test_the_prompt_holds_only_the_numbered_passages_and_the_session_language(self):
        self.session.language = "de"
        await self.session.asave()
        self.provider.enqueue(Reply.stream("Weiß ich nicht."))
        response = await self.ask_stream("What does an inode store?")
        events, _, _ = await read_all(response)
        request = self.provider.requests[0]
        self.assertEqual(request.model, "openai/gpt-4o-mini")
        self.assertIn("ONLY the numbered passages", request.system_prompt)
        self.assertIn("don't know", request.system_prompt)
        self.assertIn("Deutsch", request.system_prompt)
        sources = events[1].json["sources"]
        for source in sources:
            self.assertIn(f"[{source['n']}] ({source['name']}", request.user_prompt)
        self.assertIn("An inode stores a file's metadata", request.user_prompt)
        self.assertNotIn("Mitochondria", request.user_prompt)  # not retrieved, not sent
        self.assertTrue(request.user_prompt.endswith("Question: What does an inode store?"))

    async def test_tokens_model_and_cost_are_recorded(self):
        self.provider.enqueue(Reply.stream("Inodes store metadata [1]."))
        events, _, _ = await read_all(await self.ask_stream("What does an inode store?"))
        question = await Question.objects.aget(pk=events[-1].json["question"])
        self.assertEqual(question.builder, "openrouter")
        self.assertEqual(question.model, "fake/model-1")
        self.assertEqual(question.prompt_tokens, DEFAULT_USAGE["prompt_tokens"])
        self.assertEqual(question.completion_tokens, DEFAULT_USAGE["completion_tokens"])
        self.assertEqual(question.cost, Decimal("0.000210"))
        self.assertEqual(question.outcome, Question.Outcome.SUCCEEDED)

    @override_settings(SSE_PING_INTERVAL=0.05)
    async def test_a_slow_model_gets_keep_alive_comments_to_the_client(self):
        self.provider.enqueue(Reply.stream("Slow [1].", latency=0.4))
        events, comments, _ = await read_all(await self.ask_stream("What does an inode store?"))
        self.assertIn("ping", comments)
        self.assertEqual(events[-1].json["answer"], "Slow [1].")

    async def test_no_matching_passage_means_no_model_call(self):
        events, _, _ = await read_all(await self.ask_stream("Zyxwv qwerty?"))
        self.assertEqual(self.provider.requests, [])
        self.assertIn("couldn't find", events[-1].json["answer"])


class IndependenceTests(ModelAskTestCase):
    async def test_two_questions_in_one_session_stream_at_the_same_time(self):
        self.provider.responder = lambda request: Reply.stream(
            "Inodes [1]." if "inode" in request.user_prompt else "Quanta [1].",
            chunk_size=2,
            delay=0.01,
        )

        async def ask(question):
            return (await read_all(await self.ask_stream(question)))[0][-1].json

        first, second = await asyncio.gather(
            ask("What does an inode store?"), ask("What is a quantum in round robin?")
        )
        self.assertEqual((first["answer"], second["answer"]), ("Inodes [1].", "Quanta [1]."))
        self.assertEqual(len(self.provider.requests), 2)


class ModelFaultTests(ModelAskTestCase):
    async def test_a_provider_that_keeps_failing_ends_in_a_retryable_error_event(self):
        self.provider.enqueue(*[Reply.error(503)] * 5)
        events, _, _ = await read_all(await self.ask_stream("What does an inode store?"))
        self.assertEqual([e.event for e in events][-1], "error")
        self.assertTrue(events[-1].json["retryable"])
        self.assertNotIn("token", [e.event for e in events])
        self.assertGreater(len(self.provider.requests), 1)  # the client retried
        question = (await self.questions())[0]
        self.assertEqual(question.outcome, Question.Outcome.FAILED)

    async def test_a_rejected_key_is_not_retried_and_not_retryable(self):
        self.provider.enqueue(Reply.error(401))
        events, _, _ = await read_all(await self.ask_stream("What does an inode store?"))
        self.assertEqual(events[-1].event, "error")
        self.assertFalse(events[-1].json["retryable"])
        self.assertEqual(len(self.provider.requests), 1)

    async def test_an_error_in_the_middle_of_the_answer_ends_with_error_after_its_tokens(self):
        self.provider.enqueue(Reply.mid_stream_error("Inodes store ", code=502))
        events, _, _ = await read_all(await self.ask_stream("What does an inode store?"))
        names = [e.event for e in events]
        self.assertIn("token", names)
        self.assertEqual(names[-1], "error")


class BuilderChoiceTests(ModelAskTestCase):
    @override_settings(QUESTION_BUILDER="auto", OPENROUTER_API_KEY="")
    async def test_auto_without_a_key_answers_offline(self):
        events, _, _ = await read_all(await self.ask_stream("What does an inode store?"))
        self.assertEqual(self.provider.requests, [])
        self.assertEqual(events[-1].event, "done")

    @override_settings(QUESTION_BUILDER="auto")
    async def test_auto_with_a_key_asks_the_model(self):
        self.provider.enqueue(Reply.stream("From the model [1]."))
        events, _, _ = await read_all(await self.ask_stream("What does an inode store?"))
        self.assertEqual(len(self.provider.requests), 1)
        self.assertEqual(events[-1].json["answer"], "From the model [1].")
