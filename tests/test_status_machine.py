from datetime import timedelta

from asgiref.sync import async_to_sync
from django.test import override_settings
from django.utils import timezone

from plans.schema import normalize_plan
from sessions_app.models import (
    Document,
    GenerationRefused,
    GenerationRun,
    HeartbeatState,
    LostClaim,
    StudySession,
    sweep_abandoned,
)
from tests.base import SAMPLE_PLAN, AppTestCase

Status = StudySession.Status


class ClaimForGenerationTests(AppTestCase):
    def test_claim_from_uploading_with_a_completed_document(self):
        session = self.make_session()
        self.make_document(session)

        session.claim_for_generation()

        session.refresh_from_db()
        self.assertEqual(session.status, Status.GENERATING_PLAN)
        self.assertIsNotNone(session.generation_token)
        self.assertIsNotNone(session.generation_heartbeat_at)

    def test_claim_without_documents_is_refused(self):
        session = self.make_session()

        with self.assertRaises(GenerationRefused) as caught:
            session.claim_for_generation()

        self.assertEqual(caught.exception.reason, "no_completed_document")
        session.refresh_from_db()
        self.assertEqual(session.status, Status.UPLOADING)

    def test_claim_with_only_failed_or_pending_documents_is_refused(self):
        session = self.make_session()
        self.make_document(session, status=Document.Status.FAILED, error="Broken")
        self.make_document(session, name="b.md", status=Document.Status.PENDING)

        with self.assertRaises(GenerationRefused) as caught:
            session.claim_for_generation()

        self.assertEqual(caught.exception.reason, "no_completed_document")

    def test_claim_while_another_generation_is_alive_is_refused(self):
        session = self.make_session()
        self.make_document(session)
        session.claim_for_generation()
        second = StudySession.objects.get(pk=session.pk)

        with self.assertRaises(GenerationRefused) as caught:
            second.claim_for_generation()

        self.assertEqual(caught.exception.reason, "already_generating")

    def test_claim_while_editing_is_refused(self):
        session = self.make_session(status=Status.EDITING_PLAN, draft_plan=SAMPLE_PLAN)
        self.make_document(session)

        with self.assertRaises(GenerationRefused) as caught:
            session.claim_for_generation()

        self.assertEqual(caught.exception.reason, "editing_plan")
        session.refresh_from_db()
        self.assertEqual(session.status, Status.EDITING_PLAN)

    @override_settings(PLAN_STALE_AFTER=120)
    def test_stale_generation_is_taken_over(self):
        session = self.make_session()
        self.make_document(session)
        session.claim_for_generation()
        dead_token = session.generation_token
        run = GenerationRun.objects.create(session=session, builder="offline")
        StudySession.objects.filter(pk=session.pk).update(
            generation_heartbeat_at=timezone.now() - timedelta(seconds=121)
        )
        newcomer = StudySession.objects.get(pk=session.pk)
        self.assertTrue(newcomer.is_stale)

        newcomer.claim_for_generation()

        self.assertEqual(newcomer.status, Status.GENERATING_PLAN)
        self.assertNotEqual(newcomer.generation_token, dead_token)
        run.refresh_from_db()
        self.assertEqual(run.outcome, GenerationRun.Outcome.FAILED)
        self.assertIn("stopped responding", run.error)

    @override_settings(PLAN_STALE_AFTER=120)
    def test_generation_just_inside_the_stale_limit_is_not_taken_over(self):
        session = self.make_session()
        self.make_document(session)
        session.claim_for_generation()
        StudySession.objects.filter(pk=session.pk).update(
            generation_heartbeat_at=timezone.now() - timedelta(seconds=100)
        )

        with self.assertRaises(GenerationRefused):
            StudySession.objects.get(pk=session.pk).claim_for_generation()

    def test_taken_over_worker_can_no_longer_write(self):
        session = self.make_session()
        self.make_document(session)
        session.claim_for_generation()
        StudySession.objects.filter(pk=session.pk).update(
            generation_heartbeat_at=timezone.now() - timedelta(days=1)
        )
        StudySession.objects.get(pk=session.pk).claim_for_generation()

        self.assertEqual(session.heartbeat(), HeartbeatState.LOST)
        with self.assertRaises(LostClaim):
            session.save_progress(SAMPLE_PLAN, ["x"])
        with self.assertRaises(LostClaim):
            session.complete_with_plan(SAMPLE_PLAN)
        self.assertFalse(session.release_to_uploading())
        fresh = StudySession.objects.get(pk=session.pk)
        self.assertEqual(fresh.status, Status.GENERATING_PLAN)
        self.assertEqual(fresh.draft_plan, [])


