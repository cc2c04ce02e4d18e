"""Daily AI quotas (SPEC §16): only AI work counts, the limit is exact, early failures give
their unit back, staff's per-user limits win, and the refusal says when more come."""

from datetime import UTC, datetime

from django.test import override_settings
from django.utils import timezone

from quotas.models import Kind, QuotaOverride, QuotaUsage
from quotas.service import QuotaExceeded, consume, seconds_to_midnight
from sessions_app.models import GenerationRun, StudySession
from studyplanner.db import run_db
from tests.base import AppTestCase
from tests.fakes import FakeProviderMixin, Reply
from tests.plans_scripts import WEEK_PLANS, ScriptedPlans
from tests.streams import read_all

STREAM = {"accept": "text/event-stream"}


def used_today(user, kind=Kind.PLAN) -> int:
    row = QuotaUsage.objects.filter(user=user, kind=kind, day=timezone.now().date()).first()
    return row.used if row else 0


class QuotaTestCase(FakeProviderMixin, AppTestCase):
    def setUp(self):
        super().setUp()
        self.enterContext(
            override_settings(
                PLAN_BUILDER="openrouter", AI_RETRY_MAX_WAIT=0.01, QUOTA_AI_PLAN_RUNS_PER_DAY=2
            )
        )
        self.provider.responder = ScriptedPlans()

    def new_session(self):
        session = self.make_session()
        self.make_document(session, name="week1.md", text="# week1.md\n\nNotes.")
        return session

    async def generate(self, session, **headers):
        await self.async_client.aforce_login(self.owner)
        response = await self.async_client.get(
            f"/sessions/{session.pk}/generate-plan", headers={**STREAM, **headers}
        )
        events = []
        if response.status_code == 200:
            events, _, _ = await read_all(response)
        return response, events

    async def anew_session(self):
        return await run_db(self.new_session)

    async def aused(self, **kwargs):
        return await run_db(used_today, self.owner, **kwargs)


class CountingTests(QuotaTestCase):
    async def test_an_ai_run_takes_one_unit(self):
        _, events = await self.generate(await self.anew_session())

        self.assertEqual(events[-1].event, "completed")
        self.assertEqual(await self.aused(), 1)

    async def test_offline_runs_never_count(self):
        with override_settings(PLAN_BUILDER="offline", QUOTA_AI_PLAN_RUNS_PER_DAY=1):
            for _ in range(3):
                _, events = await self.generate(await self.anew_session())
                self.assertEqual(events[-1].event, "completed")
        self.assertEqual(await self.aused(), 0)
        self.assertEqual(self.provider.requests, [])

    async def test_the_limit_is_exact_and_the_refusal_comes_before_any_stream(self):
        sessions = [await self.anew_session() for _ in range(3)]
        first, _ = await self.generate(sessions[0])
        second, _ = await self.generate(sessions[1])

        before = seconds_to_midnight()
        third, _ = await self.generate(sessions[2])
        after = seconds_to_midnight()

        self.assertEqual([first.status_code, second.status_code], [200, 200])
        self.assertEqual(third.status_code, 429)
        self.assertTrue(third["Content-Type"].startswith("application/json"))
        body = third.json()
        self.assertEqual((body["limit"], body["used"]), (2, 2))
        self.assertEqual(body["retry_after"], int(third["Retry-After"]))
        self.assertTrue(after <= body["retry_after"] <= before)
        self.assertIn("used all 2 AI plan generations", body["error"])
        refused = await StudySession.objects.aget(pk=sessions[2].pk)
        self.assertEqual(refused.status, StudySession.Status.UPLOADING)
        self.assertFalse(await GenerationRun.objects.filter(session=refused).aexists())
        self.assertEqual(len(self.provider.requests), 2)

    async def test_a_run_with_nothing_left_to_read_is_free_even_with_the_quota_spent(self):
        session = await self.anew_session()
        document = await session.documents.afirst()
        await StudySession.objects.filter(pk=session.pk).aupdate(
            draft_plan=WEEK_PLANS["week1.md"], folded_document_ids=[str(document.pk)]
        )
        await run_db(consume, self.owner, Kind.PLAN)
        await run_db(consume, self.owner, Kind.PLAN)

        response, events = await self.generate(session)

        self.assertEqual((response.status_code, events[-1].event), (200, "completed"))
        self.assertEqual(self.provider.requests, [])
        self.assertEqual(await self.aused(), 2)

    async def test_a_refused_claim_gives_its_unit_back(self):
        session = await self.anew_session()
        await StudySession.objects.filter(pk=session.pk).aupdate(
            status=StudySession.Status.EDITING_PLAN
        )

        response, _ = await self.generate(session)

        self.assertEqual(response.status_code, 409)
        self.assertEqual(await self.aused(), 0)


