"""The health dashboard and the quota line in real Chromium, at desktop and phone width
(issue 15). The screenshots go to test-artifacts/pages/ for people to look at."""

import re

from playwright.sync_api import expect

from tests.e2e.support import LEARNER, BrowserTestCase, LiveServer

STAFF = ("staff", "e2e-staff-password-51")
SPENT = ("spent", "e2e-spent-password-52")

# Runs of the last week (outcomes, durations, a few errors), a stale session, and two
# learners: one with 1 of 3 AI plan generations used today, one with all 3 used.
SEED = f"""
import random
from datetime import timedelta
from decimal import Decimal
from django.contrib.auth import get_user_model
from django.utils import timezone
from quotas.models import QuotaUsage
from sessions_app.models import Document, GenerationRun, StudySession

User = get_user_model()
User.objects.create_user({STAFF[0]!r}, password={STAFF[1]!r}, is_staff=True, is_superuser=True)
spent = User.objects.create_user({SPENT[0]!r}, password={SPENT[1]!r})
learner = User.objects.get(username={LEARNER[0]!r})
rng = random.Random(15)
now = timezone.now()
course = StudySession.objects.create(owner=learner, title="Linear algebra")
Document.objects.create(session=course, original_name="week1.md", content_text="# Vectors",
                        status="COMPLETED", position=1)
other = StudySession.objects.create(owner=spent, title="Organic chemistry")
Document.objects.create(session=other, original_name="notes.md", content_text="# Alkanes",
                        status="COMPLETED", position=1)
StudySession.objects.create(owner=learner, title="Stuck statistics", status="GENERATING_PLAN",
                            generation_heartbeat_at=now - timedelta(minutes=30))
errors = ["HTTP 429: rate limited by the provider", "The AI provider took too long to answer.",
          "HTTP 502: Bad Gateway"]
for n in range(400):
    started = now - timedelta(hours=rng.uniform(0, 24 if n < 150 else 168))
    outcome = rng.choices(["succeeded", "failed", "cancelled"], [80, 15, 5])[0]
    run = GenerationRun.objects.create(session=course, builder="openrouter", outcome=outcome,
        model=rng.choice(["openai/gpt-4o-mini", "anthropic/claude-3.5-haiku"]),
        prompt_tokens=rng.randint(2000, 9000), completion_tokens=rng.randint(200, 900),
        cost=Decimal(rng.randint(100, 900)) / 1000000,
        error=rng.choice(errors) if outcome == "failed" else "")
    GenerationRun.objects.filter(pk=run.pk).update(started_at=started,
        finished_at=started + timedelta(seconds=rng.lognormvariate(3.3, 0.5)),
        first_event_at=started + timedelta(seconds=rng.lognormvariate(0.4, 0.4)))
from questions.models import Question
for n in range(60):
    created = now - timedelta(hours=rng.uniform(0, 24 if n < 25 else 168))
    outcome = rng.choices(["succeeded", "failed"], [92, 8])[0]
    Question.objects.create(session=course, text="What is a basis?", builder="openrouter",
        model="openai/gpt-4o-mini", outcome=outcome, created_at=created,
        finished_at=created + timedelta(seconds=3), duration_ms=rng.randint(1500, 6000),
        first_token_ms=rng.randint(150, 900), prompt_tokens=rng.randint(800, 2000),
        completion_tokens=rng.randint(60, 300), cost=Decimal(rng.randint(20, 90)) / 1000000,
        error="HTTP 503: Service Unavailable" if outcome == "failed" else "")
day = now.date()
QuotaUsage.objects.create(user=learner, day=day, kind="plan", used=1)
QuotaUsage.objects.create(user=spent, day=day, kind="plan", used=3)
"""


class MonitoringBrowserTests(BrowserTestCase):
    server_env = {
        "PLAN_BUILDER": "openrouter",
        "OPENROUTER_API_KEY": "sk-never-used",
        "OPENROUTER_BASE_URL": "http://127.0.0.1:9/never-called",
        "QUOTA_AI_PLAN_RUNS_PER_DAY": "3",
    }

    @classmethod
    def start_server(cls) -> LiveServer:
        server = LiveServer(**cls.server_env).start()
        server.manage("shell", "-c", SEED)
        return server

    def admin_log_in(self):
        self.page.goto("/admin/login/")
        self.page.get_by_label("Username").fill(STAFF[0])
        self.page.get_by_label("Password").fill(STAFF[1])
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url("**/admin/")

    def test_the_dashboard_is_one_click_from_the_admin_index_at_desktop_and_phone_width(self):
        self.page.set_viewport_size({"width": 1280, "height": 900})
        self.admin_log_in()
        self.page.get_by_role("link", name="Generation health").click()

        expect(self.page.get_by_role("heading", name="Generation health")).to_be_visible()
        expect(self.page.locator(".health-chart svg rect").first).to_be_visible()
        expect(self.page.get_by_role("button", name="Reset to UPLOADING")).to_be_visible()
        self.snapshot("health-dashboard-desktop")

        self.page.set_viewport_size({"width": 375, "height": 800})
        self.page.reload()
        expect(self.page.get_by_role("heading", name="Generation health")).to_be_visible()
        self.snapshot("health-dashboard-375")
        overflow = self.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        self.assertLessEqual(overflow, 0, "the dashboard scrolls sideways at 375 px")

        self.page.get_by_role("button", name="Reset to UPLOADING").click()
        expect(self.page.get_by_text("was reset to UPLOADING")).to_be_visible()
        expect(self.page.get_by_role("button", name="Reset to UPLOADING")).to_have_count(0)

    def test_the_session_page_says_how_many_ai_generations_are_left(self):
        self.page.set_viewport_size({"width": 375, "height": 800})
        self.log_in()
        self.page.get_by_role("link", name="Linear algebra").click()

        expect(self.page.get_by_text("2 of 3 AI plan generations left today")).to_be_visible()
        self.snapshot("session-quota-left-375")

    def test_a_spent_quota_refuses_the_generation_and_says_when_more_come(self):
        self.page.set_viewport_size({"width": 375, "height": 800})
        self.log_in(*SPENT)
        self.page.get_by_role("link", name="Organic chemistry").click()
        note = self.page.get_by_text("You have used all 3 AI plan generations for today")
        expect(note).to_be_visible()
        self.page.evaluate("document.getElementById('quota-note').dataset.old = 'yes'")

        self.page.get_by_role("button", name="Generate study plan").click()

        # The live panel's stream is refused (429); the page then shows the session afresh.
        expect(self.page.locator("#quota-note:not([data-old])")).to_contain_text(
            "You have used all 3 AI plan generations for today"
        )
        expect(self.page.locator("#session-status")).to_have_class(re.compile("badge-uploading"))
        self.snapshot("session-quota-spent-375")