class GeneratingTransitionsTests(AppTestCase):
    def setUp(self):
        self.session = self.make_session()
        self.document = self.make_document(self.session)
        self.session.claim_for_generation()

    def test_heartbeat_refreshes_the_timestamp(self):
        before = self.session.generation_heartbeat_at
        StudySession.objects.filter(pk=self.session.pk).update(
            generation_heartbeat_at=before - timedelta(seconds=30)
        )

        self.assertEqual(self.session.heartbeat(), HeartbeatState.OWNED)

        self.session.refresh_from_db()
        self.assertGreaterEqual(self.session.generation_heartbeat_at, before)

    def test_cancel_flag_set_elsewhere_is_seen_on_the_next_heartbeat(self):
        elsewhere = StudySession.objects.get(pk=self.session.pk)
        self.assertTrue(elsewhere.request_cancel())

        self.assertEqual(self.session.heartbeat(), HeartbeatState.CANCEL_REQUESTED)

    def test_cancel_without_a_running_generation_does_nothing(self):
        self.session.release_to_uploading()

        self.assertFalse(self.session.request_cancel())
        self.session.refresh_from_db()
        self.assertIsNone(self.session.cancel_requested_at)

    def test_save_progress_stores_plan_and_folded_documents(self):
        self.session.save_progress(SAMPLE_PLAN, [str(self.document.id)])

        self.session.refresh_from_db()
        self.assertEqual(self.session.draft_plan, SAMPLE_PLAN)
        self.assertEqual(self.session.folded_document_ids, [str(self.document.id)])
        self.assertEqual(self.session.progress().done, 1)

    def test_release_to_uploading_keeps_progress(self):
        self.session.save_progress(SAMPLE_PLAN, [str(self.document.id)])

        self.assertTrue(self.session.release_to_uploading())

        self.session.refresh_from_db()
        self.assertEqual(self.session.status, Status.UPLOADING)
        self.assertEqual(self.session.draft_plan, SAMPLE_PLAN)
        self.assertEqual(self.session.folded_document_ids, [str(self.document.id)])
        self.assertIsNone(self.session.generation_token)
        self.assertIsNone(self.session.generation_heartbeat_at)

    def test_complete_with_plan_moves_to_editing_with_the_normalised_plan(self):
        self.session.complete_with_plan(
            normalize_plan([{"title": "  Limits ", "subtopics": ["a", ""]}])
        )

        self.session.refresh_from_db()
        self.assertEqual(self.session.status, Status.EDITING_PLAN)
        self.assertEqual(
            self.session.draft_plan, [{"order_index": 1, "title": "Limits", "subtopics": ["a"]}]
        )
        self.assertIsNone(self.session.generation_token)

    def test_save_progress_reports_a_cancel_requested_elsewhere(self):
        self.assertFalse(self.session.save_progress(SAMPLE_PLAN, [str(self.document.id)]))
        StudySession.objects.get(pk=self.session.pk).request_cancel()

        self.assertTrue(self.session.save_progress(SAMPLE_PLAN, [str(self.document.id)]))

    def test_async_twins_perform_the_same_transitions(self):
        self.assertEqual(async_to_sync(self.session.aheartbeat)(), HeartbeatState.OWNED)
        self.assertTrue(async_to_sync(self.session.arequest_cancel)())
        self.assertTrue(async_to_sync(self.session.arelease_to_uploading)())

        self.session.refresh_from_db()
        self.assertEqual(self.session.status, Status.UPLOADING)
        self.assertIsNone(self.session.cancel_requested_at)

    @override_settings(PLAN_STALE_AFTER=120)
    def test_an_abandoned_generation_is_released_but_a_live_one_is_not(self):
        run = GenerationRun.objects.create(session=self.session, builder="offline")

        self.assertFalse(self.session.release_if_abandoned(15))  # heartbeat just now

        StudySession.objects.filter(pk=self.session.pk).update(
            generation_heartbeat_at=timezone.now() - timedelta(seconds=20)
        )
        self.assertTrue(self.session.release_if_abandoned(15))
        self.assertEqual(self.session.status, Status.UPLOADING)
        run.refresh_from_db()
        self.assertEqual(run.outcome, GenerationRun.Outcome.CANCELLED)


