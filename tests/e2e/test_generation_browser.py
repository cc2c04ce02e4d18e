"""The learner's journey in real Chromium: upload, watch the plan grow, edit it (issue 5).

The live server generates with the AI builder against the fake provider, which streams
its answers slowly so the intermediate plans are on screen long enough to be seen.
"""

from playwright.sync_api import expect

from tests.e2e.support import FakeProviderBrowserTestCase, record_texts
from tests.fakes import Reply
from tests.plans_scripts import ScriptedPlans

WEEK1 = "# Limits\n\nWhat a limit is, one-sided limits.\n"
WEEK2 = "# Derivatives\n\nThe product rule and the chain rule.\n"

WATCH_PLANS = record_texts("#generation-progress .plan-outline", "shownPlans")


class LiveGenerationTestCase(FakeProviderBrowserTestCase):
    """A live server whose AI provider is the fake, and helpers for the session page."""

    ai_env = {"PLAN_BUILDER": "openrouter"}

    def setUp(self):
        super().setUp()
        self.provider.responder = ScriptedPlans(chunk_size=8, delay=0.08)
        self.stream_requests = []
        self.page.on(
            "request",
            lambda request: (
                self.stream_requests.append(request.url)
                if "/generate-plan" in request.url
                else None
            ),
        )

    def create_session_with_two_documents(self, title: str) -> str:
        self.log_in()
        self.page.get_by_label("Title").fill(title)
        self.page.get_by_role("button", name="Create session").click()
        expect(self.page.get_by_role("heading", name=title)).to_be_visible()
        self.page.set_input_files(
            "#file-input",
            [
                {"name": "week1.md", "mimeType": "text/markdown", "buffer": WEEK1.encode()},
                {"name": "week2.md", "mimeType": "text/markdown", "buffer": WEEK2.encode()},
            ],
        )
        documents = self.page.locator(".document")
        expect(documents).to_have_count(2)
        expect(documents.filter(has_text="Ready")).to_have_count(2)
        return self.page.url

    def generate(self):
        self.page.get_by_role("button", name="Generate study plan").click()
        expect(self.page.get_by_role("heading", name="Generating your study plan")).to_be_visible()

    def plan_status(self) -> dict:
        return self.page.request.get(self.page.url.rstrip("/") + "/plan-status").json()


