"""Upstream faults (SPEC §12) through the real AI client against the fake provider: each
becomes its typed error, retried or not, with the waits it should have."""

import asyncio
import contextlib
import email.utils
import socket
import time

from django.test import SimpleTestCase, override_settings

from ai import (
    AIAuthenticationError,
    AIBadRequestError,
    AIClient,
    AIConnectionError,
    AICreditsError,
    AIError,
    AIForbiddenError,
    AINotFoundError,
    AIOutputTruncatedError,
    AIProviderError,
    AIRateLimitError,
    AIStreamError,
    AITimeoutError,
    AITruncatedError,
)
from tests.fakes import FAKE_API_KEY, FakeProviderMixin, Reply, completion_chunk

# status, error class, retryable
STATUS_ERRORS = [
    (400, AIBadRequestError, False),
    (401, AIAuthenticationError, False),
    (402, AICreditsError, False),
    (403, AIForbiddenError, False),
    (404, AINotFoundError, False),
    (408, AIProviderError, True),
    (413, AIBadRequestError, False),
    (422, AIBadRequestError, False),
    (429, AIRateLimitError, True),
    (500, AIProviderError, True),
    (502, AIProviderError, True),
    (503, AIProviderError, True),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def unanswered_port():
    """A port whose connections never complete: a listening socket whose accept queue is
    full, so the kernel ignores new connection attempts."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = [socket.socket() for _ in range(3)]
    with listener, contextlib.ExitStack() as stack:
        for filler in fillers:
            stack.enter_context(filler)
            filler.setblocking(False)
            filler.connect_ex(listener.getsockname())
        yield listener.getsockname()[1]


class FaultTestCase(FakeProviderMixin, SimpleTestCase):
    """Clients here record the waits between attempts instead of sleeping."""

    def setUp(self):
        super().setUp()
        self.waits = []

    async def record_wait(self, seconds: float) -> None:
        self.waits.append(seconds)

    def ai_client(self, **options) -> AIClient:
        options.setdefault("max_retries", 3)
        return AIClient(sleep=self.record_wait, **options)

    async def stream_until_error(self, **options) -> tuple[list[str], AIError]:
        """The pieces received, then the error that ended the stream."""
        pieces = []
        with self.assertRaises(AIError) as caught:
            async with self.ai_client(**options).stream("s", "u", model="m") as stream:
                async for piece in stream:
                    pieces.append(piece)
        self.last_stream = stream
        # Only an answer cut at the output limit ended (and was paid for): its completion stays.
        if not isinstance(caught.exception, AIOutputTruncatedError):
            self.assertIsNone(stream.completion)
        return pieces, caught.exception

    async def complete_until_error(self, **options) -> AIError:
        with self.assertRaises(AIError) as caught:
            await self.ai_client(**options).complete("s", "u", model="m")
        return caught.exception

    async def streamed_text(self, **options) -> str:
        async with self.ai_client(**options).stream("s", "u", model="m") as stream:
            return "".join([piece async for piece in stream])


class StatusErrorTests(FaultTestCase):
    async def test_each_error_status_on_a_stream_raises_its_error(self):
        for status, error_class, retryable in STATUS_ERRORS:
            with self.subTest(status=status):
                self.provider.reset()
                self.provider.responder = lambda request, status=status: Reply.error(
                    status, message=f"Upstream says {status}"
                )

                pieces, error = await self.stream_until_error()

                self.assertEqual(pieces, [])
                self.assertIs(type(error), error_class)
                self.assertEqual(error.retryable, retryable)
                self.assertEqual(error.status_code, status)
                self.assertIn(f"Upstream says {status}", str(error))
                self.assertEqual(len(self.provider.requests), 3 if retryable else 1)

    async def test_each_error_status_on_a_completion_raises_its_error(self):
        for status, error_class, retryable in STATUS_ERRORS:
            with self.subTest(status=status):
                self.provider.reset()
                self.provider.responder = lambda request, status=status: Reply.error(status)

                error = await self.complete_until_error()

                self.assertIs(type(error), error_class)
                self.assertEqual(error.retryable, retryable)
                self.assertEqual(len(self.provider.requests), 3 if retryable else 1)

    async def test_402_with_retry_after_is_a_temporary_limit_and_is_retried(self):
        self.provider.enqueue(Reply.error(402, retry_after=3), Reply.stream("Paid for."))

        self.assertEqual(await self.streamed_text(), "Paid for.")
        self.assertEqual(self.waits, [3.0])

    async def test_the_learner_message_gives_nothing_away(self):
        message = f"Invalid key {FAKE_API_KEY} for https://openrouter.ai/api/v1"
        self.provider.enqueue(Reply.error(401, message=message))

        _pieces, error = await self.stream_until_error()

        self.assertIn(message, str(error))  # for the logs
        self.assertNotIn(FAKE_API_KEY, error.user_message)
        self.assertNotIn("401", error.user_message)
        self.assertTrue(error.user_message.endswith("."))

    async def test_an_html_error_page_from_a_proxy_is_a_provider_error(self):
        self.provider.enqueue(Reply.error(502, "<html><h1>502 Bad Gateway</h1></html>"))
        self.provider.responder = lambda request: Reply.stream("Behind the proxy.")

        self.assertEqual(await self.streamed_text(), "Behind the proxy.")
        self.assertEqual(len(self.provider.requests), 2)

    async def test_a_json_answer_to_a_stream_request_is_not_taken_for_a_network_fault(self):
        # httpx-sse would raise SSEError, a TransportError: it must not be retried as one.
        self.provider.responder = lambda request: Reply.json({"object": "chat.completion"})

        _pieces, error = await self.stream_until_error()

        self.assertIs(type(error), AIProviderError)
        self.assertFalse(error.retryable)
        self.assertIn("expected an event stream", str(error))
        self.assertEqual(len(self.provider.requests), 1)

    async def test_an_error_body_with_status_200_on_a_stream_is_read(self):
        self.provider.enqueue(Reply.json({"error": {"code": 502, "message": "Provider down"}}))
        self.provider.responder = lambda request: Reply.stream("Back up.")

        self.assertEqual(await self.streamed_text(), "Back up.")
        self.assertEqual(len(self.provider.requests), 2)


class RetryTests(FaultTestCase):
    async def test_retry_after_in_seconds_is_honoured(self):
        self.provider.enqueue(Reply.error(429, retry_after=7), Reply.stream("Finally."))

        self.assertEqual(await self.streamed_text(), "Finally.")
        self.assertEqual(self.waits, [7.0])
        self.assertEqual(len(self.provider.requests), 2)

    async def test_retry_after_as_an_http_date_is_honoured(self):
        in_20_seconds = email.utils.formatdate(time.time() + 20, usegmt=True)
        self.provider.enqueue(Reply.error(503, retry_after=in_20_seconds), Reply.stream("Ok."))

        self.assertEqual(await self.streamed_text(), "Ok.")
        [wait] = self.waits
        self.assertTrue(18 < wait <= 20, wait)

    @override_settings(AI_RETRY_MAX_WAIT=30)
    async def test_retry_after_is_capped_by_ai_retry_max_wait(self):
        self.provider.enqueue(Reply.error(429, retry_after=120), Reply.stream("Ok."))

        self.assertEqual(await self.streamed_text(), "Ok.")
        self.assertEqual(self.waits, [30])

    async def test_without_retry_after_the_backoff_doubles_with_jitter(self):
        self.provider.enqueue(Reply.error(503), Reply.error(502), Reply.error(500))
        self.provider.responder = lambda request: Reply.stream("Ok.")

        self.assertEqual(await self.streamed_text(max_retries=4), "Ok.")

        self.assertEqual(len(self.waits), 3)
        for wait, base in zip(self.waits, [0.5, 1, 2], strict=True):
            self.assertTrue(base <= wait <= base + 0.5, self.waits)

    async def test_the_backoff_is_capped_by_ai_retry_max_wait(self):
        self.provider.responder = lambda request: Reply.error(500)

        await self.stream_until_error(max_retries=5, retry_max_wait=1.2)

        self.assertEqual(len(self.waits), 4)
        self.assertTrue(all(wait <= 1.2 for wait in self.waits), self.waits)
        self.assertEqual(self.waits[-1], 1.2)

    @override_settings(AI_MAX_RETRIES=2)
    async def test_ai_max_retries_counts_the_attempts_in_all(self):
        self.provider.responder = lambda request: Reply.error(503)

        with self.assertRaises(AIProviderError):
            await AIClient(sleep=self.record_wait).complete("s", "u", model="m")

        self.assertEqual(len(self.provider.requests), 2)
        self.assertEqual(len(self.waits), 1)

    async def test_a_refused_connection_is_retried_then_reported(self):
        _pieces, error = await self.stream_until_error(base_url=f"http://127.0.0.1:{free_port()}")

        self.assertIs(type(error), AIConnectionError)
        self.assertTrue(error.retryable)
        self.assertEqual(len(self.waits), 2)

    async def test_an_unusable_base_url_is_reported_without_retrying(self):
        _pieces, error = await self.stream_until_error(base_url="openrouter.ai/api/v1")

        self.assertIs(type(error), AIConnectionError)
        self.assertFalse(error.retryable)
        self.assertEqual(self.waits, [])

    async def test_a_connect_timeout_is_retried_then_reported(self):
        with unanswered_port() as port:
            async with asyncio.timeout(5):  # without a connect timeout: fail, don't hang
                _pieces, error = await self.stream_until_error(
                    base_url=f"http://127.0.0.1:{port}", connect_timeout=0.1, max_retries=2
                )

        self.assertIs(type(error), AITimeoutError)
        self.assertIn("could not connect", str(error))
        self.assertEqual(len(self.waits), 1)

    async def test_a_connection_closed_without_an_answer_is_retried(self):
        self.provider.enqueue(Reply.disconnect(), Reply.stream("Second time lucky."))

        self.assertEqual(await self.streamed_text(), "Second time lucky.")
        self.assertEqual(len(self.provider.requests), 2)

    async def test_a_read_timeout_before_any_content_is_retried(self):
        self.provider.enqueue(Reply.hang(), Reply.stream("Awake."))

        async with asyncio.timeout(5):  # without a read timeout: fail, don't hang
            self.assertEqual(await self.streamed_text(read_timeout=0.2), "Awake.")
        # The fake notices the hang-up on its own thread: wait for it, don't race it.
        self.assertTrue(await self.wait_for(self.provider.requests[0].disconnected, within=1))

    async def test_a_stream_fault_before_the_first_content_is_retried(self):
        faults = {
            "error chunk after reasoning": Reply.mid_stream_error("", reasoning="Thinking..."),
            "truncated": Reply.truncated(""),
            "connection closed": Reply.truncated("", abort=True),
            "unreadable event": Reply.sse(["data: {not json\n\n"]),
        }
        for name, fault in faults.items():
            with self.subTest(name):
                self.provider.reset()
                self.provider.enqueue(fault, Reply.stream("Recovered."))

                self.assertEqual(await self.streamed_text(), "Recovered.")
                self.assertEqual(len(self.provider.requests), 2)

    async def test_a_fault_after_content_goes_to_the_caller(self):
        self.provider.enqueue(Reply.mid_stream_error("Seen by the learner", chunk_size=5))

        pieces, error = await self.stream_until_error()

        self.assertEqual("".join(pieces), "Seen by the learner")
        self.assertIsInstance(error, AIStreamError)
        self.assertTrue(error.retryable)  # the caller may re-run the whole request
        self.assertEqual(len(self.provider.requests), 1)
        self.assertEqual(self.waits, [])


class StreamFaultTests(FaultTestCase):
    async def test_an_error_chunk_with_a_numeric_code_ends_the_stream(self):
        self.provider.enqueue(Reply.mid_stream_error("Partial", code=502, message="Died"))

        pieces, error = await self.stream_until_error()

        self.assertEqual("".join(pieces), "Partial")
        self.assertIs(type(error), AIStreamError)
        self.assertEqual(error.code, 502)
        self.assertTrue(error.retryable)
        self.assertIn("Died", str(error))

    async def test_content_before_an_error_in_the_same_network_chunk_is_handed_out_first(self):
        # A burst: the pieces and the error event arrive in one HTTP chunk.
        error = {"code": 502, "message": "Provider returned error"}
        events = [
            completion_chunk("Shown"),
            completion_chunk(" too"),
            completion_chunk("", finish_reason="error", error=error),
        ]
        reply = Reply.sse(events, split_bytes=[10**9])
        self.assertEqual(len(reply.parts), 1)
        self.provider.enqueue(reply)

        pieces, error = await self.stream_until_error()

        self.assertEqual(pieces, ["Shown", " too"])
        self.assertIs(type(error), AIStreamError)
        self.assertEqual(error.code, 502)
        self.assertEqual(len(self.provider.requests), 1)  # content was shown: not retried

    async def test_an_error_chunk_with_a_string_code_ends_the_stream(self):
        self.provider.enqueue(Reply.mid_stream_error("Partial", code="server_error"))

        _pieces, error = await self.stream_until_error()

        self.assertIs(type(error), AIStreamError)
        self.assertEqual(error.code, "server_error")
        self.assertTrue(error.retryable)

    async def test_an_error_chunk_blaming_the_request_is_not_retried(self):
        for code in (400, "context_length_exceeded"):
            with self.subTest(code=code):
                self.provider.reset()
                self.provider.responder = lambda request, code=code: Reply.mid_stream_error(
                    "", code=code
                )

                _pieces, error = await self.stream_until_error()

                self.assertIs(type(error), AIStreamError)
                self.assertFalse(error.retryable)
                self.assertEqual(len(self.provider.requests), 1)

    async def test_a_stream_ending_without_finish_reason_or_done_is_truncated(self):
        self.provider.enqueue(Reply.truncated("Half an answer", chunk_size=4))

        pieces, error = await self.stream_until_error()

        self.assertEqual("".join(pieces), "Half an answer")
        self.assertIs(type(error), AITruncatedError)
        self.assertTrue(error.retryable)
        self.assertEqual(len(self.provider.requests), 1)

    async def test_a_connection_closed_mid_stream_is_truncated(self):
        self.provider.enqueue(Reply.truncated("Half an answer", abort=True))

        pieces, error = await self.stream_until_error()

        self.assertEqual("".join(pieces), "Half an answer")
        self.assertIs(type(error), AITruncatedError)

    async def test_finish_reason_length_is_an_output_truncation(self):
        self.provider.enqueue(Reply.length("Too long to fi", chunk_size=4))

        pieces, error = await self.stream_until_error()

        self.assertEqual("".join(pieces), "Too long to fi")
        self.assertIs(type(error), AIOutputTruncatedError)
        self.assertFalse(error.retryable)
        self.assertEqual(error.completion.text, "Too long to fi")
        self.assertEqual(error.completion.finish_reason, "length")
        self.assertEqual(error.completion.completion_tokens, 34)
        self.assertEqual(len(self.provider.requests), 1)
        self.assertIs(self.last_stream.completion, error.completion)

    async def test_finish_reason_length_before_any_content_is_not_retried(self):
        self.provider.enqueue(Reply.length(""))

        _pieces, error = await self.stream_until_error()

        self.assertIs(type(error), AIOutputTruncatedError)
        self.assertEqual(len(self.provider.requests), 1)

    async def test_a_content_filter_stop_is_a_refusal(self):
        self.provider.enqueue(Reply.stream("Some", finish_reason="content_filter"))

        _pieces, error = await self.stream_until_error()

        self.assertIs(type(error), AIForbiddenError)
        self.assertFalse(error.retryable)

    async def test_a_finish_reason_without_done_is_a_whole_answer(self):
        self.provider.enqueue(Reply.stream("Whole.", done=False))

        self.assertEqual(await self.streamed_text(), "Whole.")

    async def test_done_without_a_finish_reason_is_a_whole_answer(self):
        self.provider.enqueue(Reply.stream("Whole.", finish_reason=None))

        self.assertEqual(await self.streamed_text(), "Whole.")


class CompletionFaultTests(FaultTestCase):
    async def test_a_200_answer_with_finish_reason_error_raises(self):
        failed = Reply.completion("", error={"code": 502, "message": "Upstream died"})
        self.provider.enqueue(failed, failed)
        self.provider.responder = lambda request: Reply.completion("Third time.")

        completion = await self.ai_client().complete("s", "u", model="m")

        self.assertEqual(completion.text, "Third time.")
        self.assertEqual(len(self.provider.requests), 3)

    async def test_a_200_answer_with_finish_reason_error_is_reported_after_the_last_attempt(self):
        self.provider.responder = lambda request: Reply.completion(
            "", error={"code": "server_error", "message": "Upstream died"}
        )

        error = await self.complete_until_error()

        self.assertIs(type(error), AIStreamError)
        self.assertEqual(error.code, "server_error")
        self.assertIn("Upstream died", str(error))
        self.assertEqual(len(self.provider.requests), 3)

    async def test_finish_reason_length_is_an_output_truncation(self):
        self.provider.enqueue(Reply.completion("Too long to fi", finish_reason="length"))

        error = await self.complete_until_error()

        self.assertIs(type(error), AIOutputTruncatedError)
        self.assertEqual(error.completion.text, "Too long to fi")
        self.assertEqual(len(self.provider.requests), 1)

    async def test_an_answer_that_is_not_json_is_a_provider_error(self):
        self.provider.responder = lambda request: Reply(
            headers={"Content-Type": "application/json"}, parts=[b'{"choices": [']
        )

        error = await self.complete_until_error()

        self.assertIs(type(error), AIProviderError)
        self.assertEqual(len(self.provider.requests), 3)

    async def test_a_request_that_gets_no_answer_times_out(self):
        self.provider.responder = lambda request: Reply.hang()

        async with asyncio.timeout(5):  # without a read timeout: fail, don't hang
            error = await self.complete_until_error(read_timeout=0.2, max_retries=2)

        self.assertIs(type(error), AITimeoutError)
        self.assertEqual(len(self.provider.requests), 2)


@override_settings(AI_HTTP_TRANSPORT="aiohttp")
class AiohttpTransportRetryTests(RetryTests):
    """The same faults on the httpx-aiohttp transport."""


@override_settings(AI_HTTP_TRANSPORT="aiohttp")
class AiohttpTransportStreamFaultTests(StreamFaultTests):
    """The same faults on the httpx-aiohttp transport."""
