"""The AI client against the fake provider: the wire format, settings, cancellation and
timeouts. Faults and retries are in test_ai_faults.py."""

import asyncio
import json
import time

from django.test import SimpleTestCase, override_settings

from ai import (
    AIClient,
    AITimeoutError,
    close_clients,
    generate_text,
    generate_text_stream,
    get_client,
)
from tests.fakes import DONE, FAKE_API_KEY, KEEPALIVE, FakeProviderMixin, Reply, completion_chunk

AWKWARD_TEXT = 'Plan: "Limites" — é, 中文, 🙂 and\nnew lines'
USAGE = {"prompt_tokens": 101, "completion_tokens": 202, "total_tokens": 303, "cost": 0.0042}


async def read_all(stream) -> list[str]:
    async with stream:
        return [piece async for piece in stream]


class StreamingTests(FakeProviderMixin, SimpleTestCase):
    async def test_stream_yields_the_text_in_pieces_and_records_the_completion(self):
        self.provider.enqueue(Reply.stream(AWKWARD_TEXT, chunk_size=5, model="acme/m-1"))

        stream = AIClient().stream("system", "user", model="acme/m")
        pieces = await read_all(stream)

        self.assertEqual("".join(pieces), AWKWARD_TEXT)
        self.assertGreater(len(pieces), 5)
        completion = stream.completion
        self.assertEqual(completion.text, AWKWARD_TEXT)
        self.assertEqual(completion.model, "acme/m-1")
        self.assertEqual(completion.finish_reason, "stop")
        self.assertEqual((completion.prompt_tokens, completion.completion_tokens), (12, 34))
        self.assertEqual(completion.cost, 0.00021)

    async def test_usage_in_a_final_chunk_with_empty_choices_is_captured(self):
        self.provider.enqueue(Reply.stream("Answer", usage=USAGE))

        stream = AIClient().stream("s", "u", model="m")
        await read_all(stream)

        self.assertEqual(stream.completion.prompt_tokens, 101)
        self.assertEqual(stream.completion.completion_tokens, 202)
        self.assertEqual(stream.completion.cost, 0.0042)

    async def test_usage_on_the_last_content_chunk_is_captured(self):
        self.provider.enqueue(Reply.stream("Answer", usage=USAGE, usage_in_last_chunk=True))

        stream = AIClient().stream("s", "u", model="m")
        pieces = await read_all(stream)

        self.assertEqual("".join(pieces), "Answer")
        self.assertEqual(stream.completion.finish_reason, "stop")
        self.assertEqual(stream.completion.prompt_tokens, 101)
        self.assertEqual(stream.completion.cost, 0.0042)

    async def test_a_stream_without_usage_has_none(self):
        self.provider.enqueue(Reply.stream("Answer", usage=None))

        stream = AIClient().stream("s", "u", model="m")
        await read_all(stream)

        self.assertEqual(stream.completion.text, "Answer")
        self.assertIsNone(stream.completion.prompt_tokens)
        self.assertIsNone(stream.completion.cost)

    async def test_reasoning_is_not_part_of_the_content(self):
        self.provider.enqueue(Reply.stream("The answer.", reasoning="First, let me think..."))

        stream = AIClient().stream("s", "u", model="m")
        pieces = await read_all(stream)

        self.assertEqual("".join(pieces), "The answer.")
        self.assertEqual(stream.completion.text, "The answer.")

    async def test_keepalive_comments_between_chunks_are_ignored(self):
        self.provider.enqueue(
            Reply.sse(
                [
                    KEEPALIVE,
                    completion_chunk("Hello"),
                    KEEPALIVE,
                    ": another comment\n\n",
                    completion_chunk(", world", finish_reason="stop"),
                    KEEPALIVE,
                    DONE,
                ]
            )
        )

        pieces = await read_all(AIClient().stream("s", "u", model="m"))

        self.assertEqual(pieces, ["Hello", ", world"])

    async def test_the_stream_stops_at_done(self):
        self.provider.enqueue(
            Reply.sse(
                [
                    completion_chunk("Kept", finish_reason="stop"),
                    DONE,
                    completion_chunk(" and not this"),
                ]
            )
        )

        stream = AIClient().stream("s", "u", model="m")
        pieces = await read_all(stream)

        self.assertEqual(pieces, ["Kept"])
        self.assertEqual(stream.completion.text, "Kept")

    async def test_an_empty_answer_is_an_empty_stream(self):
        self.provider.enqueue(Reply.stream(""))

        stream = AIClient().stream("s", "u", model="m")
        pieces = await read_all(stream)

        self.assertEqual(pieces, [])
        self.assertEqual(stream.completion.text, "")

    async def test_a_byte_stream_cut_into_single_bytes_gives_the_original_text(self):
        for newline in ("\n", "\r\n"):
            with self.subTest(newline=newline):
                self.provider.enqueue(
                    Reply.stream(AWKWARD_TEXT, chunk_size=3, split_bytes=1, newline=newline)
                )

                pieces = await read_all(AIClient().stream("s", "u", model="m"))

                self.assertEqual("".join(pieces), AWKWARD_TEXT)

    async def test_a_byte_stream_cut_at_any_single_position_gives_the_original_text(self):
        # Each position in turn: inside "data:", inside the JSON, inside each multi-byte
        # character (é is 2 bytes, 中 3, 🙂 4), between the \r and \n of a line end, in [DONE].
        events = [
            KEEPALIVE,
            {"choices": [{"delta": {"content": "é中"}}]},
            {"choices": [{"delta": {"content": "🙂\n"}, "finish_reason": "stop"}]},
            DONE,
        ]
        body = b"".join(Reply.sse(events, newline="\r\n").parts)
        client = AIClient()

        for offset in range(1, len(body)):
            self.provider.enqueue(Reply.sse(events, newline="\r\n", split_bytes=[offset]))
            pieces = await read_all(client.stream("s", "u", model="m"))
            self.assertEqual("".join(pieces), "é中🙂\n", f"split at byte {offset}")

        self.assertEqual(len(self.provider.requests), len(body) - 1)
        self.assertEqual(len(self.provider.requests[0].reply.parts), 2)

    async def test_sequential_streams_reuse_one_connection(self):
        self.provider.enqueue(Reply.stream("one"), Reply.stream("two"))
        client = AIClient()

        await read_all(client.stream("s", "u", model="m"))
        await read_all(client.stream("s", "u", model="m"))

        first, second = self.provider.requests
        self.assertEqual(first.connection, second.connection)

    async def test_close_clients_closes_the_shared_connections(self):
        self.provider.enqueue(Reply.stream("one"), Reply.stream("two"))
        client = AIClient()

        await read_all(client.stream("s", "u", model="m"))
        await close_clients()
        await read_all(client.stream("s", "u", model="m"))

        first, second = self.provider.requests
        self.assertNotEqual(first.connection, second.connection)


