"""Hostile input at every entrance (SPEC §12): NUL characters, lone surrogates, deep JSON,
wrong JSON types and static-path traversal are refused with a 4xx or cleaned, never a 500."""

import json

from asgiref.testing import ApplicationCommunicator
from django.test import SimpleTestCase

from plans.schema import normalize_plan
from questions.models import Question
from sessions_app.models import StudySession
from sessions_app.uploads import clean_file_name
from studyplanner.asgi import application
from tests.ask_support import AskTestCase
from tests.base import SAMPLE_PLAN, AppTestCase
from tests.fakes import FakeProviderMixin, Reply
from tests.plans_scripts import WEEK_PLANS, document_in
from tests.streams import http_scope, read_all
from tests.test_generate_stream import StreamTestCase

JSON = {"accept": "application/json"}


def nested(depth: int) -> str:
    return '{"title": "x", "language": "en", "extra": ' + "[" * depth + "]" * depth + "}"


class JsonBodyTests(AppTestCase):
    def setUp(self):
        self.client.force_login(self.owner)

    def post(self, url, body: str):
        return self.client.post(url, body, content_type="application/json", headers=JSON)

    def test_a_nul_or_a_lone_surrogate_in_a_session_title_is_a_400(self):
        for title in ("Calc\\u0000ulus", "Calc\\ud800ulus"):
            with self.subTest(title=title):
                response = self.post("/sessions/", f'{{"title": "{title}", "language": "en"}}')

                self.assertEqual(response.status_code, 400)
                self.assertIn("title", response.json()["fields"])
        self.assertFalse(StudySession.objects.exists())

    def test_json_nested_five_thousand_deep_is_a_400_on_sessions_and_plan(self):
        session = self.make_session(status=StudySession.Status.EDITING_PLAN)
        for url in ("/sessions/", f"/sessions/{session.pk}/plan"):
            with self.subTest(url=url):
                response = self.post(url, nested(5000))

                self.assertEqual(response.status_code, 400)
                self.assertIn("deeper", response.json()["error"])

    def test_moderate_nesting_beyond_the_limit_is_a_400_too(self):
        self.assertEqual(self.post("/sessions/", nested(30)).status_code, 400)

    def test_a_title_given_as_a_list_is_a_400_naming_the_field(self):
        response = self.post("/sessions/", json.dumps({"title": ["x"], "language": "en"}))

        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["fields"], {"title": ["Must be text, not a list."]})
        self.assertFalse(StudySession.objects.exists())

    def test_a_language_given_as_a_number_is_a_400_naming_the_field(self):
        response = self.post("/sessions/", json.dumps({"title": "Calculus", "language": 5}))

        self.assertEqual(response.status_code, 400)
        self.assertIn("language", response.json()["fields"])

    def test_a_nul_or_a_surrogate_in_a_json_plan_is_a_400_and_nothing_is_saved(self):
        session = self.make_session(status=StudySession.Status.EDITING_PLAN, draft_plan=SAMPLE_PLAN)
        for bad in ("Lim\\u0000its", "Lim\\udfffits"):
            with self.subTest(bad=bad):
                body = f'{{"plan": [{{"title": "{bad}", "subtopics": ["{bad}"]}}]}}'
                response = self.post(f"/sessions/{session.pk}/plan", body)

                self.assertEqual(response.status_code, 400)
                session.refresh_from_db()
                self.assertEqual(session.draft_plan, SAMPLE_PLAN)


class FormTests(AppTestCase):
    def setUp(self):
        self.client.force_login(self.owner)

    def test_a_nul_in_the_session_form_is_a_400_with_the_message(self):
        response = self.client.post("/sessions/", {"title": "Calc\x00ulus", "language": "en"})

        self.assertContains(response, "Null characters are not allowed", status_code=400)
        self.assertFalse(StudySession.objects.exists())

    def test_a_percent_encoded_nul_in_the_plan_editor_form_is_removed(self):
        session = self.make_session(status=StudySession.Status.EDITING_PLAN, draft_plan=SAMPLE_PLAN)
        body = "topic=0&t0-title=Lim%00its&t0-sub=One%00-sided&t0-sub=&action=save"

        response = self.client.post(
            f"/sessions/{session.pk}/plan",
            body,
            content_type="application/x-www-form-urlencoded",
        )

        self.assertEqual(response.status_code, 302)
        session.refresh_from_db()
        self.assertEqual(
            session.draft_plan, [{"order_index": 1, "title": "Limits", "subtopics": ["One-sided"]}]
        )


