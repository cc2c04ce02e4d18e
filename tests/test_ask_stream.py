"""The ask event stream (SPEC §15) offline: order and shapes of the events, headers, the
extractive answer and its citations, and the history row it leaves."""

import re

from asgiref.sync import sync_to_async

from questions.answering import NO_MODEL_LINE
from questions.models import Question
from sessions_app.models import Passage
from tests.ask_support import AskTestCase, add_document
from tests.streams import read_all


class EventOrderTests(AskTestCase):
    async def test_status_then_one_sources_then_tokens_then_done(self):
        response = await self.ask_stream("What does an inode store?")
        events, _, _ = await read_all(response)

        names = " ".join(e.event for e in events)
        self.assertRegex(names, r"^status sources status (token )+done$")
        self.assertEqual(events[0].json["stage"], "retrieving")
        self.assertEqual(events[2].json["stage"], "writing")
        self.assertEqual([e.id for e in events], [str(n) for n in range(1, len(events) + 1)])

    async def test_the_headers_are_those_of_every_event_stream(self):
        response = await self.ask_stream("What does an inode store?")
        await read_all(response)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "text/event-stream; charset=utf-8")
        self.assertEqual(response["Cache-Control"], "no-cache")
        self.assertEqual(response["X-Accel-Buffering"], "no")
        self.assertFalse(response.has_header("Connection"))
        self.assertFalse(response.has_header("Content-Encoding"))

    async def test_sources_name_the_passage_document_page_heading_and_a_snippet(self):
        response = await self.ask_stream("When was the Bastille stormed?")
        events, _, _ = await read_all(response)
        sources = events[1].json["sources"]
        self.assertEqual([s["n"] for s in sources], list(range(1, len(sources) + 1)))
        first = sources[0]
        self.assertEqual(
            set(first), {"n", "passage", "document", "name", "page", "heading", "snippet"}
        )
        passage = await Passage.objects.select_related("document").aget(pk=int(first["passage"]))
        self.assertEqual(first["document"], str(passage.document.pk))
        self.assertEqual(first["name"], "history-week4.pdf")
        self.assertEqual(first["page"], 2)
        self.assertIn("Bastille", first["snippet"])

    async def test_done_holds_the_answer_the_tokens_spelled_and_its_citations(self):
        response = await self.ask_stream("What is a Pigouvian tax?")
        events, _, _ = await read_all(response)
        tokens = "".join(e.json["text"] for e in events if e.event == "token")
        done = events[-1].json
        self.assertEqual(done["answer"], tokens.strip())
        markers = [int(n) for n in re.findall(r"\[(\d+)\]", done["answer"])]
        self.assertEqual(done["citations"], list(dict.fromkeys(markers)))
        self.assertTrue(done["citations"])
        sent = {s["n"] for s in events[1].json["sources"]}
        self.assertLessEqual(set(done["citations"]), sent)


class OfflineAnswerTests(AskTestCase):
    async def test_the_answer_quotes_sentences_containing_the_question_words(self):
        response = await self.ask_stream("What does the Calvin cycle fix?")
        events, _, _ = await read_all(response)
        answer = events[-1].json["answer"]
        quotes = re.findall(r"“([^”]+)” \[(\d+)\]", answer)
        self.assertTrue(quotes)
        sources = {s["n"]: s for s in events[1].json["sources"]}
        for sentence, n in quotes:
            self.assertRegex(sentence.lower(), r"calvin|cycle|fix")
            self.assertRegex(sentence, r"^[A-Z].*[.!?]$")  # whole sentences, across line wraps
            passage = await Passage.objects.aget(pk=int(sources[int(n)]["passage"]))
            self.assertIn(sentence, " ".join(passage.text.split()))
        self.assertIn("Calvin cycle fixes carbon dioxide", answer)
        self.assertTrue(answer.endswith(NO_MODEL_LINE))

    async def test_weakly_matching_passages_are_not_quoted(self):
        response = await self.ask_stream("What does an inode store?")
        events, _, _ = await read_all(response)
        answer = events[-1].json["answer"]
        self.assertIn("An inode stores a file's metadata and the addresses", answer)
        self.assertNotIn("registry stores", answer)  # shares one word: "store"

    async def test_the_same_question_gets_the_same_answer(self):
        first = (await read_all(await self.ask_stream("How do threads differ?")))[0][-1]
        second = (await read_all(await self.ask_stream("How do threads differ?")))[0][-1]
        self.assertEqual(first.json["answer"], second.json["answer"])

    async def test_headings_set_as_prose_are_not_quoted_and_no_sentence_twice(self):
        # PDF text often carries a heading in capitals as a line of its own, and two passages
        # of one manual may repeat it: a learner should get the prose that answers.
        manual = (
            "RECOVERING DATA FROM DAMAGED FILES .\n"
            "bzip2 compresses files in blocks, usually 900 kbytes long.\n\n"
            "RECOVERING DATA FROM DAMAGED FILES .\n"
            "The program bzip2recover recovers data from damaged files block by block."
        )
        await sync_to_async(add_document)(self.session, "bzip2.pdf", manual, 10)

        response = await self.ask_stream("How do I recover data from damaged files?")
        events, _, _ = await read_all(response)
        quotes = re.findall(r"“([^”]+)”", events[-1].json["answer"])

        self.assertIn(
            "The program bzip2recover recovers data from damaged files block by block.", quotes
        )
        self.assertFalse([q for q in quotes if q.startswith("RECOVERING")], quotes)
        self.assertEqual(len(quotes), len(set(quotes)))

    async def test_a_question_nothing_matches_says_so_and_cites_nothing(self):
        response = await self.ask_stream("Zyxwv qwerty?")
        events, _, _ = await read_all(response)
        self.assertEqual(events[1].json["sources"], [])
        self.assertIn("couldn't find", events[-1].json["answer"])
        self.assertEqual(events[-1].json["citations"], [])


class HistoryRowTests(AskTestCase):
    async def test_each_question_is_kept_with_its_answer_citations_and_timings(self):
        response = await self.ask_stream("What is opportunity cost?")
        events, _, _ = await read_all(response)
        done = events[-1].json
        question = await Question.objects.aget(pk=done["question"])
        self.assertEqual(question.text, "What is opportunity cost?")
        self.assertEqual(question.answer, done["answer"])
        self.assertEqual(question.outcome, Question.Outcome.SUCCEEDED)
        self.assertEqual(question.builder, "offline")
        sources = {s["n"]: s["passage"] for s in events[1].json["sources"]}
        self.assertEqual(
            question.citations, [{"n": n, "passage": sources[n]} for n in done["citations"]]
        )
        self.assertIsNotNone(question.duration_ms)
        self.assertIsNotNone(question.first_token_ms)
        self.assertLessEqual(question.first_token_ms, question.duration_ms)
        self.assertIsNotNone(question.finished_at)
