"""Events encoded once and small (issue 16 item 5): the page gets what changed, JSON clients
the whole plan, and every text is made once per event however many watch.

The streams here are the real plans.stream.GenerationStream fed the items a run publishes
(the watcher gives them in order, or skips some as a slow watcher's feed does); the last
class drives the real application (ASGI) with the fake provider. Applying the page's
fragments is tests/live_page.LivePage, which does what htmx 2 does with out-of-band swaps.
"""

import json
import random
from unittest import mock

from django.template import loader
from django.test import SimpleTestCase, override_settings

from plans import stream as plan_stream
from plans.generation import Completed, DocumentProcessed, Progress, Started
from plans.live import Numbered, Watch
from plans.stream import GenerationStream
from sessions_app.models import StudySession
from studyplanner import sse
from tests.live_page import LivePage, shown
from tests.plans_scripts import ScriptedPlans
from tests.streams import parse_stream
from tests.test_stream_disconnect import AsgiStreamTestCase

SESSION = "00000000-0000-4000-8000-000000000000"


def topic(title, *subtopics, n=1):
    return {"order_index": n, "title": title, "subtopics": list(subtopics)}


def numbered(plan):
    return [{**t, "order_index": n} for n, t in enumerate(plan, start=1)]


def progress(plan, percent=10, message="Reading document 1 of 2: a.md"):
    return Progress(1, 2, numbered(plan), percent, message, "a.md")


class Given(Watch):
    """A watcher's items, in order (a list of Numbered)."""

    run_id = "run"

    def __init__(self, items):
        self.given = items

    async def items(self):
        for item in self.given:
            yield item


async def html_events(items):
    texts = [text async for text in GenerationStream(Given(items), session_id=SESSION, html=True)]
    events, _ = parse_stream("".join(texts))
    return events


async def page_after(items) -> tuple[LivePage, list]:
    page, events = LivePage(), await html_events(items)
    for event in events:
        if event.event in ("started", "progress", "document_processed"):
            page.apply(event.data)
    return page, events


def run_items(plans, *, processed_after=()):
    """started, a progress event per plan (a document_processed one after the indexes in
    `processed_after`), completed: as a run numbers them."""
    events = [Started("run", 2, 0, "Starting: 2 documents to read.", 0)]
    for index, plan in enumerate(plans):
        events.append(progress(plan, percent=index))
        if index in processed_after:
            events.append(DocumentProcessed(1, 2, numbered(plan), 50, "Finished", "a.md"))
    events.append(Completed(numbered(plans[-1])))
    return [Numbered(seq, event) for seq, event in enumerate(events, start=1)]


class PageChangesTests(SimpleTestCase):
    async def test_a_progress_event_carries_only_the_topics_that_changed(self):
        first = [topic("Limits", "Epsilon-delta"), topic("Series")]
        second = [topic("Limits", "Epsilon-delta", "One-sided"), topic("Series"), topic("Sets")]
        page, events = await page_after(run_items([first, second]))

        change = events[2].data
        self.assertIn("One-sided", change)
        self.assertIn("Sets", change)
        self.assertNotIn("Epsilon-delta", change)  # Limits' new subtopic only
        self.assertNotIn("Series", change)
        self.assertNotIn('id="live-plan"', change)
        self.assertEqual(page.plan(), shown(second))

    async def test_an_unchanged_header_and_message_are_not_sent_again(self):
        plans = [[topic("Limits")], [topic("Limits", "Epsilon-delta")]]
        items = run_items(plans)
        items[2] = Numbered(3, progress(plans[1], percent=0))  # same percent as before

        events = await html_events(items)

        self.assertIn('id="generation-header"', events[1].data)
        self.assertIn('id="generation-message"', events[1].data)
        self.assertNotIn('id="generation-header"', events[2].data)
        self.assertNotIn('id="generation-message"', events[2].data)

    async def test_a_moved_topic_moves_alone(self):
        first = [topic(f"Chapter {n}", f"Part {n}.1") for n in range(1, 11)]
        second = [first[-1], *first[:-1]]
        page, events = await page_after(run_items([first, second]))

        self.assertEqual(events[2].data.count("Chapter"), 1)
        self.assertEqual(page.plan(), shown(second))

    async def test_random_edits_turn_the_shown_list_into_the_new_plan(self):
        rng = random.Random(16)
        words = [f"Topic {n}" for n in range(30)]

        def edited(plan):
            plan = [dict(t, subtopics=list(t["subtopics"])) for t in plan]
            for _ in range(rng.randint(1, 4)):
                what = rng.choice(["insert", "delete", "move", "rename", "append", "rewrite"])
                titles = {t["title"] for t in plan}
                free = [w for w in words if w not in titles]
                if what == "insert" and free:
                    plan.insert(rng.randint(0, len(plan)), topic(rng.choice(free), "new"))
                elif not plan:
                    continue
                elif what == "delete":
                    plan.pop(rng.randrange(len(plan)))
                elif what == "move":
                    plan.insert(rng.randint(0, len(plan) - 1), plan.pop(rng.randrange(len(plan))))
                elif what == "rename" and free:
                    plan[rng.randrange(len(plan))]["title"] = rng.choice(free)
                elif what == "append":
                    plan[rng.randrange(len(plan))]["subtopics"].append(f"s{rng.random():.4f}")
                elif what == "rewrite":
                    plan[rng.randrange(len(plan))]["subtopics"] = [f"r{rng.random():.4f}"]
            return plan

        for _ in range(60):
            plans = [[topic(w) for w in rng.sample(words, rng.randint(0, 8))]]
            for _ in range(6):
                plans.append(edited(plans[-1]))
            page, _ = await page_after(run_items(plans))
            self.assertEqual(page.plan(), shown(plans[-1]), plans)

    async def test_plan_text_is_escaped(self):
        evil = [topic("<script>alert(1)</script>", "<b>x</b>")]
        page, events = await page_after(run_items([[], evil]))

        self.assertNotIn("<script>", events[2].data)
        self.assertIn("&lt;b&gt;x&lt;/b&gt;", events[2].data)
        self.assertEqual(page.plan(), shown(evil))


