import json

from sessions_app.models import StudySession
from tests.base import SAMPLE_PLAN, AppTestCase

JSON = {"accept": "application/json"}


class SessionListTests(AppTestCase):
    def setUp(self):
        self.client.force_login(self.owner)

    def test_list_shows_only_my_sessions_with_status_and_document_count(self):
        mine = self.make_session(title="Linear algebra")
        self.make_document(mine)
        self.make_session(owner=self.other, title="Someone else's")

        response = self.client.get("/sessions/")

        self.assertContains(response, "Linear algebra")
        self.assertContains(response, "1 document")
        self.assertContains(response, "Ready to generate")
        self.assertNotContains(response, "Someone else")

    def test_list_as_json(self):
        session = self.make_session()

        response = self.client.get("/sessions/", headers=JSON)

        self.assertEqual(response.status_code, 200)
        [item] = response.json()["sessions"]
        self.assertEqual(item["id"], str(session.pk))
        self.assertEqual(item["status"], "UPLOADING")
        self.assertEqual(item["document_count"], 0)

    def test_create_from_the_form_redirects_to_the_new_session(self):
        response = self.client.post(
            "/sessions/", {"title": "  Organic   chemistry ", "language": "de"}
        )

        session = StudySession.objects.get()
        self.assertRedirects(response, f"/sessions/{session.pk}/")
        self.assertEqual(session.title, "Organic chemistry")
        self.assertEqual(session.language, "de")
        self.assertEqual(session.owner, self.owner)
        self.assertEqual(session.status, StudySession.Status.UPLOADING)
        self.assertEqual(session.draft_plan, [])

    def test_create_from_json_returns_201_and_the_session(self):
        response = self.client.post(
            "/sessions/",
            json.dumps({"title": "Statistics", "language": "pt-br"}),
            content_type="application/json",
            headers=JSON,
        )

        self.assertEqual(response.status_code, 201)
        body = response.json()
        self.assertEqual(body["title"], "Statistics")
        self.assertEqual(body["language"], "pt-BR")
        self.assertEqual(body["status"], "UPLOADING")
        self.assertEqual(body["documents"], [])
        self.assertEqual(body["draft_plan"], [])
        self.assertTrue(StudySession.objects.filter(pk=body["id"], owner=self.owner).exists())

    def test_invalid_form_shows_the_errors_with_400(self):
        response = self.client.post("/sessions/", {"title": "  ", "language": "not a language"})

        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "Use a language code such as en", status_code=400)
        self.assertFalse(StudySession.objects.exists())

    def test_invalid_json_gets_400_with_field_errors(self):
        response = self.client.post(
            "/sessions/",
            json.dumps({"language": "en"}),
            content_type="application/json",
            headers=JSON,
        )

        self.assertEqual(response.status_code, 400)
        self.assertIn("title", response.json()["fields"])

    def test_json_fields_that_are_not_text_get_400_not_their_repr_as_a_title(self):
        for body in [
            {"title": ["Statistics", "II"], "language": "en"},
            {"title": 123, "language": "en"},
            {"title": "Statistics", "language": {"code": "en"}},
        ]:
            with self.subTest(body=body):
                response = self.client.post(
                    "/sessions/", json.dumps(body), content_type="application/json", headers=JSON
                )
                self.assertEqual(response.status_code, 400)
                field = next(name for name, value in body.items() if not isinstance(value, str))
                self.assertIn("must be text", response.json()["fields"][field][0].lower())
        self.assertFalse(StudySession.objects.exists())

    def test_malformed_json_body_gets_400(self):
        for body in ["{not json", "[1, 2]", '"just a string"']:
            with self.subTest(body=body):
                response = self.client.post(
                    "/sessions/", body, content_type="application/json", headers=JSON
                )
                self.assertEqual(response.status_code, 400)
                self.assertIn("error", response.json())

    def test_new_session_language_defaults_from_accept_language(self):
        response = self.client.get(
            "/sessions/", headers={"accept-language": "fr-CA,fr;q=0.9,en;q=0.8"}
        )

        self.assertEqual(response.context["form"]["language"].value(), "fr-CA")

    def test_new_session_language_falls_back_to_english(self):
        response = self.client.get("/sessions/", headers={"accept-language": "*"})

        self.assertEqual(response.context["form"]["language"].value(), "en")


class SessionDetailTests(AppTestCase):
    def setUp(self):
        self.client.force_login(self.owner)

    def test_detail_as_json_has_the_contract_fields(self):
        session = self.make_session(draft_plan=SAMPLE_PLAN)
        document = self.make_document(session, name="week1.pdf")
        self.make_document(
            session, name="broken.pdf", status="FAILED", error="This PDF is password-protected"
        )

        response = self.client.get(f"/sessions/{session.pk}/", headers=JSON)

        body = response.json()
        self.assertEqual(
            set(body) >= {"id", "title", "language", "status", "documents", "draft_plan"}, True
        )
        self.assertEqual(body["draft_plan"], SAMPLE_PLAN)
        first = body["documents"][0]
        self.assertEqual(
            {key: first[key] for key in ("id", "name", "status", "error")},
            {"id": str(document.pk), "name": "week1.pdf", "status": "COMPLETED", "error": ""},
        )
        self.assertEqual(body["documents"][1]["error"], "This PDF is password-protected")

    def test_detail_page_escapes_titles_from_documents(self):
        session = self.make_session(
            title="<b>bold</b>",
            draft_plan=[{"order_index": 1, "title": "<script>x()</script>", "subtopics": []}],
        )

        response = self.client.get(f"/sessions/{session.pk}/")

        self.assertContains(response, "&lt;script&gt;x()&lt;/script&gt;")
        self.assertNotContains(response, "<script>x()</script>")
        self.assertNotContains(response, "<b>bold</b>")

    def test_the_generate_button_swaps_in_the_live_panel_connected_to_the_stream(self):
        session = self.make_session()
        self.make_document(session)

        response = self.client.get(
            f"/sessions/{session.pk}/?panel=live", headers={"hx-request": "true"}
        )

        html = response.content.decode()
        self.assertTrue(html.lstrip().startswith('<section id="generation"'), html[:200])
        self.assertIn(
            f'sse-connect="/sessions/{session.pk}/generate-plan?format=html&amp;attach=1"', html
        )
        self.assertIn('sse-close="completed"', html)
        self.assertIn('aria-live="polite"', html)
        self.assertNotIn("{#", html)  # no template syntax leaks into the page
