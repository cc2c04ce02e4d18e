"""The live plan in real Chromium (issue 16 item 5): the page gets only what changed, as htmx
out-of-band swaps, and its list is still exactly the plan, event by event and at the end.

A JSON client watches the same run (attach=1) from this process; at each event the page
also received, the page's list (read in the browser as htmx's `htmx:sseMessage` fires,
right after the swaps) must be the plan of that event, and after the last document the
saved plan. The fake provider streams a larger plan in 4-character pieces, the second
document adding topics in the middle and moving one to the front.
"""

import json
import threading

import httpx
from playwright.sync_api import expect

from tests.e2e.test_generation_browser import LiveGenerationTestCase
from tests.plans_scripts import ScriptedPlans
from tests.streams import parse_stream

FIRST = [
    {
        "order_index": n,
        "title": f"Chapter {n}: ideas of part {n}",
        "subtopics": [f"Idea {n}.{m}" for m in range(1, 4)],
    }
    for n in range(1, 13)
]
SECOND = [
    {**FIRST[-1], "subtopics": [*FIRST[-1]["subtopics"], "Idea 12.4"]},  # moved to the front
    *FIRST[:5],
    {"order_index": 0, "title": "Interlude: a new chapter", "subtopics": ["Idea i.1", "Idea i.2"]},
    *({**t, "subtopics": [*t["subtopics"], f"Idea {t['order_index']}.9"]} for t in FIRST[5:-1]),
]
SECOND = [{**t, "order_index": n} for n, t in enumerate(SECOND, start=1)]
PLANS = {"week1.md": FIRST, "week2.md": SECOND}

WATCH_LIVE_PLAN = """
window.livePlans = [];
window.oobErrors = [];
document.addEventListener("htmx:sseMessage", (evt) => {
  const items = document.querySelectorAll("#live-plan > li");
  const plan = Array.from(items, (li) => ({
    title: li.querySelector(".topic").textContent,
    subtopics: Array.from(li.querySelectorAll("ul > li"), (s) => s.textContent),
  }));
  window.livePlans.push({event: evt.detail.type, id: evt.detail.lastEventId, plan: plan});
});
document.addEventListener("htmx:oobErrorNoTarget", (evt) => {
  window.oobErrors.push(String(evt.detail.target));
});
"""


def shown(plan):
    return [{"title": t["title"], "subtopics": t["subtopics"]} for t in plan]


class LivePlanTests(LiveGenerationTestCase):
    def setUp(self):
        super().setUp()
        self.provider.responder = ScriptedPlans(PLANS, chunk_size=4, delay=0.025)

    def watch_as_json_client(self, url: str) -> tuple[threading.Thread, dict]:
        """A JSON client attached to the page's run, in a thread: {event id: plan}."""
        cookies = {c["name"]: c["value"] for c in self.context.cookies()}
        plans: dict[str, list] = {}

        def read():
            with httpx.stream(
                "GET",
                url,
                params={"attach": "1"},
                cookies=cookies,
                timeout=60,
                headers={"accept": "text/event-stream"},
            ) as response:
                body = "".join(response.iter_text())
            for event in parse_stream(body)[0]:
                if "plan" in event.json:
                    plans[event.id] = shown(event.json["plan"])

        thread = threading.Thread(target=read)
        thread.start()
        return thread, plans

    def check_the_live_list(self, name: str) -> None:
        self.page.add_init_script(WATCH_LIVE_PLAN)
        url = self.create_session_with_two_documents(f"Live plan {name}")
        # The JSON client starts the run (attach=1 starts one if there is none) and the page
        # attaches to it at once: both see it from its first events.
        thread, json_plans = self.watch_as_json_client(url.rstrip("/") + "/generate-plan")
        self.generate()
        expect(self.page.locator("#generation-message")).to_contain_text(
            "Reading document 2 of 2", timeout=30_000
        )
        expect(self.page.locator("#live-plan")).to_contain_text("Interlude", timeout=30_000)
        overflow = self.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        self.assertLessEqual(overflow, 0, f"the live page scrolls sideways by {overflow}px")
        self.snapshot(f"live-plan-{name}-during")

        expect(self.page.locator("#plan-editor")).to_be_visible(timeout=60_000)
        thread.join(timeout=30)
        seen = self.page.evaluate("window.livePlans")
        self.assertEqual(self.page.evaluate("window.oobErrors"), [])
        saved = shown(self.plan_status()["plan"])
        self.assertEqual(saved, shown(SECOND))

        plan_events = [
            s for s in seen if s["event"] in ("started", "progress", "document_processed")
        ]
        self.assertGreater(len(plan_events), 20)  # the plan grew in many small steps
        compared = 0
        for shown_then in plan_events:
            if shown_then["id"] in json_plans:
                self.assertEqual(shown_then["plan"], json_plans[shown_then["id"]], shown_then["id"])
                compared += 1
        self.assertGreater(compared, 5, json.dumps(sorted(json_plans)))
        last = [s for s in plan_events if s["event"] == "document_processed"][-1]
        self.assertEqual(last["plan"], saved)

    def test_the_live_list_is_the_plan_on_a_desktop(self):
        self.page.set_viewport_size({"width": 1280, "height": 900})
        self.check_the_live_list("desktop")

    def test_the_live_list_is_the_plan_on_a_phone(self):
        self.page.set_viewport_size({"width": 375, "height": 740})
        self.check_the_live_list("phone")