class EditingTransitionsTests(AppTestCase):
    def test_reopen_moves_editing_back_to_uploading_and_keeps_the_plan(self):
        session = self.make_session(status=Status.EDITING_PLAN, draft_plan=SAMPLE_PLAN)

        session.reopen()

        session.refresh_from_db()
        self.assertEqual(session.status, Status.UPLOADING)
        self.assertEqual(session.draft_plan, SAMPLE_PLAN)

    def test_reopen_from_uploading_is_refused(self):
        session = self.make_session()

        with self.assertRaises(GenerationRefused):
            session.reopen()

    def test_regeneration_after_reopen_folds_only_new_documents(self):
        session = self.make_session()
        first = self.make_document(session, name="week1.md")
        session.claim_for_generation()
        session.save_progress(SAMPLE_PLAN, [str(first.id)])
        session.complete_with_plan(SAMPLE_PLAN)
        session.reopen()
        second = self.make_document(session, name="week2.md")

        to_fold, start_over = session.documents_to_fold()

        self.assertEqual(to_fold, [second])
        self.assertFalse(start_over)

    def test_deleting_a_folded_document_keeps_the_plan_and_only_forgets_its_id(self):
        session = self.make_session(draft_plan=SAMPLE_PLAN)
        first = self.make_document(session, name="week1.md")
        second = self.make_document(session, name="week2.md")
        session.folded_document_ids = [str(first.id)]
        session.save()
        first.delete()

        to_fold, start_over = session.documents_to_fold()

        self.assertFalse(start_over)
        self.assertEqual(to_fold, [second])
        session.refresh_from_db()
        self.assertEqual(session.folded_document_ids, [])
        self.assertEqual(session.draft_plan, SAMPLE_PLAN)

    def test_save_edited_plan_only_while_editing(self):
        session = self.make_session()

        with self.assertRaises(GenerationRefused):
            session.save_edited_plan(SAMPLE_PLAN)

    def test_staff_reset_clears_generation_state_and_closes_the_run(self):
        session = self.make_session()
        self.make_document(session)
        session.claim_for_generation()
        session.request_cancel()
        run = GenerationRun.objects.create(session=session, builder="offline")

        session.reset_to_uploading()

        self.assertEqual(session.status, Status.UPLOADING)
        self.assertIsNone(session.generation_heartbeat_at)
        self.assertIsNone(session.cancel_requested_at)
        self.assertIsNone(session.generation_token)
        run.refresh_from_db()
        self.assertEqual(run.outcome, GenerationRun.Outcome.FAILED)


class StaleQuerySetTests(AppTestCase):
    @override_settings(PLAN_STALE_AFTER=60)
    def test_stale_lists_only_generating_sessions_with_an_old_heartbeat(self):
        old = timezone.now() - timedelta(seconds=61)
        stale = self.make_session(status=Status.GENERATING_PLAN, generation_heartbeat_at=old)
        self.make_session(status=Status.GENERATING_PLAN, generation_heartbeat_at=timezone.now())
        self.make_session(status=Status.UPLOADING, generation_heartbeat_at=old)

        self.assertEqual(list(StudySession.objects.stale()), [stale])

    def test_owned_by_lists_only_the_users_sessions(self):
        mine = self.make_session()
        self.make_session(owner=self.other)

        self.assertEqual(list(StudySession.objects.owned_by(self.owner)), [mine])


class SweepTests(AppTestCase):
    @override_settings(PLAN_STALE_AFTER=60)
    def test_the_sweep_releases_stale_sessions_and_closes_runs_nobody_owns(self):
        old = timezone.now() - timedelta(seconds=61)
        dead = self.make_session(status=Status.GENERATING_PLAN, generation_heartbeat_at=old)
        live = self.make_session(
            status=Status.GENERATING_PLAN, generation_heartbeat_at=timezone.now()
        )
        dead_run = GenerationRun.objects.create(session=dead, builder="offline")
        live_run = GenerationRun.objects.create(session=live, builder="offline")
        released = self.make_session(status=Status.UPLOADING)
        orphan = GenerationRun.objects.create(session=released, builder="offline")

        self.assertEqual(sweep_abandoned(), (1, 2))

        dead.refresh_from_db()
        self.assertEqual(dead.status, Status.UPLOADING)
        self.assertIsNone(dead.generation_token)
        for run, outcome in ((dead_run, "failed"), (orphan, "failed"), (live_run, "running")):
            run.refresh_from_db()
            self.assertEqual(run.outcome, outcome)
        live.refresh_from_db()
        self.assertEqual(live.status, Status.GENERATING_PLAN)
