"""The Content-Security-Policy in real Chromium (issue 12): the learner's whole journey —
log in, create a session, upload (the list polls while documents are read), generate (SSE),
edit — raises no CSP violation, while an inline script is really blocked."""

from playwright.sync_api import expect

from tests.e2e.support import BrowserTestCase
from tests.e2e.test_generation_browser import LiveGenerationTestCase

# Every violation the page reports, kept across navigations in sessionStorage.
RECORD_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (event) => {
  const seen = JSON.parse(sessionStorage.getItem('cspViolations') || '[]');
  const where = (event.blockedURI || 'inline') + ' @ ' + location.pathname;
  seen.push(event.violatedDirective + ' ' + where);
  sessionStorage.setItem('cspViolations', JSON.stringify(seen));
});
"""


class ContentSecurityPolicyBrowserTests(LiveGenerationTestCase):
    def setUp(self):
        super().setUp()
        self.page.add_init_script(RECORD_VIOLATIONS)
        self.console_reports = []
        self.page.on(
            "console",
            lambda message: (
                self.console_reports.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )

    def violations(self) -> list[str]:
        return self.page.evaluate("JSON.parse(sessionStorage.getItem('cspViolations') || '[]')")

    def test_the_whole_journey_raises_no_csp_violation(self):
        response = self.page.goto("/accounts/login/")
        self.assertIn("script-src 'self'", response.headers["content-security-policy"])
        url = self.create_session_with_two_documents("Optics")
        self.generate()
        expect(self.page.locator("#plan-editor")).to_be_visible(timeout=30_000)
        self.page.locator("#plan-editor").get_by_role("button", name="Save plan").click()
        expect(self.page.get_by_role("status").first).to_be_visible()
        for page in ("plan/history", "plan/study", "questions"):
            self.assertEqual(self.page.goto(url + page).status, 200, page)
        self.page.goto("/sessions/00000000-0000-0000-0000-000000000000/")  # the 404 page

        self.assertEqual(self.violations(), [])
        self.assertEqual(self.console_reports, [])

    def test_an_inline_script_is_blocked_and_reported(self):
        # The control: the listener above does see a violation when there is one.
        self.log_in()
        self.page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.ranInline = true'; document.body.appendChild(s); }"
        )

        expect(self.page.locator("body")).to_be_visible()
        self.page.wait_for_function("sessionStorage.getItem('cspViolations') !== null")
        self.assertFalse(self.page.evaluate("window.ranInline === true"))
        self.assertTrue(any("script-src" in v for v in self.violations()), self.violations())


class LockoutPageTests(BrowserTestCase):
    server_env = {"LOGIN_FAILURE_LIMIT": "2"}

    def test_too_many_wrong_passwords_show_the_pause_on_desktop_and_phone(self):
        for _ in range(2):
            self.page.goto("/accounts/login/")
            self.page.get_by_label("Username").fill("nobody")
            self.page.get_by_label("Password").fill("wrong")
            self.page.get_by_role("button", name="Log in").click()

        expect(self.page.get_by_role("heading", name="Too many failed log-ins")).to_be_visible()
        expect(self.page.get_by_role("alert")).to_contain_text("paused for 15 minutes")
        self.snapshot("locked-out")
        self.page.set_viewport_size({"width": 375, "height": 740})
        self.snapshot("locked-out-phone")
        width = self.page.evaluate("document.documentElement.scrollWidth")
        self.assertLessEqual(width, 375)


class WaitingDocumentsTests(BrowserTestCase):
    # No queue worker: the documents stay PENDING, as while a worker is busy.
    server_env = {"EXTRACTION_WORKER_IN_PROCESS": "False"}

    def test_waiting_documents_show_as_pending_and_the_list_polls(self):
        self.log_in()
        self.page.get_by_label("Title").fill("Waiting")
        self.page.get_by_role("button", name="Create session").click()
        polls = []
        self.page.on(
            "request", lambda r: polls.append(r.url) if "documents/status" in r.url else None
        )
        self.page.set_input_files(
            "#file-input",
            [{"name": "notes.md", "mimeType": "text/markdown", "buffer": b"# Notes"}],
        )

        expect(self.page.locator(".document").filter(has_text="Pending")).to_have_count(1)
        self.page.wait_for_function("document.querySelector('#document-list[hx-trigger]')")
        self.page.wait_for_event("request", lambda r: "documents/status" in r.url)
        self.snapshot("documents-pending")
        self.page.set_viewport_size({"width": 375, "height": 740})
        self.snapshot("documents-pending-phone")
        self.assertTrue(polls)
