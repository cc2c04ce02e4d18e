"""The plan editor (SPEC §6, §8): JSON and form edits go through the same validation."""

import json
import shutil
import tempfile
from pathlib import Path

from django.core.files.base import ContentFile
from django.test import override_settings

from sessions_app.models import Document, StudySession
from tests.base import SAMPLE_PLAN, AppTestCase

JSON = {"accept": "application/json"}
HTMX = {"hx-request": "true"}


class EditorTestCase(AppTestCase):
    def setUp(self):
        self.session = self.make_session(
            status=StudySession.Status.EDITING_PLAN, draft_plan=SAMPLE_PLAN
        )
        self.url = f"/sessions/{self.session.pk}/plan"
        self.client.force_login(self.owner)

    def saved_plan(self):
        self.session.refresh_from_db()
        return self.session.draft_plan

    def form(self, topics, action="save"):
        """The editor form as the page posts it: keys in page order, then the blank rows."""
        data = {"topic": [], "action": action}
        for key, title, subtopics in topics:
            data["topic"].append(key)
            data[f"t{key}-title"] = title
            data[f"t{key}-sub"] = [*subtopics, ""]  # the blank "add a subtopic" field
        data["topic"].append("new")
        data["tnew-title"] = ""
        data["tnew-sub"] = [""]
        return data

    def current_rows(self):
        return [(str(n), t["title"], t["subtopics"]) for n, t in enumerate(self.saved_plan())]