class RefundTests(QuotaTestCase):
    async def test_a_run_that_failed_before_the_model_produced_anything_gives_its_unit_back(self):
        self.provider.responder = lambda request: Reply.error(400, message="bad request")

        _, events = await self.generate(await self.anew_session())

        self.assertEqual(events[-1].event, "error")
        self.assertEqual(await self.aused(), 0)

    async def test_a_run_that_failed_after_the_model_wrote_part_of_the_plan_keeps_its_unit(self):
        session = await self.anew_session()
        await run_db(self.make_document, session, name="week2.md", text="# week2.md\n\nMore.")
        # Only week1.md has a scripted plan: week2.md gets an HTTP 400.
        self.provider.responder = ScriptedPlans({"week1.md": WEEK_PLANS["week1.md"]})

        _, events = await self.generate(session)

        self.assertEqual(events[-1].event, "error")
        self.assertEqual([e.event for e in events].count("document_processed"), 1)
        self.assertEqual(await self.aused(), 1)


class OverrideTests(QuotaTestCase):
    def test_a_users_own_limit_wins_over_the_setting(self):
        QuotaOverride.objects.create(user=self.owner, plan_runs_per_day=3)
        grants = [consume(self.owner, Kind.PLAN) for _ in range(3)]
        with self.assertRaises(QuotaExceeded) as refused:
            consume(self.owner, Kind.PLAN)
        self.assertEqual(len(grants), 3)
        self.assertEqual((refused.exception.limit, refused.exception.used), (3, 3))
        # Others keep the setting (2).
        consume(self.other, Kind.PLAN)
        consume(self.other, Kind.PLAN)
        with self.assertRaises(QuotaExceeded):
            consume(self.other, Kind.PLAN)

    def test_an_own_limit_of_zero_is_unlimited_and_an_empty_one_keeps_the_setting(self):
        QuotaOverride.objects.create(user=self.owner, plan_runs_per_day=0, questions_per_day=None)
        for _ in range(5):
            consume(self.owner, Kind.PLAN)
        with override_settings(QUOTA_AI_QUESTIONS_PER_DAY=1):
            consume(self.owner, Kind.QUESTION)
            with self.assertRaises(QuotaExceeded):
                consume(self.owner, Kind.QUESTION)

    def test_staff_edit_a_users_limits_on_the_users_admin_page(self):
        self.client.force_login(self.staff)
        page = self.client.get(f"/admin/auth/user/{self.owner.pk}/change/")
        self.assertContains(page, "quota_override-0-plan_runs_per_day")

    def test_a_refund_gives_back_exactly_one_unit_once(self):
        grant = consume(self.owner, Kind.PLAN)
        consume(self.owner, Kind.PLAN)
        grant.refund()
        grant.refund()
        self.assertEqual(used_today(self.owner), 1)


class RetryAfterTests(AppTestCase):
    def test_retry_after_counts_the_seconds_to_the_next_utc_midnight(self):
        self.assertEqual(seconds_to_midnight(datetime(2026, 12, 1, 23, 59, 30, tzinfo=UTC)), 30)
        self.assertEqual(seconds_to_midnight(datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC)), 86400)
        self.assertEqual(
            seconds_to_midnight(datetime(2026, 12, 1, 18, 0, 0, 500000, tzinfo=UTC)), 21600
        )

    @override_settings(QUOTA_AI_QUESTIONS_PER_DAY=1)
    def test_the_refusal_carries_the_seconds_left_today(self):
        consume(self.owner, Kind.QUESTION)
        before = seconds_to_midnight()
        with self.assertRaises(QuotaExceeded) as refused:
            consume(self.owner, Kind.QUESTION)
        after = seconds_to_midnight()
        self.assertTrue(after <= refused.exception.retry_after <= before)


class PageTests(QuotaTestCase):
    def page(self, session):
        self.client.force_login(self.owner)
        return self.client.get(f"/sessions/{session.pk}/")

    def test_the_session_page_says_how_many_are_left_before_the_learner_clicks(self):
        session = self.new_session()
        consume(self.owner, Kind.PLAN)
        self.assertContains(self.page(session), "1 of 2 AI plan generations left today")

    def test_a_spent_quota_is_said_on_the_page_with_when_more_come(self):
        session = self.new_session()
        consume(self.owner, Kind.PLAN)
        consume(self.owner, Kind.PLAN)
        self.assertContains(
            self.page(session), "You have used all 2 AI plan generations for today. More at"
        )

    def test_nothing_is_said_for_the_offline_builder_or_without_a_limit(self):
        session = self.new_session()
        with override_settings(PLAN_BUILDER="offline"):
            self.assertNotContains(self.page(session), "AI plan generation")
        with override_settings(QUOTA_AI_PLAN_RUNS_PER_DAY=0):
            self.assertNotContains(self.page(session), "AI plan generation")

    def test_the_form_without_javascript_is_sent_back_with_the_message(self):
        session = self.new_session()
        consume(self.owner, Kind.PLAN)
        consume(self.owner, Kind.PLAN)
        self.client.force_login(self.owner)
        response = self.client.post(f"/sessions/{session.pk}/generate-plan", follow=True)
        self.assertContains(response, "You have used all 2 AI plan generations for today")
        session.refresh_from_db()
        self.assertEqual(session.status, StudySession.Status.UPLOADING)
