from playwright.sync_api import expect

from tests.e2e.support import BrowserTestCase


class AccountJourneyTests(BrowserTestCase):
    def test_log_in_with_the_demo_account_and_create_a_session(self):
        self.log_in()
        expect(self.page.get_by_role("heading", name="My study sessions")).to_be_visible()

        self.page.get_by_label("Title").fill("Thermodynamics")
        self.page.get_by_role("button", name="Create session").click()

        expect(self.page.get_by_role("heading", name="Thermodynamics")).to_be_visible()
        expect(self.page.locator("#session-status")).to_have_text("No documents yet")

    def test_a_wrong_password_shows_a_clear_message(self):
        self.page.goto("/accounts/login/")
        self.page.get_by_label("Username").fill("learner")
        self.page.get_by_label("Password").fill("wrong")
        self.page.get_by_role("button", name="Log in").click()

        expect(self.page.get_by_role("alert")).to_contain_text("correct username and password")

    def test_static_files_and_htmx_are_served(self):
        self.log_in()

        css = self.page.request.get("/static/css/app.css")
        self.assertEqual(css.status, 200)
        self.assertIn("--accent", css.text())
        self.assertTrue(self.page.evaluate("typeof htmx !== 'undefined'"))