class SnapshotTests(SimpleTestCase):
    async def test_the_first_plan_and_every_document_processed_are_full_snapshots(self):
        plans = [[topic("Limits")], [topic("Limits", "Epsilon-delta")], [topic("Series")]]
        items = run_items(plans, processed_after=(1,))

        events = await html_events(items)

        names = [e.event for e in events]
        self.assertEqual(
            names[:5], ["started", "progress", "progress", "document_processed", "progress"]
        )
        snapshots = [e.event for e in events if 'id="live-plan"' in e.data]
        self.assertEqual(snapshots, ["progress", "document_processed"])
        self.assertNotIn("live-plan", events[0].data)  # started: no plan yet
        self.assertIn('id="session-status"', events[0].data)

    async def test_a_watcher_that_joins_late_gets_the_whole_plan_first(self):
        plans = [[topic("Limits")], [topic("Limits", "Epsilon-delta")], [topic("Series", "Sums")]]
        items = run_items(plans)
        await html_events(items)  # another watcher, from the start

        page, events = await page_after(items[3:])  # a reload: the current plan, then live

        self.assertIn('id="live-plan"', events[0].data)
        self.assertEqual(page.plan(), shown(plans[-1]))

    async def test_a_watcher_that_skipped_events_still_shows_each_plan_it_was_sent(self):
        plans = [
            [topic(f"T{n}", *(f"s{n}.{m}" for m in range(n % 3))) for n in range(k)]
            for k in range(1, 12)
        ]
        plans[6] = [plans[6][-1], *plans[6][:-1]]  # a reorder among them
        items = run_items(plans, processed_after=(4,))
        everyone = await page_after(items)
        skipped = [item for item in items if item.seq % 3 != 0 or item.event.final]

        page = LivePage()
        for item, event in zip(skipped, await html_events(skipped), strict=True):
            if item.event.final:
                continue
            page.apply(event.data)
            if "plan" in item.event.payload():
                self.assertEqual(page.plan(), shown(item.event.plan))

        self.assertEqual(page.plan(), everyone[0].plan())
        self.assertEqual(page.plan(), shown(plans[-1]))

    async def test_watchers_in_step_share_one_rendering_per_event(self):
        plans = [[topic("Limits")], [topic("Limits", "Epsilon-delta")], [topic("Series")]]
        items = run_items(plans, processed_after=(2,))
        real = loader.render_to_string
        with mock.patch.object(plan_stream, "render_to_string", side_effect=real) as rendering:
            texts = [await html_events(items) for _ in range(4)]

        self.assertEqual(rendering.call_count, len(items))
        self.assertEqual({json.dumps([e.data for e in t]) for t in texts}.__len__(), 1)


class EncodedOnceTests(SimpleTestCase):
    async def test_json_is_encoded_once_per_event_for_any_number_of_watchers(self):
        plans = [[topic("Limits")], [topic("Limits", "Epsilon-delta")], [topic("Series")]]
        items = run_items(plans, processed_after=(1, 2))
        watchers = 5
        real = json.dumps
        with mock.patch.object(sse.json, "dumps", side_effect=real) as dumps:
            bodies = []
            for _ in range(watchers):
                stream = GenerationStream(Given(items), session_id=SESSION, html=False)
                bodies.append("".join([text async for text in stream]))

        self.assertEqual(dumps.call_count, len(items))
        self.assertEqual(len(set(bodies)), 1)
        events, _ = parse_stream(bodies[0])
        self.assertEqual([e.json for e in events], [item.event.payload() for item in items])


class LivePageThroughTheAppTests(AsgiStreamTestCase):
    """The real application, two documents from the fake provider in small pieces."""

    def setUp(self):
        super().setUp()
        self.enterContext(override_settings(SSE_PING_INTERVAL=30))

    async def test_the_page_shows_the_saved_plan_and_a_reconnect_starts_from_a_snapshot(self):
        self.provider.responder = ScriptedPlans(chunk_size=4, delay=0.01)
        page = LivePage()
        communicator, _ = await self.open({"format": "html"})
        text = await self.read_until(communicator, lambda t: "Reading document 2 of 3" in t)
        await communicator.send_input({"type": "http.disconnect"})  # a network drop
        await communicator.wait(timeout=5)
        seen, _ = parse_stream(text)
        for event in seen:
            page.apply(event.data)

        communicator, _ = await self.open(
            {"format": "html"}, headers=[(b"last-event-id", seen[-1].id.encode())]
        )
        again, _ = parse_stream(await self.read_to_end(communicator))

        self.assertIn('id="live-plan"', again[0].data)  # its first plan: the whole plan
        for event in again[:-1]:
            page.apply(event.data)
            if event.event == "document_processed":
                self.assertIn('id="live-plan"', event.data)
        self.assertEqual(again[-1].event, "completed")
        session = await StudySession.objects.aget(pk=self.session.pk)
        self.assertEqual(page.plan(), shown(session.plan))
