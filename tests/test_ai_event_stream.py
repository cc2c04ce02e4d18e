"""Reading the provider's event stream a network chunk at a time (ai/event_stream.py): the
SSE format's rules on their own, then on the wire — a chunk holding many events is decoded
in one pass and its pieces handed out without another trip through the HTTP stack."""

from unittest import mock

from django.test import SimpleTestCase

from ai import AIClient, AIStreamError
from ai.event_stream import EventStreamDecoder
from tests.fakes import DONE, FakeProviderMixin, Reply, completion_chunk


def decode(*chunks: bytes) -> list[list[bytes]]:
    """What each chunk dispatched, fed in turn to one decoder."""
    decoder = EventStreamDecoder()
    return [decoder.feed(chunk) for chunk in chunks]


class EventStreamDecoderTests(SimpleTestCase):
    def test_lf_cr_and_crlf_all_end_lines(self):
        for newline in (b"\n", b"\r", b"\r\n"):
            with self.subTest(newline=newline):
                body = b"data: one" + newline * 2 + b"data: two" + newline * 2
                self.assertEqual(decode(body), [[b"one", b"two"]])

    def test_an_event_is_dispatched_as_soon_as_its_blank_line_arrives(self):
        # A CR ends the line at once: it is not held back waiting for a possible LF.
        self.assertEqual(decode(b"data: a\r", b"\r", b"\ndata: b\r\n\r\n"), [[], [b"a"], [b"b"]])

    def test_a_crlf_split_between_chunks_ends_one_line_not_two(self):
        # Read wrongly, the LF would be a blank line that dispatches "a" without "b".
        self.assertEqual(
            decode(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"), [[], [], [b"a\nb"], []]
        )

    def test_lines_and_events_split_anywhere_come_out_whole(self):
        body = b"data: first\n\ndata: second\ndata: line\n\n"
        for cut in range(1, len(body)):
            with self.subTest(cut=cut):
                events = [e for chunk in decode(body[:cut], body[cut:]) for e in chunk]
                self.assertEqual(events, [b"first", b"second\nline"])

    def test_data_lines_of_one_event_are_joined_with_lf(self):
        self.assertEqual(decode(b"data: a\ndata:b\ndata\ndata:  c\n\n"), [[b"a\nb\n\n c"]])

    def test_comments_and_other_fields_are_not_data(self):
        body = b": OPENROUTER PROCESSING\n\nevent: x\nid: 7\nretry: 10\nfoo: bar\ndata: d\n\n"
        self.assertEqual(decode(body), [[b"d"]])

    def test_an_event_without_data_is_not_dispatched(self):
        self.assertEqual(decode(b"event: ping\n\n: only a comment\n\n"), [[]])

    def test_a_leading_bom_is_ignored(self):
        self.assertEqual(decode(b"\xef\xbb", b"\xbfdata: x\n\n"), [[], [b"x"]])

    def test_an_unfinished_event_is_not_dispatched(self):
        self.assertEqual(decode(b"data: a\n\ndata: b\n"), [[b"a"]])

    def test_every_event_of_a_chunk_comes_out_of_one_call(self):
        body = b"".join(b"data: %d\n\n" % n for n in range(50))
        self.assertEqual(decode(body), [[b"%d" % n for n in range(50)]])

    def test_multi_byte_characters_split_between_chunks_come_out_whole(self):
        body = 'data: {"c":"é中🙂"}\n\n'.encode()
        for cut in range(len(b"data: "), len(body)):
            with self.subTest(cut=cut):
                events = [e for chunk in decode(body[:cut], body[cut:]) for e in chunk]
                self.assertEqual([e.decode() for e in events], ['{"c":"é中🙂"}'])


class OneChunkManyEventsTests(FakeProviderMixin, SimpleTestCase):
    """The fake sends the whole answer as one HTTP chunk, as a burst of tokens arrives."""

    def one_chunk(self, *events) -> Reply:
        reply = Reply.sse(events, split_bytes=[10**9])
        self.assertEqual(len(reply.parts), 1)
        return reply

    async def test_a_chunk_of_many_events_is_decoded_in_one_pass(self):
        texts = [f"piece {n} é " for n in range(50)]
        self.provider.enqueue(
            self.one_chunk(
                *(completion_chunk(text) for text in texts),
                completion_chunk("", finish_reason="stop"),
                DONE,
            )
        )
        feed = mock.patch.object(
            EventStreamDecoder, "feed", autospec=True, side_effect=EventStreamDecoder.feed
        )

        with feed as fed:
            stream = AIClient().stream("s", "u", model="m")
            async with stream:
                first = await stream.__anext__()
                # The rest were received with the first: handed out without waiting.
                rest = []
                for _ in texts[1:]:
                    step = stream.__anext__()
                    with self.assertRaises(StopIteration) as handed_out:
                        step.send(None)
                    rest.append(handed_out.exception.value)
                leftover = [piece async for piece in stream]

        self.assertEqual([first, *rest], texts)
        self.assertEqual(leftover, [])
        self.assertEqual(stream.completion.text, "".join(texts))
        self.assertEqual(fed.call_count, 1)  # then the end of the body, with nothing to feed

    async def test_content_before_an_error_in_the_same_chunk_is_handed_out_first(self):
        error = {"code": 502, "message": "Provider returned error"}
        self.provider.enqueue(
            self.one_chunk(
                completion_chunk("Shown"),
                completion_chunk(" too"),
                completion_chunk("", finish_reason="error", error=error),
            )
        )
        pieces = []

        with self.assertRaises(AIStreamError) as caught:
            async with AIClient(max_retries=3).stream("s", "u", model="m") as stream:
                async for piece in stream:
                    pieces.append(piece)

        self.assertEqual(pieces, ["Shown", " too"])
        self.assertEqual(caught.exception.code, 502)
        self.assertEqual(len(self.provider.requests), 1)  # content was shown: not retried