class PlanValidatorTests(SimpleTestCase):
    def test_nul_and_lone_surrogates_are_removed_from_titles_and_subtopics(self):
        plan = normalize_plan([{"title": "Lim\x00its\ud800", "subtopics": ["\udc00Series\x00"]}])

        self.assertEqual(plan, [{"order_index": 1, "title": "Limits", "subtopics": ["Series"]}])

    def test_a_title_made_only_of_nuls_is_an_empty_topic_and_dropped(self):
        self.assertEqual(normalize_plan([{"title": "\x00\x00"}]), [])


class FileNameTests(SimpleTestCase):
    def test_nul_and_surrogates_are_removed_from_file_names(self):
        self.assertEqual(clean_file_name("no\x00tes\udcff.md"), "notes.md")


class ModelOutputTests(StreamTestCase):
    async def test_a_model_answer_with_nul_and_a_lone_surrogate_is_repaired_and_saved(self):
        def answer(request):
            plan = [dict(topic) for topic in WEEK_PLANS[document_in(request)]]
            plan[0] = {**plan[0], "title": plan[0]["title"] + "\u0000\ud800"}
            # json.dumps escapes both as \\u0000 and \\ud800, as a model would write them.
            return Reply.answer(request, json.dumps({"topics": plan}), chunk_size=16)

        self.provider.responder = answer

        events, _, _ = await read_all(await self.open_stream())

        self.assertEqual(events[-1].event, "completed", events[-1].data)
        session = await StudySession.objects.aget(pk=self.session.pk)
        self.assertEqual(session.status, StudySession.Status.EDITING_PLAN)
        self.assertEqual(session.draft_plan, WEEK_PLANS["week3.md"])


class StaticTraversalTests(SimpleTestCase):
    async def get(self, path: str) -> int:
        scope = http_scope(path)
        communicator = ApplicationCommunicator(application, scope)
        await communicator.send_input({"type": "http.request", "body": b""})
        start = await communicator.receive_output(timeout=10)
        while (await communicator.receive_output(timeout=10)).get("more_body"):
            pass
        return start["status"]

    async def test_an_encoded_dot_dot_under_static_is_a_404(self):
        # The server decodes %2e%2e before Django sees the path.
        for path in ("/static/../studyplanner/settings.py", "/static/css/../../manage.py"):
            with self.subTest(path=path):
                self.assertEqual(await self.get(path), 404)

    async def test_a_real_static_file_is_still_served(self):
        self.assertEqual(await self.get("/static/css/app.css"), 200)


class AskInputTests(AskTestCase):
    def setUp(self):
        super().setUp()
        self.client.force_login(self.owner)

    def test_a_question_given_as_a_list_is_a_400_naming_the_field(self):
        response = self.client.post(
            self.url, json.dumps({"question": ["inode"]}), content_type="application/json"
        )

        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["fields"], {"question": ["Must be text, not a list."]})

    def test_a_nul_in_a_question_is_removed_before_it_is_stored(self):
        response = self.client.post(self.url, {"question": "ino\x00de?"}, headers=JSON)

        self.assertEqual(response.status_code, 200)
        self.assertEqual(Question.objects.get().text, "inode?")


class ModelAnswerToQuestionTests(FakeProviderMixin, AskTestCase):
    builder = "openrouter"

    async def test_nuls_in_a_model_answer_are_removed_before_it_is_shown_or_stored(self):
        self.provider.enqueue(Reply.stream("An image\u0000 is a template [1].", chunk_size=4))

        events, _, _ = await read_all(await self.ask_stream("What is an image?"))

        self.assertEqual(events[-1].event, "done", events[-1].data)
        tokens = "".join(e.json["text"] for e in events if e.event == "token")
        self.assertEqual(tokens, "An image is a template [1].")
        question = await Question.objects.aget()
        self.assertEqual(question.answer, "An image is a template [1].")