class JsonEditorTests(EditorTestCase):
    def post_json(self, body):
        return self.client.post(
            self.url, json.dumps(body), content_type="application/json", headers=JSON
        )

    def test_get_returns_the_plan(self):
        response = self.client.get(self.url, headers=JSON)

        self.assertEqual(response.json(), {"status": "EDITING_PLAN", "plan": SAMPLE_PLAN})

    def test_a_valid_plan_is_normalised_and_saved(self):
        response = self.post_json(
            {"plan": [{"title": " Series ", "subtopics": ["Ratio test", ""]}]}
        )

        expected = [{"order_index": 1, "title": "Series", "subtopics": ["Ratio test"]}]
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"plan": expected})
        self.assertEqual(self.saved_plan(), expected)

    def test_an_invalid_plan_is_400_with_every_problem_and_nothing_is_saved(self):
        response = self.post_json({"plan": [{"title": 5}, {"title": "ok", "subtopics": [None, 7]}]})

        self.assertEqual(response.status_code, 400)
        problems = response.json()["problems"]
        self.assertEqual([(p["topic"], p["subtopic"]) for p in problems], [(1, None), (2, 2)])
        self.assertIn("title must be text", problems[0]["message"])
        self.assertEqual(self.saved_plan(), SAMPLE_PLAN)

    def test_a_body_without_a_plan_or_not_json_is_400(self):
        self.assertEqual(self.post_json({"topics": []}).status_code, 400)
        response = self.client.post(
            self.url, "{oops", content_type="application/json", headers=JSON
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("not valid JSON", response.json()["error"])

    def test_a_body_nested_too_deep_for_the_json_parser_is_400_not_a_500(self):
        body = '{"plan": ' + "[" * 100_000 + "]" * 100_000 + "}"

        response = self.client.post(self.url, body, content_type="application/json", headers=JSON)

        self.assertEqual(response.status_code, 400)
        self.assertIn("nests deeper", response.json()["error"])
        self.assertEqual(self.saved_plan(), SAMPLE_PLAN)

    def test_control_characters_in_titles_are_removed_not_stored(self):
        response = self.post_json(
            {"plan": [{"title": "Ser\x01ies\x07", "subtopics": ["Ratio\x1b test"]}]}
        )

        self.assertEqual(response.status_code, 200, response.content)
        expected = [{"order_index": 1, "title": "Series", "subtopics": ["Ratio test"]}]
        self.assertEqual(self.saved_plan(), expected)

    def test_a_nul_in_a_json_plan_is_400_and_the_plan_stays(self):
        # PostgreSQL refuses a NUL in jsonb: stored as is, it was a 500 there.
        response = self.post_json({"plan": [{"title": "Ser\x00ies", "subtopics": []}]})

        self.assertEqual(response.status_code, 400, response.content)
        self.assertEqual(self.saved_plan(), SAMPLE_PLAN)

    def test_editing_before_the_plan_exists_is_409(self):
        StudySession.objects.filter(pk=self.session.pk).update(status=StudySession.Status.UPLOADING)

        response = self.post_json({"plan": SAMPLE_PLAN})

        self.assertEqual(response.status_code, 409)


class FormEditorTests(EditorTestCase):
    def test_rename_and_save_without_javascript_redirects_back(self):
        rows = self.current_rows()
        rows[0] = ("0", "Limits and continuity", rows[0][2])

        response = self.client.post(self.url, self.form(rows))

        self.assertRedirects(
            response, f"/sessions/{self.session.pk}/#plan-editor", fetch_redirect_response=False
        )
        self.assertEqual(self.saved_plan()[0]["title"], "Limits and continuity")

    def test_move_up_and_down_reorder_and_save(self):
        self.client.post(self.url, self.form(self.current_rows(), action="up:1"))

        self.assertEqual([t["title"] for t in self.saved_plan()], ["Derivatives", "Limits"])
        self.assertEqual([t["order_index"] for t in self.saved_plan()], [1, 2])

        self.client.post(self.url, self.form(self.current_rows(), action="down:0"))

        self.assertEqual([t["title"] for t in self.saved_plan()], ["Limits", "Derivatives"])

    def test_delete_a_topic_and_a_subtopic(self):
        self.client.post(self.url, self.form(self.current_rows(), action="delete-sub:0:0"))
        self.assertEqual(self.saved_plan()[0]["subtopics"], ["One-sided limits"])

        self.client.post(self.url, self.form(self.current_rows(), action="delete:1"))
        self.assertEqual([t["title"] for t in self.saved_plan()], ["Limits"])

    def test_the_blank_rows_add_a_topic_and_a_subtopic_when_filled(self):
        data = self.form(self.current_rows())
        data["t1-sub"] = ["Product rule", "Quotient rule"]
        data["tnew-title"] = "Integrals"
        data["tnew-sub"] = ["Riemann sums"]

        self.client.post(self.url, data)

        plan = self.saved_plan()
        self.assertEqual(plan[1]["subtopics"], ["Product rule", "Quotient rule"])
        self.assertEqual(
            plan[2], {"order_index": 3, "title": "Integrals", "subtopics": ["Riemann sums"]}
        )

    def test_an_invalid_edit_shows_the_error_next_to_its_field_and_saves_nothing(self):
        rows = self.current_rows()
        rows[1] = ("1", "  ", rows[1][2])  # subtopics without a title
        rows[0] = ("0", "Limits", ["x" * 201])

        response = self.client.post(self.url, self.form(rows), headers=HTMX)

        self.assertEqual(response.status_code, 422)
        html = response.content.decode()
        self.assertNotIn("<html", html)  # the editor fragment only
        self.assertIn("The plan wasn't saved.", html)
        _, topic_one, topic_two, new_topic = html.split('<li class="editor-topic')
        self.assertIn('aria-invalid="true"', topic_one)
        self.assertIn("is 201 characters long; the limit is 200", topic_one)
        self.assertIn('id="t1-title"', topic_two)
        self.assertIn("has subtopics but no title", topic_two)
        self.assertNotIn("errorlist", new_topic)
        self.assertEqual(self.saved_plan(), SAMPLE_PLAN)

    def test_a_new_row_that_fails_keeps_its_text_and_the_page_keeps_one_blank_row(self):
        data = self.form(self.current_rows())
        data["tnew-sub"] = ["Riemann sums"]  # a subtopic, but the new topic has no title

        response = self.client.post(self.url, data, headers=HTMX)

        html = response.content.decode()
        self.assertEqual(response.status_code, 422)
        self.assertEqual(html.count('name="tnew-title"'), 1)
        *_, failed_row, blank_row = html.split('<li class="editor-topic')
        self.assertIn(">Riemann sums</textarea>", failed_row)
        self.assertIn("has subtopics but no title", failed_row)
        self.assertNotIn("errorlist", blank_row)

    def test_two_topics_with_the_same_title_are_reported_not_merged(self):
        rows = self.current_rows()
        rows[1] = ("1", "limits", rows[1][2])

        response = self.client.post(self.url, self.form(rows), headers=HTMX)

        self.assertEqual(response.status_code, 422)
        _, first, second, _ = response.content.decode().split('<li class="editor-topic')
        self.assertIn("topic 1 already has this title", second)
        self.assertNotIn("errorlist", first)
        self.assertEqual(self.saved_plan(), SAMPLE_PLAN)

    def test_htmx_gets_the_editor_fragment_with_the_saved_state_and_focus(self):
        response = self.client.post(self.url, self.form(self.current_rows(), "up:1"), headers=HTMX)

        html = response.content.decode()
        self.assertEqual(response.status_code, 200)
        self.assertTrue(html.lstrip().startswith('<section id="plan-editor"'))
        self.assertIn("Plan saved.", html)
        # The moved topic ("Derivatives", now first and saved as row 0) keeps focus on its
        # own control: ↓, since ↑ is disabled in the first place.
        self.assertIn('data-focus="down-0"', html)
        first_row = html.split('<li class="editor-topic')[1]
        self.assertIn('data-key="0"', first_row)
        self.assertIn(">Derivatives</textarea>", first_row)

    def test_after_a_move_down_focus_is_on_the_moved_topics_own_control(self):
        self.session.draft_plan = [
            *SAMPLE_PLAN,
            {"order_index": 3, "title": "Series", "subtopics": []},
        ]
        self.session.save()

        response = self.client.post(
            self.url, self.form(self.current_rows(), "down:0"), headers=HTMX
        )

        html = response.content.decode()
        self.assertIn('data-focus="down-1"', html)
        moved_row = html.split('<li class="editor-topic')[2]
        self.assertIn('data-key="1"', moved_row)
        self.assertIn(">Limits</textarea>", moved_row)

    def test_a_tampered_button_value_or_undo_position_is_ignored_not_a_500(self):
        # "²".isdigit() is True but int("²") raises: such values used to crash the view.
        rows = self.current_rows()
        for action, extra in [
            ("delete-sub:0:²", {}),
            ("sub-up:0:١٢", {}),
            ("undo-delete", {"undo-title": "Integrals", "undo-position": "²"}),
        ]:
            with self.subTest(action=action, **extra):
                response = self.client.post(self.url, {**self.form(rows, action), **extra})

                self.assertEqual(response.status_code, 302)
                self.assertEqual(self.saved_plan(), SAMPLE_PLAN)


class FullSizePlanTests(EditorTestCase):
    def test_a_plan_at_the_size_limits_saves_through_the_form(self):
        plan = [
            {
                "order_index": n + 1,
                "title": f"Topic {n}",
                "subtopics": [f"Idea {n}.{m}" for m in range(30)],
            }
            for n in range(60)
        ]
        StudySession.objects.filter(pk=self.session.pk).update(draft_plan=plan)

        response = self.client.post(self.url, self.form(self.current_rows(), action="up:59"))

        self.assertEqual(response.status_code, 302)
        self.assertEqual(self.saved_plan()[58]["title"], "Topic 59")


class ReopenTests(EditorTestCase):
    def test_add_more_documents_reopens_the_session_and_keeps_the_plan(self):
        response = self.client.post(f"/sessions/{self.session.pk}/reopen", headers=JSON)

        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["status"], "UPLOADING")
        self.assertEqual(self.saved_plan(), SAMPLE_PLAN)

    def test_reopening_an_uploading_session_is_409(self):
        StudySession.objects.filter(pk=self.session.pk).update(status=StudySession.Status.UPLOADING)

        response = self.client.post(f"/sessions/{self.session.pk}/reopen", headers=JSON)

        self.assertEqual(response.status_code, 409)