class CompletionTests(FakeProviderMixin, SimpleTestCase):
    async def test_complete_returns_the_text_and_usage(self):
        self.provider.enqueue(Reply.completion(AWKWARD_TEXT, model="acme/m-2", usage=USAGE))

        completion = await AIClient().complete("s", "u", model="acme/m")

        self.assertEqual(completion.text, AWKWARD_TEXT)
        self.assertEqual(completion.model, "acme/m-2")
        self.assertEqual(completion.finish_reason, "stop")
        self.assertEqual((completion.prompt_tokens, completion.completion_tokens), (101, 202))
        self.assertEqual(completion.cost, 0.0042)

    async def test_a_non_streamed_request_asks_for_json(self):
        self.provider.enqueue(Reply.completion("ok"))

        await AIClient().complete("s", "u", model="m")

        request = self.provider.requests[0]
        self.assertNotIn("stream", request.json)
        self.assertEqual(request.headers["accept"], "application/json")


class RequestTests(FakeProviderMixin, SimpleTestCase):
    async def test_the_request_carries_the_model_messages_and_options(self):
        schema = {"type": "json_schema", "json_schema": {"name": "plan", "schema": {}}}

        await read_all(
            AIClient().stream(
                "You plan studies.",
                "Here is a document.",
                model="acme/planner",
                response_format=schema,
                extra_body={"provider": {"require_parameters": True}},
                temperature=0.2,
                max_tokens=900,
            )
        )

        request = self.provider.requests[0]
        self.assertEqual((request.method, request.path), ("POST", "/api/v1/chat/completions"))
        self.assertEqual(
            request.json,
            {
                "model": "acme/planner",
                "messages": [
                    {"role": "system", "content": "You plan studies."},
                    {"role": "user", "content": "Here is a document."},
                ],
                "response_format": schema,
                "provider": {"require_parameters": True},
                "temperature": 0.2,
                "max_tokens": 900,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        )

    @override_settings(AI_APP_URL="https://planner.example", AI_APP_TITLE="Study Planner")
    async def test_the_headers_carry_the_key_and_identify_the_app(self):
        await read_all(AIClient().stream("s", "u", model="m"))

        headers = self.provider.requests[0].headers
        self.assertEqual(headers["authorization"], f"Bearer {FAKE_API_KEY}")
        self.assertEqual(headers["http-referer"], "https://planner.example")
        self.assertEqual(headers["x-openrouter-title"], "Study Planner")
        self.assertEqual(headers["x-title"], "Study Planner")
        self.assertEqual(headers["accept"], "text/event-stream")
        self.assertEqual(headers["content-type"], "application/json")

    async def test_without_a_key_no_authorization_header_is_sent(self):
        with self.settings(OPENROUTER_API_KEY=""):
            await read_all(AIClient().stream("s", "u", model="m"))

        self.assertNotIn("authorization", self.provider.requests[0].headers)

    async def test_arguments_take_precedence_over_settings(self):
        await read_all(AIClient(api_key="sk-explicit").stream("s", "u", model="m"))

        self.assertEqual(self.provider.requests[0].headers["authorization"], "Bearer sk-explicit")

    async def test_generate_text_uses_the_settings(self):
        self.provider.enqueue(Reply.completion("Whole answer"))

        with self.settings(OPENROUTER_API_KEY="sk-from-settings"):
            text = await generate_text("System", "User", "acme/chat")

        self.assertEqual(text, "Whole answer")
        request = self.provider.requests[0]
        self.assertEqual(request.headers["authorization"], "Bearer sk-from-settings")
        self.assertEqual(request.model, "acme/chat")
        self.assertEqual((request.system_prompt, request.user_prompt), ("System", "User"))

    async def test_generate_text_stream_uses_the_settings_at_call_time(self):
        self.provider.enqueue(Reply.stream("first"), Reply.stream("second"))

        with self.settings(OPENROUTER_API_KEY="sk-one"):
            first = await read_all(generate_text_stream("s", "u", "acme/plan"))
        with self.settings(OPENROUTER_API_KEY="sk-two"):
            second = await read_all(generate_text_stream("s", "u", "acme/plan"))

        self.assertEqual(("".join(first), "".join(second)), ("first", "second"))
        keys = [request.headers["authorization"] for request in self.provider.requests]
        self.assertEqual(keys, ["Bearer sk-one", "Bearer sk-two"])
        self.assertIs(get_client(), get_client())

    async def test_options_reach_the_request_through_generate_text(self):
        self.provider.enqueue(Reply.completion(json.dumps({"topics": []})))

        await generate_text("s", "u", "acme/plan", response_format={"type": "json_object"})

        self.assertEqual(self.provider.requests[0].json["response_format"], {"type": "json_object"})


class ConnectionTests(FakeProviderMixin, SimpleTestCase):
    async def test_cancelling_the_consumer_closes_the_upstream_connection(self):
        self.provider.enqueue(Reply.stream("x" * 200, chunk_size=1, delay=0.05))
        first_piece = asyncio.Event()

        async def consume():
            async for _piece in AIClient().stream("s", "u", model="m"):
                first_piece.set()

        task = asyncio.create_task(consume())
        await first_piece.wait()
        task.cancel()
        cancelled_at = time.monotonic()
        with self.assertRaises(asyncio.CancelledError):
            await task

        request = self.provider.requests[0]
        self.assertTrue(await self.wait_for(request.disconnected, within=1))
        self.assertLess(request.disconnected_at - cancelled_at, 1)
        self.assertFalse(request.completed.is_set())

    async def test_cancelling_a_consumer_busy_between_pieces_closes_the_connection(self):
        self.provider.enqueue(Reply.stream("x" * 200, chunk_size=1, delay=0.05))
        first_piece = asyncio.Event()

        async def consume():
            async with AIClient().stream("s", "u", model="m") as stream:
                async for _piece in stream:
                    first_piece.set()
                    await asyncio.Event().wait()  # e.g. saving progress

        task = asyncio.create_task(consume())
        await first_piece.wait()
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task

        self.assertTrue(await self.wait_for(self.provider.requests[0].disconnected, within=1))

    async def test_cancelling_while_waiting_for_the_answer_closes_the_connection(self):
        self.provider.enqueue(Reply.hang())

        task = asyncio.create_task(read_all(AIClient().stream("s", "u", model="m")))
        request = (await asyncio.to_thread(self.provider.wait_for_requests, 1))[0]
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task

        self.assertTrue(await self.wait_for(request.disconnected, within=1))

    async def test_leaving_a_stream_early_closes_the_connection(self):
        self.provider.enqueue(Reply.stream("x" * 200, chunk_size=1, delay=0.05))

        async with AIClient().stream("s", "u", model="m") as stream:
            async for _piece in stream:
                break

        self.assertTrue(await self.wait_for(self.provider.requests[0].disconnected, within=1))
        self.assertIsNone(stream.completion)

    async def test_the_read_timeout_ends_a_stream_that_falls_silent(self):
        self.provider.enqueue(Reply.hang(after_text="Half an ans", chunk_size=4))
        pieces = []

        started = time.monotonic()
        with self.assertRaises(AITimeoutError) as caught:
            async with asyncio.timeout(5):  # without a read timeout: fail, don't hang
                async for piece in AIClient(read_timeout=0.3).stream("s", "u", model="m"):
                    pieces.append(piece)

        self.assertEqual("".join(pieces), "Half an ans")
        self.assertTrue(caught.exception.retryable)
        self.assertLess(time.monotonic() - started, 2)
        self.assertEqual(len(self.provider.requests), 1)  # content was seen: not retried

    async def test_the_read_timeout_ends_a_request_that_gets_no_answer(self):
        self.provider.enqueue(Reply.hang())

        with self.assertRaises(AITimeoutError):
            async with asyncio.timeout(5):  # without a read timeout: fail, don't hang
                await read_all(
                    AIClient(read_timeout=0.3, max_retries=1).stream("s", "u", model="m")
                )

        self.assertTrue(await self.wait_for(self.provider.requests[0].disconnected, within=1))

    async def test_a_slow_stream_that_keeps_producing_outlives_the_read_timeout(self):
        # Six events 0.1 s apart: 0.5 s in all, longer than the read timeout.
        self.provider.enqueue(
            Reply.stream("Steady pace.", chunk_size=4, delay=0.1, keepalive=0, usage=None)
        )

        started = time.monotonic()
        pieces = await read_all(AIClient(read_timeout=0.3).stream("s", "u", model="m"))

        self.assertEqual("".join(pieces), "Steady pace.")
        self.assertGreater(time.monotonic() - started, 0.45)

    async def test_keepalive_comments_keep_a_slow_start_alive(self):
        # No content for 0.4 s, longer than the read timeout: only comments and a role chunk.
        self.provider.enqueue(Reply.stream("Finally.", keepalive=3, delay=0.1, usage=None))

        started = time.monotonic()
        async with AIClient(read_timeout=0.3).stream("s", "u", model="m") as stream:
            first = await anext(stream)
            waited = time.monotonic() - started
            rest = [piece async for piece in stream]

        self.assertEqual(first + "".join(rest), "Finally.")
        self.assertGreater(waited, 0.35)


@override_settings(AI_HTTP_TRANSPORT="aiohttp")
class AiohttpTransportStreamingTests(StreamingTests):
    """The same behaviour on the httpx-aiohttp transport."""


@override_settings(AI_HTTP_TRANSPORT="aiohttp")
class AiohttpTransportConnectionTests(ConnectionTests):
    """The same behaviour on the httpx-aiohttp transport."""
