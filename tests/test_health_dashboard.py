"""The health dashboard for staff (SPEC §17): its numbers against a known set of runs."""

import re
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from sessions_app.models import GenerationRun, StudySession
from tests.base import AppTestCase

URL = "/admin/health/"
Outcome = GenerationRun.Outcome


class DashboardTestCase(AppTestCase):
    def setUp(self):
        self.now = timezone.now()
        self.session = self.make_session()

    def run_at(self, hours_ago, outcome, *, seconds=None, first=None, **fields):
        """A run that started `hours_ago` and took `seconds` (its first plan event after
        `first` seconds)."""
        run = GenerationRun.objects.create(
            session=self.session,
            outcome=outcome,
            builder=fields.pop("builder", "openrouter"),
            **fields,
        )
        started = self.now - timedelta(hours=hours_ago)
        GenerationRun.objects.filter(pk=run.pk).update(
            started_at=started,
            finished_at=None if seconds is None else started + timedelta(seconds=seconds),
            first_event_at=None if first is None else started + timedelta(seconds=first),
        )
        return run

    def page(self):
        self.client.force_login(self.staff)
        response = self.client.get(URL)
        self.assertEqual(response.status_code, 200)
        return response.content.decode()

    def metric(self, html, section, name):
        """The text of `data-metric=name` in the dashboard's `section`-th summary."""
        part = html.split('class="health-window"')[section + 1]
        return re.search(rf'data-metric="{name}">([^<]*)<', part).group(1)

    def outcome_count(self, html, section, outcome):
        part = html.split('class="health-window"')[section + 1]
        return int(re.search(rf'data-outcome="{outcome}">([^<]*)<', part).group(1))