class DeleteSessionTests(AppTestCase):
    def setUp(self):
        media = tempfile.mkdtemp(prefix="studyplanner-media-")
        self.addCleanup(shutil.rmtree, media, ignore_errors=True)
        self.enterContext(override_settings(MEDIA_ROOT=media))
        self.media = Path(media)
        self.client.force_login(self.owner)

    def test_the_confirmation_page_then_delete_removes_session_documents_and_files(self):
        session = self.make_session(title="Old course")
        document = self.make_document(session)
        document.file.save("notes.md", ContentFile(b"# Notes"), save=True)
        stored = self.media / document.file.name
        self.assertTrue(stored.exists())

        page = self.client.get(f"/sessions/{session.pk}/delete")
        self.assertContains(page, "Delete “Old course”?")
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(f"/sessions/{session.pk}/delete")

        self.assertRedirects(response, "/sessions/", fetch_redirect_response=False)
        self.assertFalse(StudySession.objects.filter(pk=session.pk).exists())
        self.assertFalse(Document.objects.filter(pk=document.pk).exists())
        self.assertFalse(stored.exists())

    def test_a_running_generation_is_not_deleted(self):
        session = self.make_session()
        self.make_document(session)
        session.claim_for_generation()

        response = self.client.post(f"/sessions/{session.pk}/delete", headers=JSON)

        self.assertEqual(response.status_code, 409)
        self.assertTrue(StudySession.objects.filter(pk=session.pk).exists())
