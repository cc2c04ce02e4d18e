"""Ask your documents in real Chromium (issue 14): ask, watch the answer arrive token by
token, hover a citation chip, open the passage view; and the same on a phone's width, where a
tap opens the preview.

The live server answers with the AI path against the fake provider, which streams slowly so
the growing answer is on screen long enough to be seen.
"""

from playwright.sync_api import expect

from tests.ask_fixture import CONTAINERS, OPERATING_SYSTEMS
from tests.e2e.support import FakeProviderBrowserTestCase, record_texts
from tests.fakes import Reply

ANSWER = (
    "An image is a read-only template made of layers [1], while every container shares "
    "the host's kernel [2]."
)

WATCH_ANSWER = record_texts("#ask-answer", "shownAnswers")


class AskJourneyTests(FakeProviderBrowserTestCase):
    ai_env = {"QUESTION_BUILDER": "openrouter"}

    def setUp(self):
        super().setUp()
        self.provider.responder = lambda request: Reply.stream(ANSWER, chunk_size=6, delay=0.06)

    def session_with_documents(self, page, title: str) -> str:
        page.goto("/sessions/")
        page.get_by_label("Title").fill(title)
        page.get_by_role("button", name="Create session").click()
        expect(page.get_by_role("heading", name=title)).to_be_visible()
        page.set_input_files(
            "#file-input",
            [
                {
                    "name": "containers.md",
                    "mimeType": "text/markdown",
                    "buffer": CONTAINERS.encode(),
                },
                {
                    "name": "os.md",
                    "mimeType": "text/markdown",
                    "buffer": OPERATING_SYSTEMS.encode(),
                },
            ],
        )
        expect(page.locator(".document").filter(has_text="Ready")).to_have_count(2)
        return page.url

    def ask(self, page, question: str) -> None:
        page.get_by_label("Your question").fill(question)
        page.get_by_role("button", name="Ask", exact=True).click()

    def test_the_answer_streams_in_and_its_chips_lead_to_the_passage(self):
        self.page.add_init_script(WATCH_ANSWER)
        self.log_in()
        self.session_with_documents(self.page, "Cloud course")
        self.snapshot("ask-before")

        self.ask(self.page, "What is the difference between a kernel and an image?")
        expect(self.page.locator("#ask-sources")).to_contain_text("containers.md")
        expect(self.page.locator("#ask-answer")).to_contain_text("An image")
        self.snapshot("ask-streaming")

        card = self.page.locator("#ask-live-panel .question-card")
        expect(card).to_contain_text("shares the host's kernel", timeout=20_000)
        shown = self.page.evaluate("window.shownAnswers")
        self.assertGreaterEqual(len(shown), 3, shown)  # it grew piece by piece
        chips = card.locator(".cite-chip")
        expect(chips).to_have_count(2)

        chips.nth(0).hover()
        preview = card.locator(".cite-preview").nth(0)
        expect(preview).to_be_visible()
        expect(preview.locator("mark").first).to_be_visible()
        expect(preview).to_contain_text("containers.md")
        self.snapshot("ask-chip-hover")

        chips.nth(1).focus()
        expect(card.locator(".cite-preview").nth(1)).to_be_visible()

        chips.nth(0).click()
        expect(self.page.get_by_role("heading", name="containers.md")).to_be_visible()
        cited = self.page.locator(".passage-text.cited")
        expect(cited).to_be_visible()
        expect(cited.locator("mark").first).to_be_visible()
        self.snapshot("ask-passage-view")

        # The history lists it on the session page, and it can be deleted.
        self.page.go_back()
        self.page.reload()
        history = self.page.locator("#question-history > li")
        expect(history).to_have_count(1)
        history.get_by_role("button", name="Delete").click()
        expect(history).to_have_count(0)

    def test_phone_width_a_tap_opens_the_preview_and_its_link_the_passage(self):
        self.log_in()
        url = self.session_with_documents(self.page, "Phone course")
        phone = self.browser.new_context(
            base_url=self.server.url,
            viewport={"width": 375, "height": 740},
            is_mobile=True,
            has_touch=True,
            storage_state=self.context.storage_state(),
        )
        self.addCleanup(phone.close)
        page = phone.new_page()
        page.goto(url)
        self.ask(page, "Do containers have their own kernel?")
        card = page.locator("#ask-live-panel .question-card")
        expect(card.locator(".cite-chip")).to_have_count(2, timeout=20_000)
        width = page.evaluate("document.documentElement.scrollWidth")
        self.assertLessEqual(width, 375)

        card.locator(".cite-chip").nth(1).tap()
        preview = card.locator(".cite-preview").nth(1)
        expect(preview).to_be_visible()
        box = preview.bounding_box()
        self.assertGreaterEqual(box["x"], 0)
        self.assertLessEqual(box["x"] + box["width"], 375)
        self.snapshot("ask-phone-preview", page)

        preview.get_by_role("link", name="Open the passage").tap()
        expect(page.locator(".passage-text.cited")).to_be_visible()
        self.snapshot("ask-phone-passage", page)