class DashboardNumbersTests(DashboardTestCase):
    def setUp(self):
        super().setUp()
        # Last 24 hours: 4 succeeded (10, 20, 30, 40 s), 1 failed (50 s), 1 cancelled, 1 running.
        for hours, seconds, first in [(1, 10, 1), (2, 20, 2), (3, 30, 3), (5, 40, 5)]:
            self.run_at(
                hours,
                Outcome.SUCCEEDED,
                seconds=seconds,
                first=first,
                model="m/a",
                prompt_tokens=100,
                completion_tokens=10,
                cost=Decimal("0.01"),
            )
        self.run_at(
            4,
            Outcome.FAILED,
            seconds=50,
            model="m/b",
            prompt_tokens=7,
            completion_tokens=0,
            cost=Decimal("0.002"),
            error="HTTP 500: upstream broke",
        )
        self.run_at(6, Outcome.CANCELLED, seconds=5, error="Cancelled by the learner.")
        self.run_at(0.1, Outcome.RUNNING)
        # Two days ago (only in the 7-day window): 2 failed with the same error.
        for _ in range(2):
            self.run_at(48, Outcome.FAILED, seconds=60, error="The model timed out.")
        # Ten days ago: in neither window.
        self.run_at(240, Outcome.FAILED, seconds=5, error="Too old to show")

    def test_outcomes_are_counted_per_window(self):
        html = self.page()
        day = {
            o: self.outcome_count(html, 0, o)
            for o in ("succeeded", "failed", "cancelled", "running")
        }
        week = {
            o: self.outcome_count(html, 1, o)
            for o in ("succeeded", "failed", "cancelled", "running")
        }
        self.assertEqual(day, {"succeeded": 4, "failed": 1, "cancelled": 1, "running": 1})
        self.assertEqual(week, {"succeeded": 4, "failed": 3, "cancelled": 1, "running": 1})
        self.assertEqual(self.metric(html, 0, "total"), "7")
        self.assertEqual(self.metric(html, 1, "total"), "9")

    def test_success_rate_leaves_out_cancelled_runs(self):
        html = self.page()
        self.assertEqual(self.metric(html, 0, "success-rate"), "80.0 %")  # 4 of 5
        self.assertEqual(self.metric(html, 1, "success-rate"), "57.1 %")  # 4 of 7

    def test_duration_and_first_event_percentiles_interpolate_like_percentile_cont(self):
        html = self.page()
        # Finished in 24 h: 5, 10, 20, 30, 40, 50 s → p50 = 25, p95 = 40 + 0.75 × 10 = 47.5.
        self.assertEqual(self.metric(html, 0, "duration"), "25.0 s / 47.5 s")
        # First events: 1, 2, 3, 5 s → p50 = 2.5, p95 = 3 + 0.85 × 2 = 4.7.
        self.assertEqual(self.metric(html, 0, "first-event"), "2.5 s / 4.7 s")
        # 7 days adds two 60 s runs: 5 10 20 30 40 50 60 60 → p50 35, p95 60.
        self.assertEqual(self.metric(html, 1, "duration"), "35.0 s / 1 min 0 s")

    def test_tokens_and_cost_are_summed_per_model(self):
        html = self.page()
        self.assertEqual(self.metric(html, 0, "tokens"), "407 / 40")
        self.assertEqual(self.metric(html, 0, "cost"), "0.0420")
        row = re.search(r'data-model="m/a">(.*?)</tr>', html, re.S).group(1)
        cells = re.findall(r'class="num">([^<]*)<', row)
        self.assertEqual(cells, ["4", "400", "40", "0.0400"])

    def test_the_most_frequent_errors_come_first_with_a_link_to_those_runs(self):
        html = self.page()
        week = html.split('class="health-window"')[2]
        errors = re.findall(
            r'data-error-count>(\d+) ×</span> <span class="error-text">([^<]*)<', week
        )
        self.assertEqual(errors, [("2", "The model timed out."), ("1", "HTTP 500: upstream broke")])
        self.assertNotIn("Too old to show", html)
        self.assertNotIn("Cancelled by the learner.", week.split("Most frequent errors")[1])
        link = re.search(r'<a href="([^"]+)">show these (?:plan runs|questions)</a>', week).group(1)
        listing = self.client.get(link.replace("&amp;", "&"))
        self.assertEqual(listing.status_code, 200)
        self.assertContains(listing, "2 generation runs")

    def test_the_chart_has_a_bar_per_outcome_and_hour(self):
        html = self.page()
        titles = re.findall(r"<title>(\d\d):00 UTC: (\d+) (\w+)</title>", html)
        self.assertEqual(len(titles), 7)  # seven runs in the last 24 h, each in its own hour
        failed_hour = (self.now - timedelta(hours=4)).strftime("%H")
        self.assertIn((failed_hour, "1", "failed"), titles)
        self.assertNotIn("60", [count for _, count, _ in titles])


class DashboardAccessTests(DashboardTestCase):
    def test_learners_and_visitors_are_sent_to_the_admin_login(self):
        anonymous = self.client.get(URL)
        self.client.force_login(self.owner)
        learner = self.client.get(URL)
        for response in (anonymous, learner):
            self.assertEqual(response.status_code, 302)
            self.assertIn("/admin/login/", response["Location"])

    def test_the_admin_index_links_to_the_dashboard(self):
        self.client.force_login(self.staff)
        self.assertContains(self.client.get("/admin/"), f'href="{URL}"')

    def test_an_empty_history_shows_dashes_not_errors(self):
        html = self.page()
        self.assertEqual(self.metric(html, 0, "duration"), "— / —")
        self.assertIn("No session is generating right now.", html)


class GeneratingSessionsTests(DashboardTestCase):
    def test_stale_sessions_are_listed_with_a_reset_that_works_in_one_click(self):
        Status = StudySession.Status
        stale = self.make_session(title="Stuck one")
        live = self.make_session(title="Busy one")
        StudySession.objects.filter(pk=stale.pk).update(
            status=Status.GENERATING_PLAN, generation_heartbeat_at=self.now - timedelta(hours=1)
        )
        StudySession.objects.filter(pk=live.pk).update(
            status=Status.GENERATING_PLAN, generation_heartbeat_at=self.now
        )
        html = self.page()
        stale_rows = re.findall(r"<tr class=\"stale-row\" data-stale>(.*?)</tr>", html, re.S)
        self.assertEqual(len(stale_rows), 1)
        self.assertIn("Stuck one", stale_rows[0])
        self.assertIn("Busy one", re.search(r"<tr data-generating>(.*?)</tr>", html, re.S).group(1))

        response = self.client.post(f"/admin/health/sessions/{stale.pk}/reset", follow=True)

        self.assertContains(response, "was reset to UPLOADING")
        stale.refresh_from_db()
        self.assertEqual(stale.status, Status.UPLOADING)

    def test_a_learner_cannot_reset(self):
        session = self.make_session()
        StudySession.objects.filter(pk=session.pk).update(
            status=StudySession.Status.GENERATING_PLAN
        )
        self.client.force_login(self.owner)
        self.client.post(f"/admin/health/sessions/{session.pk}/reset")
        session.refresh_from_db()
        self.assertEqual(session.status, StudySession.Status.GENERATING_PLAN)


