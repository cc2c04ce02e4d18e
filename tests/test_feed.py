"""One watcher's feed of a shared event stream (studyplanner.sse.Feed): a client that stops
reading holds a bounded amount, never every event; a blocked one is noticed."""

import asyncio
from dataclasses import dataclass

from django.test import SimpleTestCase

from studyplanner.sse import PING, Feed


@dataclass(frozen=True)
class State:
    n: int
    coalesce = True


@dataclass(frozen=True)
class Milestone:
    n: int
    coalesce = False


class FeedTests(SimpleTestCase):
    def test_an_unread_feed_keeps_one_state_and_every_milestone(self):
        feed = Feed(ping_interval=5)
        for n in range(10_000):
            feed.put(State(n))
            if n % 2500 == 0:
                feed.put(Milestone(n))

        self.assertEqual(len(feed.items), 5)  # 4 milestones, and only the newest state
        self.assertEqual(feed.items[-1], State(9999))
        self.assertEqual(
            [m.n for m in feed.items if isinstance(m, Milestone)], [0, 2500, 5000, 7500]
        )

    def test_past_its_bound_the_feed_detaches_itself(self):
        feed = Feed(ping_interval=5, max_items=3)
        for n in range(4):
            feed.put(Milestone(n))

        self.assertEqual(feed.detached, "too many events waiting")
        self.assertEqual(len(feed.items), 0)

    async def test_a_finished_feed_gives_what_is_left_then_ends(self):
        feed = Feed(ping_interval=5, min_gap=0)
        feed.put(State(1))
        feed.put(Milestone(2))
        feed.finish()

        items = [item async for item in feed]

        self.assertEqual(items, [Milestone(2)])  # the state was superseded by the milestone

    async def test_a_quiet_feed_pings(self):
        feed = Feed(ping_interval=0.01)

        self.assertIs(await feed.next(), PING)

    async def test_a_reader_gone_off_with_an_item_is_stalled_once_items_wait(self):
        feed = Feed(ping_interval=5)
        feed.put(Milestone(1))
        await feed.next()  # the reader took it (and is now blocked sending it)
        loop = asyncio.get_running_loop()

        self.assertFalse(feed.stalled(1.0, loop.time() + 5))  # nothing waits: not stalled
        feed.put(Milestone(2))
        self.assertFalse(feed.stalled(1.0))
        self.assertTrue(feed.stalled(1.0, now=feed._away_since + 1.5))
