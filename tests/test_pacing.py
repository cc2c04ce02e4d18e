import asyncio
import itertools
import time

from django.test import SimpleTestCase

from plans.generation import Completed, DocumentProcessed, Progress
from studyplanner.sse import PING, paced


def progress(n: int) -> Progress:
    return Progress(1, 1, [{"order_index": 1, "title": f"T{n}", "subtopics": []}], n, f"m{n}", "d")


async def scripted(items):
    """Yields items; a float is a pause (the builder waiting on the model)."""
    for item in items:
        if isinstance(item, float):
            await asyncio.sleep(item)
        else:
            yield item


class PacedTests(SimpleTestCase):
    async def collect(self, items, **options):
        return [item async for item in paced(scripted(items), **options)]

    async def test_events_pass_through_in_order(self):
        done = DocumentProcessed(1, 1, [], 100, "m", "d")
        items = await self.collect([progress(1), done, Completed([])], ping_interval=5)

        self.assertEqual(
            [type(i).__name__ for i in items], ["Progress", "DocumentProcessed", "Completed"]
        )

    async def test_a_ping_goes_out_while_the_builder_is_silent(self):
        items = await self.collect([progress(1), 0.25, Completed([])], ping_interval=0.05)

        self.assertIsInstance(items[0], Progress)
        self.assertGreaterEqual(items.count(PING), 2)
        self.assertIsInstance(items[-1], Completed)

    async def test_bursts_of_progress_are_coalesced_to_the_newest(self):
        burst = [progress(n) for n in range(1, 21)]

        items = await self.collect([*burst, 0.3, Completed([])], ping_interval=5, min_gap=0.1)

        shown = [i.percent for i in items if isinstance(i, Progress)]
        self.assertEqual(shown, [1, 20])  # the first at once, the newest when the gap ends

    async def test_progress_is_spaced_by_at_least_the_gap(self):
        steady = []
        for n in range(1, 16):
            steady += [progress(n), 0.02]

        started = time.monotonic()
        times = []
        async for item in paced(scripted([*steady, Completed([])]), ping_interval=5, min_gap=0.1):
            if isinstance(item, Progress):
                times.append(time.monotonic() - started)

        gaps = [b - a for a, b in itertools.pairwise(times)]
        self.assertGreaterEqual(len(times), 2)
        self.assertTrue(all(gap >= 0.095 for gap in gaps), gaps)

    async def test_a_held_progress_is_superseded_by_the_next_document_event(self):
        done = DocumentProcessed(1, 1, [], 100, "m", "d")

        items = await self.collect([progress(1), progress(2), done, Completed([])], ping_interval=5)

        self.assertEqual(
            [type(i).__name__ for i in items], ["Progress", "DocumentProcessed", "Completed"]
        )

    async def test_closing_the_pacer_cancels_and_awaits_the_builder(self):
        cleaned_up = asyncio.Event()

        async def builder():
            try:
                yield progress(1)
                await asyncio.sleep(60)
                yield Completed([])
            finally:
                await asyncio.sleep(0.01)  # cleanup that itself awaits
                cleaned_up.set()

        stream = paced(builder(), ping_interval=5)
        self.assertIsInstance(await anext(stream), Progress)
        await stream.aclose()

        self.assertTrue(cleaned_up.is_set())

    async def test_a_crash_in_the_builder_reaches_the_consumer(self):
        async def broken():
            yield progress(1)
            raise RuntimeError("boom")

        with self.assertRaisesMessage(RuntimeError, "boom"):
            async for _ in paced(broken(), ping_interval=5):
                pass