class GenerationJourneyTests(LiveGenerationTestCase):
    def test_the_plan_grows_live_then_the_learner_edits_and_the_edits_persist(self):
        self.page.add_init_script(WATCH_PLANS)
        url = self.create_session_with_two_documents("Calculus I")
        self.snapshot("detail-before-generating")

        self.generate()
        expect(self.page.locator("#generation-message")).to_contain_text("Reading document 1 of 2")
        expect(self.page.locator("#generation-progress .plan-outline")).to_contain_text("Limits")
        expect(self.page.locator("#session-status")).to_have_text("Generating plan")
        expect(self.page.locator(".upload-form")).to_be_hidden()  # locked while generating
        self.snapshot("detail-during-generation")

        editor = self.page.locator("#plan-editor")
        expect(editor).to_be_visible(timeout=30_000)
        shown = self.page.evaluate("window.shownPlans")
        self.assertGreaterEqual(len(set(shown)), 2, shown)
        self.assertEqual(self.plan_status()["status"], "EDITING_PLAN")
        self.snapshot("editor")

        titles = editor.locator("textarea.topic-title")
        expect(titles.nth(0)).to_have_value("Limits")
        expect(titles.nth(1)).to_have_value("Derivatives")
        titles.nth(0).fill("Limits and continuity")
        editor.get_by_role("button", name="Move “Derivatives” up").click()
        expect(editor.locator("textarea.topic-title").nth(0)).to_have_value("Derivatives")
        editor.get_by_role("button", name="Save plan").click()
        expect(editor.get_by_role("status")).to_contain_text("Plan saved.")

        self.page.goto(url)
        titles = self.page.locator("#plan-editor textarea.topic-title")
        expect(titles.nth(0)).to_have_value("Derivatives")
        expect(titles.nth(1)).to_have_value("Limits and continuity")
        plan = self.plan_status()["plan"]
        self.assertEqual([t["title"] for t in plan], ["Derivatives", "Limits and continuity"])

    def test_after_completion_the_page_never_reconnects_to_the_stream(self):
        self.create_session_with_two_documents("Statistics")
        self.generate()
        expect(self.page.locator("#plan-editor")).to_be_visible(timeout=30_000)
        streams = [u for u in self.stream_requests if "format=html" in u]
        self.assertEqual(len(streams), 1, streams)
        log_before = self.server.log_path.read_text().count("/generate-plan")

        self.page.wait_for_timeout(5000)  # the observation window itself

        self.assertEqual([u for u in self.stream_requests if "format=html" in u], streams)
        self.assertEqual(self.server.log_path.read_text().count("/generate-plan"), log_before)

    def test_cancel_keeps_the_progress_and_resume_finishes(self):
        self.create_session_with_two_documents("Physics")
        self.generate()
        expect(self.page.locator("#generation-message")).to_contain_text(
            "Reading document 2 of 2", timeout=30_000
        )

        self.page.get_by_role("button", name="Cancel").click()

        expect(self.page.get_by_role("status").filter(has_text="cancelled")).to_be_visible()
        expect(self.page.locator("#session-status")).to_have_text("Plan in progress")
        expect(self.page.locator("#generation .plan-outline")).to_contain_text("Limits")
        status = self.plan_status()
        self.assertEqual(status["status"], "UPLOADING")
        self.assertEqual(status["progress"], {"done": 1, "total": 2})
        self.snapshot("cancelled")

        self.page.get_by_role("button", name="Resume generating").click()
        expect(self.page.locator("#plan-editor")).to_be_visible(timeout=30_000)
        prompts = [r.user_prompt for r in self.provider.requests]
        self.assertEqual(sum('New document "week1.md"' in p for p in prompts), 1)
        self.assertEqual(self.plan_status()["status"], "EDITING_PLAN")

    def test_a_reload_mid_generation_keeps_the_plan_growing_and_it_finishes(self):
        self.create_session_with_two_documents("Biology")
        self.generate()
        expect(self.page.locator("#generation-progress .plan-outline")).to_contain_text("Limits")

        self.page.reload()  # issue 10: the generation belongs to the server

        expect(self.page.get_by_role("heading", name="Generating your study plan")).to_be_visible()
        expect(self.page.locator("#generation-progress .plan-outline")).to_contain_text("Limits")
        self.snapshot("detail-after-reload-during-generation")
        expect(self.page.locator("#generation-message")).to_contain_text(
            "document 2 of 2", timeout=30_000
        )
        expect(self.page.locator("#plan-editor")).to_be_visible(timeout=30_000)
        prompts = [r.user_prompt for r in self.provider.requests]
        self.assertEqual(sum('New document "week1.md"' in p for p in prompts), 1)
        self.assertEqual(sum('New document "week2.md"' in p for p in prompts), 1)

    def test_a_failing_provider_shows_the_error_and_retry_succeeds(self):
        self.provider.responder = lambda request: Reply.error(503, message="Overloaded")
        self.create_session_with_two_documents("Chemistry")
        self.generate()

        alert = self.page.get_by_role("alert")
        expect(alert).to_contain_text("The plan couldn't be finished")
        expect(alert).to_contain_text("temporary problem")
        self.assertEqual(self.plan_status()["status"], "UPLOADING")
        self.snapshot("error")

        self.provider.responder = ScriptedPlans(chunk_size=40)
        self.page.get_by_role("button", name="Retry").click()
        expect(self.page.locator("#plan-editor")).to_be_visible(timeout=30_000)


class PhoneLayoutTests(LiveGenerationTestCase):
    """The pages at a phone's width: nothing wider than the screen."""

    def test_the_pages_fit_a_375_pixel_wide_screen(self):
        self.page.set_viewport_size({"width": 375, "height": 740})
        self.create_session_with_two_documents("Linear algebra")

        for name in ("detail", "editor"):
            if name == "editor":
                self.generate()
                expect(self.page.locator("#plan-editor")).to_be_visible(timeout=30_000)
            overflow = self.page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            self.assertLessEqual(overflow, 0, f"{name} page scrolls sideways by {overflow}px")
            self.snapshot(f"phone-{name}")
        self.page.goto("/sessions/")
        self.assertLessEqual(
            self.page.evaluate("document.documentElement.scrollWidth - innerWidth"), 0
        )
        self.snapshot("phone-list")
