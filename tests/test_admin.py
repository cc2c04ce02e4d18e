from datetime import timedelta

from django.contrib.admin.models import CHANGE, LogEntry
from django.utils import timezone

from sessions_app.models import GenerationRun, StudySession
from tests.base import SAMPLE_PLAN, AppTestCase

CHANGELIST = "/admin/sessions_app/studysession/"


class StudySessionAdminTests(AppTestCase):
    def setUp(self):
        self.client.force_login(self.staff)

    def test_changelist_shows_owner_status_document_count_and_stale_flag(self):
        session = self.make_session(
            status=StudySession.Status.GENERATING_PLAN,
            generation_heartbeat_at=timezone.now() - timedelta(hours=1),
        )
        self.make_document(session)
        self.make_document(session, name="b.md")

        response = self.client.get(CHANGELIST)

        self.assertContains(response, "Calculus I")
        self.assertContains(response, "owner")
        self.assertContains(response, "Generating plan")
        self.assertContains(response, '<td class="field-document_count">2</td>', html=True)
        self.assertContains(response, 'alt="True"')  # the stale icon

    def test_stale_filter_lists_only_stale_sessions(self):
        self.make_session(
            title="Fresh one",
            status=StudySession.Status.GENERATING_PLAN,
            generation_heartbeat_at=timezone.now(),
        )
        self.make_session(
            title="Dead one",
            status=StudySession.Status.GENERATING_PLAN,
            generation_heartbeat_at=timezone.now() - timedelta(hours=1),
        )

        response = self.client.get(CHANGELIST + "?stale=yes")

        self.assertContains(response, "Dead one")
        self.assertNotContains(response, "Fresh one")

    def test_change_page_shows_the_plan_readably_and_escaped(self):
        plan = [
            {"order_index": 1, "title": "<script>alert(1)</script>", "subtopics": ["Sub & more"]}
        ]
        session = self.make_session(draft_plan=plan)

        response = self.client.get(f"{CHANGELIST}{session.pk}/change/")

        self.assertContains(response, "&lt;script&gt;alert(1)&lt;/script&gt;")
        self.assertNotContains(response, "<script>alert(1)</script>")
        self.assertContains(response, "<li>Sub &amp; more</li>", html=True)

    def test_reset_action_returns_a_stuck_session_to_uploading_and_is_logged(self):
        session = self.make_session()
        self.make_document(session)
        session.claim_for_generation()
        session.request_cancel()
        GenerationRun.objects.create(session=session, builder="offline")

        response = self.client.post(
            CHANGELIST, {"action": "reset_status", "_selected_action": [session.pk]}, follow=True
        )

        self.assertContains(response, "Reset 1 session(s) to UPLOADING.")
        session.refresh_from_db()
        self.assertEqual(session.status, StudySession.Status.UPLOADING)
        self.assertIsNone(session.generation_heartbeat_at)
        self.assertIsNone(session.cancel_requested_at)
        entry = LogEntry.objects.get(object_id=str(session.pk))
        self.assertEqual(entry.user, self.staff)
        self.assertEqual(entry.action_flag, CHANGE)
        self.assertIn("GENERATING_PLAN to UPLOADING", entry.get_change_message())
        self.assertFalse(
            GenerationRun.objects.filter(outcome=GenerationRun.Outcome.RUNNING).exists()
        )

    def test_clear_draft_plan_action_clears_plan_and_progress_and_is_logged(self):
        session = self.make_session(
            status=StudySession.Status.EDITING_PLAN,
            draft_plan=SAMPLE_PLAN,
            folded_document_ids=["x"],
        )

        self.client.post(
            CHANGELIST, {"action": "clear_draft_plan", "_selected_action": [session.pk]}
        )

        session.refresh_from_db()
        self.assertEqual(session.draft_plan, [])
        self.assertEqual(session.folded_document_ids, [])
        self.assertTrue(LogEntry.objects.filter(object_id=str(session.pk)).exists())

    def test_clear_draft_plan_skips_a_live_generation(self):
        session = self.make_session(draft_plan=SAMPLE_PLAN)
        self.make_document(session)
        session.claim_for_generation()

        response = self.client.post(
            CHANGELIST,
            {"action": "clear_draft_plan", "_selected_action": [session.pk]},
            follow=True,
        )

        self.assertContains(response, "is generating right now")
        session.refresh_from_db()
        self.assertEqual(session.draft_plan, SAMPLE_PLAN)

    def test_editing_a_session_in_the_admin_keeps_what_a_generation_wrote_meanwhile(self):
        session = self.make_session(title="Old title")
        form_page = self.client.get(f"{CHANGELIST}{session.pk}/change/")
        self.assertEqual(form_page.status_code, 200)
        StudySession.objects.filter(pk=session.pk).update(draft_plan=SAMPLE_PLAN)  # a run saved

        self.client.post(
            f"{CHANGELIST}{session.pk}/change/",
            {
                "owner": self.owner.pk,
                "title": "New title",
                "language": "en",
                "documents-TOTAL_FORMS": 0,
                "documents-INITIAL_FORMS": 0,
            },
        )

        session.refresh_from_db()
        self.assertEqual(session.title, "New title")
        self.assertEqual(session.draft_plan, SAMPLE_PLAN)


class GenerationRunAdminTests(AppTestCase):
    def test_runs_are_listed_read_only(self):
        session = self.make_session()
        run = GenerationRun.objects.create(
            session=session,
            builder="openrouter",
            model="m",
            prompt_tokens=120,
            completion_tokens=40,
            outcome=GenerationRun.Outcome.FAILED,
            error="The provider is overloaded.",
        )
        self.client.force_login(self.staff)

        listing = self.client.get("/admin/sessions_app/generationrun/")
        change = self.client.post(
            f"/admin/sessions_app/generationrun/{run.pk}/change/", {"error": "edited"}
        )

        self.assertContains(listing, "The provider is overloaded.")
        self.assertContains(listing, "120")
        self.assertEqual(change.status_code, 403)
        self.assertEqual(self.client.get("/admin/sessions_app/generationrun/add/").status_code, 403)

    def test_a_running_run_shows_what_its_session_journal_says_it_has_done(self):
        session = self.make_session(title="Running")
        run = GenerationRun.objects.create(session=session, builder="openrouter", model="m")
        processed = [{"seq": 3, "doc": 1, "document": "a.md"}, {"seq": 5, "doc": 2}]
        usage = {"prompt_tokens": 987, "completion_tokens": 65, "cost": None, "model": "m"}
        StudySession.objects.filter(pk=session.pk).update(
            generation_journal={"run": str(run.pk), "processed": processed, "usage": usage}
        )
        self.client.force_login(self.staff)

        listing = self.client.get("/admin/sessions_app/generationrun/")
        page = self.client.get(f"/admin/sessions_app/generationrun/{run.pk}/change/")

        self.assertContains(listing, "987 / 65")
        self.assertContains(listing, '<td class="field-documents_done">2</td>', html=True)
        self.assertContains(page, "987")