class PercentileTests(DashboardTestCase):
    def test_both_percentile_queries_interpolate_between_ranks(self):
        from monitoring.stats import Seconds, _ranked_percentiles, percentiles

        for seconds in (7, 1, 3, 100, 2, 8, 9, 4, 5, 6):
            self.run_at(1, Outcome.SUCCEEDED, seconds=seconds)
        self.run_at(1, Outcome.RUNNING)  # no duration: left out
        runs = GenerationRun.objects.all()
        duration = Seconds("finished_at", "started_at")
        fractions = (0.0, 0.5, 0.9, 0.95, 1.0)
        # Sorted: 1 2 3 4 5 6 7 8 9 100; p90 = 9 + 0.1 × 91, p95 = 9 + 0.55 × 91.
        expected = [1.0, 5.5, 18.1, 59.05, 100.0]

        for found in (
            percentiles(runs, duration, fractions),
            _ranked_percentiles(runs.annotate(_v=duration).filter(_v__isnull=False), fractions),
        ):
            self.assertEqual([round(value, 2) for value in found], expected)
        self.assertEqual(percentiles(runs.none(), duration), [None, None])


class DashboardQuestionTests(DashboardTestCase):
    def ask_at(self, hours_ago, outcome, *, ms=None, first_ms=None, **fields):
        from questions.models import Question

        created = self.now - timedelta(hours=hours_ago)
        return Question.objects.create(
            session=self.session,
            text="A question whose text never shows on the dashboard",
            builder="openrouter",
            outcome=outcome,
            created_at=created,
            finished_at=None if ms is None else created + timedelta(milliseconds=ms),
            duration_ms=ms,
            first_token_ms=first_ms,
            **fields,
        )

    def test_questions_get_their_own_figures_and_error_links(self):
        for ms, first_ms in [(1000, 100), (2000, 200), (3000, 300)]:
            self.ask_at(
                2,
                "succeeded",
                ms=ms,
                first_ms=first_ms,
                model="m/chat",
                prompt_tokens=50,
                completion_tokens=5,
                cost=Decimal("0.001"),
            )
        self.ask_at(3, "failed", ms=5000, error="HTTP 503: Service Unavailable")
        self.ask_at(50, "failed", ms=500, error="HTTP 503: Service Unavailable")

        html = self.page()

        self.assertEqual(html.count('class="health-window"'), 4)  # runs and questions × 2
        self.assertEqual(self.outcome_count(html, 2, "succeeded"), 3)
        self.assertEqual(self.outcome_count(html, 3, "failed"), 2)
        self.assertEqual(self.metric(html, 2, "success-rate"), "75.0 %")
        self.assertEqual(self.metric(html, 2, "duration"), "2.5 s / 4.7 s")  # 1 2 3 5 s
        self.assertEqual(self.metric(html, 2, "first-event"), "0.2 s / 0.3 s")
        self.assertEqual(self.metric(html, 2, "tokens"), "150 / 15")
        self.assertNotIn("never shows on the dashboard", html)
        week = html.split('class="health-window"')[4]
        link = re.search(r'<a href="([^"]+)">show these (?:plan runs|questions)</a>', week).group(1)
        listing = self.client.get(link.replace("&amp;", "&"))
        self.assertEqual(listing.status_code, 200)
        self.assertContains(listing, "2 questions")
