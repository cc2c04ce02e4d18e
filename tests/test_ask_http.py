"""The ask endpoints' checks and the other URLs of §15: 400/401/404/409 before any work, the
JSON answer, the form without JavaScript, the history, deleting, the passage view; and
everything from documents and the model escaped."""

import re

from django.test import override_settings

from questions.models import Question
from sessions_app.models import Document, Passage, StudySession
from tests.ask_support import STREAM, AskTestCase, add_document
from tests.base import SAMPLE_PLAN
from tests.fakes import FakeProviderMixin, Reply
from tests.streams import read_all

JSON = {"accept": "application/json"}
XSS = "<script>alert(1)</script>"


class RefusalTests(AskTestCase):
    def setUp(self):
        super().setUp()
        self.client.force_login(self.owner)

    def test_an_empty_question_is_400(self):
        for question in ["", "   "]:
            response = self.client.get(self.url, {"q": question}, headers=STREAM)
            self.assertEqual(response.status_code, 400)
            self.assertIn("Type a question", response.json()["error"])

    def test_a_question_over_1000_characters_is_400_and_1000_is_fine(self):
        response = self.client.post(
            self.url, {"question": "a" * 1001}, content_type="application/json"
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("1,000", response.json()["error"])
        response = self.client.post(
            self.url, {"question": "inode " * 166 + "abcd"}, content_type="application/json"
        )
        self.assertEqual(response.status_code, 200)

    def test_a_body_that_is_not_json_is_400(self):
        response = self.client.post(self.url, "{nope", content_type="application/json")
        self.assertEqual(response.status_code, 400)

    def test_a_session_without_a_completed_document_is_409(self):
        empty = self.make_session()
        self.make_document(empty, status="FAILED", text="")
        response = self.client.get(f"/sessions/{empty.pk}/ask", {"q": "Why?"}, headers=STREAM)
        self.assertEqual(response.status_code, 409)
        self.assertFalse(Question.objects.filter(session=empty).exists())

    def test_another_learners_session_is_404_for_every_url(self):
        theirs = self.make_session(owner=self.other)
        add_document(theirs, "x.md", "Secret inode notes.")
        passage = Passage.objects.get(session=theirs)
        question = Question.objects.create(session=theirs, text="Q", builder="offline")
        base = f"/sessions/{theirs.pk}"
        for method, url in [
            ("get", f"{base}/ask?q=inode"),
            ("post", f"{base}/ask"),
            ("get", f"{base}/questions"),
            ("get", f"{base}/questions/{question.pk}"),
            ("post", f"{base}/questions/{question.pk}/delete"),
            ("get", f"{base}/passages/{passage.pk}"),
        ]:
            response = getattr(self.client, method)(url, headers=JSON)
            self.assertEqual(response.status_code, 404, url)
        # Nor can a passage of theirs be reached through my session.
        response = self.client.get(f"/sessions/{self.session.pk}/passages/{passage.pk}")
        self.assertEqual(response.status_code, 404)
        self.assertTrue(Question.objects.filter(pk=question.pk).exists())

    def test_anonymous_api_and_stream_requests_get_401_and_pages_the_login(self):
        self.client.logout()
        self.assertEqual(self.client.get(self.url, {"q": "x"}, headers=STREAM).status_code, 401)
        response = self.client.post(self.url, {"question": "x"}, content_type="application/json")
        self.assertEqual(response.status_code, 401)
        response = self.client.get(f"/sessions/{self.session.pk}/questions", headers=JSON)
        self.assertEqual(response.status_code, 401)
        response = self.client.post(self.url, {"question": "x"})
        self.assertEqual(response.status_code, 302)
        self.assertIn("/accounts/login/", response["Location"])


class JsonAnswerTests(AskTestCase):
    def setUp(self):
        super().setUp()
        self.client.force_login(self.owner)

    def test_post_gives_one_json_answer_with_its_sources(self):
        response = self.client.post(
            self.url, {"question": "What does an inode store?"}, content_type="application/json"
        )
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual(set(body), {"question", "answer", "sources", "citations"})
        self.assertIn("inode", body["answer"].lower())
        self.assertTrue(body["citations"])
        self.assertLessEqual(set(body["citations"]), {s["n"] for s in body["sources"]})
        self.assertTrue(Question.objects.filter(pk=body["question"]).exists())

    def test_the_history_is_json_newest_first_and_deletable(self):
        for text in ["What is an inode?", "What is a quantum?"]:
            self.client.post(self.url, {"question": text}, content_type="application/json")
        response = self.client.get(f"/sessions/{self.session.pk}/questions", headers=JSON)
        listed = response.json()["questions"]
        self.assertEqual(
            [q["question"] for q in listed], ["What is a quantum?", "What is an inode?"]
        )
        self.assertEqual(listed[0]["outcome"], "succeeded")

        url = f"/sessions/{self.session.pk}/questions/{listed[0]['id']}/delete"
        self.assertEqual(self.client.post(url, headers=JSON).status_code, 204)
        response = self.client.get(f"/sessions/{self.session.pk}/questions", headers=JSON)
        self.assertEqual(
            [q["question"] for q in response.json()["questions"]], ["What is an inode?"]
        )

    def test_the_history_and_each_question_belong_to_their_session_only(self):
        other_session = self.make_session(title="Another course")
        add_document(other_session, "other.md", "Notes on inodes of another course.")
        elsewhere = Question.objects.create(
            session=other_session, text="Asked in the other session", builder="offline"
        )
        self.client.post(
            self.url, {"question": "What is an inode?"}, content_type="application/json"
        )

        listed = self.client.get(f"/sessions/{self.session.pk}/questions", headers=JSON)

        self.assertEqual([q["question"] for q in listed.json()["questions"]], ["What is an inode?"])
        base = f"/sessions/{self.session.pk}/questions/{elsewhere.pk}"
        self.assertEqual(self.client.get(base).status_code, 404)
        self.assertEqual(self.client.post(f"{base}/delete", headers=JSON).status_code, 404)
        self.assertTrue(Question.objects.filter(pk=elsewhere.pk).exists())


class PageTests(AskTestCase):
    def setUp(self):
        super().setUp()
        self.client.force_login(self.owner)

    def test_a_form_without_javascript_lands_on_the_answer_page(self):
        response = self.client.post(
            self.url, {"question": "What does an inode store?"}, follow=True
        )
        self.assertEqual(response.status_code, 200)
        question = Question.objects.get(session=self.session)
        self.assertEqual(
            response.redirect_chain[-1][0], f"/sessions/{self.session.pk}/questions/{question.pk}"
        )
        self.assertContains(response, "What does an inode store?")
        self.assertContains(response, 'class="cite-chip"')
        self.assertContains(response, "<mark>inode</mark>")

    def test_deleting_from_the_page_removes_the_item_or_returns_to_the_session(self):
        question = Question.objects.create(session=self.session, text="Q?", builder="offline")
        url = f"/sessions/{self.session.pk}/questions/{question.pk}/delete"
        response = self.client.post(url, headers={"HX-Request": "true"})
        self.assertEqual((response.status_code, response.content), (200, b""))
        self.assertFalse(Question.objects.filter(pk=question.pk).exists())
        question = Question.objects.create(session=self.session, text="Q?", builder="offline")
        response = self.client.post(f"/sessions/{self.session.pk}/questions/{question.pk}/delete")
        self.assertRedirects(
            response, f"/sessions/{self.session.pk}/#ask", fetch_redirect_response=False
        )

    def test_a_source_cited_twice_gets_two_chips_with_ids_of_their_own(self):
        passage = Passage.objects.filter(session=self.session).first()
        source = {
            "n": 1,
            "passage": str(passage.pk),
            "document": str(passage.document_id),
            "name": "fs.md",
            "page": None,
            "heading": "",
            "snippet": "Inodes.",
        }
        question = Question.objects.create(
            session=self.session,
            text="Inodes?",
            answer="One [1]. Two [1].",
            sources=[source],
            citations=[1],
            builder="offline",
            outcome="succeeded",
        )

        page = self.client.get(f"/sessions/{self.session.pk}/").content.decode()

        ids = re.findall(rf'id="({question.pk}-cite-[^"]*)"', page)
        described = re.findall(rf'aria-describedby="({question.pk}-cite-[^"]*)"', page)
        self.assertEqual(len(ids), 2)
        self.assertEqual(len(set(ids)), 2, ids)  # an id is unique in a page
        self.assertEqual(described, ids)

    def test_an_empty_form_goes_back_to_the_page_with_the_reason(self):
        response = self.client.post(self.url, {"question": ""}, follow=True)
        self.assertContains(response, "Type a question first.")

    def test_the_htmx_form_gets_the_live_panel_that_opens_the_stream(self):
        response = self.client.post(
            self.url, {"question": 'Why "quotes" & <tags>?'}, headers={"HX-Request": "true"}
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'sse-connect="/sessions/')
        self.assertContains(response, "format=html&amp;q=Why%20%22quotes%22%20%26%20%3Ctags%3E%3F")
        self.assertContains(response, "Why &quot;quotes&quot; &amp; &lt;tags&gt;?")
        self.assertFalse(Question.objects.exists())  # the stream does the work

    def test_before_any_document_is_read_the_ask_box_is_disabled_and_says_why(self):
        session = self.make_session(title="Fresh")
        self.make_document(session, status=Document.Status.PENDING)

        response = self.client.get(f"/sessions/{session.pk}/")

        self.assertContains(response, "You can ask as soon as one of your documents has been read.")
        self.assertContains(response, 'disabled aria-describedby="ask-why"')
        self.assertContains(
            response, "Your documents are still being read; you can generate once one is ready."
        )

    def test_the_session_page_has_the_ask_box_prefilled_from_q_and_the_history(self):
        self.client.post(
            self.url, {"question": "What is an inode?"}, content_type="application/json"
        )
        response = self.client.get(f"/sessions/{self.session.pk}/", {"q": "About <b>paging</b>"})
        self.assertContains(response, 'id="ask"')
        self.assertContains(response, "About &lt;b&gt;paging&lt;/b&gt;</textarea>")
        self.assertContains(response, "What is an inode?")

    def test_every_topic_of_the_plan_links_to_a_prefilled_question(self):
        StudySession.objects.filter(pk=self.session.pk).update(draft_plan=SAMPLE_PLAN)
        response = self.client.get(f"/sessions/{self.session.pk}/")
        self.assertContains(response, "Ask about this topic", count=len(SAMPLE_PLAN))
        self.assertContains(response, f"/sessions/{self.session.pk}/?q=Limits#ask")

    def test_every_topic_in_the_editor_and_the_study_view_links_to_a_question(self):
        StudySession.objects.filter(pk=self.session.pk).update(
            draft_plan=SAMPLE_PLAN, status=StudySession.Status.EDITING_PLAN
        )
        for url in (f"/sessions/{self.session.pk}/", f"/sessions/{self.session.pk}/plan/study"):
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertContains(response, "Ask about this topic", count=len(SAMPLE_PLAN))
                self.assertContains(response, f"/sessions/{self.session.pk}/?q=Derivatives#ask")

    def test_the_passage_view_shows_it_in_context_with_the_name_page_and_matches(self):
        passage = Passage.objects.get(
            session=self.session, text__contains="storming of the Bastille"
        )
        response = self.client.get(
            f"/sessions/{self.session.pk}/passages/{passage.pk}",
            {"q": "When was the Bastille stormed?"},
        )
        self.assertContains(response, "history-week4.pdf")
        self.assertContains(response, "Page 2")
        self.assertContains(response, "<mark>Bastille</mark>")
        self.assertContains(response, "<mark>storming</mark>")
        self.assertContains(response, "Tennis Court Oath")  # the page before, as context
        self.assertContains(response, 'class="passage-text cited"')


class EscapingTests(FakeProviderMixin, AskTestCase):
    builder = "openrouter"

    def setUp(self):
        super().setUp()
        self.evil = add_document(
            self.session, f"{XSS}.md", f"# {XSS} Heading\n\nThe zebra inode {XSS} lives here.", 9
        )

    async def test_a_document_heading_and_name_are_escaped_in_every_fragment_and_page(self):
        self.provider.enqueue(Reply.stream("Zebra [1]."))
        response = await self.ask_stream("zebra", format="html")
        _, _, raw = await read_all(response)
        self.assertNotIn("<script>", raw)
        self.assertIn("&lt;script&gt;", raw)
        passage = await Passage.objects.aget(document=self.evil)
        page = await self.async_client.get(f"/sessions/{self.session.pk}/passages/{passage.pk}")
        self.assertNotIn(XSS, page.content.decode())
        detail = await self.async_client.get(f"/sessions/{self.session.pk}/")
        self.assertNotIn(XSS, detail.content.decode())

    async def test_a_model_answer_with_markup_is_escaped_in_tokens_done_and_history(self):
        evil_answer = f'Zebra <img src=x onerror="alert(1)"> {XSS} [1].'
        self.provider.enqueue(Reply.stream(evil_answer, chunk_size=5))
        events, _, raw = await read_all(await self.ask_stream("zebra", format="html"))
        self.assertEqual(events[-1].event, "done")
        self.assertNotIn("<img", raw)
        self.assertNotIn("<script>", raw)
        self.assertIn("&lt;img src=x", raw)
        detail = await self.async_client.get(f"/sessions/{self.session.pk}/")
        self.assertNotIn("<img src=x", detail.content.decode())
        self.assertIn("&lt;img src=x", detail.content.decode())

    @override_settings(QUESTION_BUILDER="offline")
    async def test_json_flavour_carries_text_not_markup(self):
        events, _, _ = await read_all(await self.ask_stream("zebra"))
        self.assertIn(XSS, events[-1].json["answer"])  # JSON is text; the client escapes


class AdminTests(AskTestCase):
    def test_staff_read_the_question_history_in_the_admin(self):
        Question.objects.create(
            session=self.session, text="What is an <b>inode</b>?", builder="offline"
        )
        self.client.force_login(self.staff)
        response = self.client.get("/admin/questions/question/")
        self.assertContains(response, "What is an &lt;b&gt;inode&lt;/b&gt;?")
        self.assertNotContains(response, "Add question")


class ControlCharacterTests(AskTestCase):
    def setUp(self):
        super().setUp()
        self.client.force_login(self.owner)

    def test_a_json_question_with_a_nul_character_is_400_naming_the_field(self):
        # JSON bodies with a NUL are refused at the entrance (studyplanner.http.request_data).
        response = self.client.post(
            self.url, {"question": "inode\x00 table?"}, content_type="application/json"
        )
        self.assertEqual(response.status_code, 400, response.content)
        self.assertIn("question", response.json()["fields"])
        self.assertFalse(Question.objects.exists())

    def test_a_form_question_with_a_nul_character_is_answered_without_it(self):
        response = self.client.post(
            self.url, {"question": "inode\x00 table?"}, headers={"Accept": "application/json"}
        )
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(Question.objects.get().text, "inode table?")

    async def test_a_streamed_question_with_a_nul_character_is_answered_not_a_500(self):
        response = await self.ask_stream("inode\x00 table?")
        self.assertEqual(response.status_code, 200)
        events, _, _ = await read_all(response)
        self.assertEqual(events[-1].event, "done", events[-1])
        self.assertEqual((await self.questions())[0].text, "inode table?")
