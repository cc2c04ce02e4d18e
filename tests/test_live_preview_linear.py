"""The live preview costs time linear in the answer (issue 16): each piece is read once, a
preview is made at most once per pacing interval, and a preview that had to wait goes out
when its interval is over even if the model sends nothing more."""

import asyncio
import inspect
import itertools
import json
import random
import time
from unittest import mock

from django.test import SimpleTestCase, override_settings

from plans.builders import openrouter
from plans.builders.base import SourceDocument
from plans.builders.openrouter import (
    PREVIEW_INTERVAL,
    OpenRouterBuilder,
    merge_preview,
    preview_from_partial,
)
from plans.builders.preview import LivePreview
from plans.schema import normalize_plan
from studyplanner.sse import paced
from tests.fakes import FakeProviderMixin, Reply, completion_chunk

SAVED = normalize_plan(
    [
        {"title": 'Limits "and" [bounds] {x} \\ é', "subtopics": ["Saved subtopic"]},
        {"title": "Old topic", "subtopics": ["a"]},
        {"title": "T3", "subtopics": [f"old {n}" for n in range(20)]},
    ]
)

TRICKY = [
    {
        "order_index": n,
        "title": f'Topic {n}: "quoted" [x] {{y}} \\ é',
        "subtopics": [f'Idea {n}.{m} ]}}" ,: end' for m in range(1, 4)],
    }
    for n in range(1, 8)
]
TRICKY += [
    {
        "title": '  limits "AND" [bounds] {x} \\ é ',
        "subtopics": ["  new  one ", "", "saved SUBTOPIC"],
    },
    "A bare   title",
    {"title": "", "subtopics": []},
]
OVER_BOUNDS = [
    {"title": f"T{n % 63}", "subtopics": [f"s{m}" for m in range(33 if n in (2, 65) else 1)]}
    for n in range(66)
]

ANSWERS = {
    "object, indented": json.dumps({"topics": TRICKY}, indent=2),
    "bare list": json.dumps(TRICKY),
    "fenced after prose": "Here it is:\n```json\n" + json.dumps({"plan": TRICKY}) + "\n```",
    "other keys first": json.dumps({"notes": "a [list] {x}", "other": [1, 2], "topics": TRICKY}),
    "unicode unescaped": json.dumps({"study_plan": TRICKY}, ensure_ascii=False),
    "string topics": json.dumps({"meta": {"x": [1]}, "topics": ["A title", "B"]}),
    "over the bounds": json.dumps({"topics": OVER_BOUNDS}),
}


class LivePreviewTests(SimpleTestCase):
    def test_every_piece_shows_what_reparsing_the_whole_answer_would_show(self):
        pieces_seen, wrong = 0, []
        for shape, answer in ANSWERS.items():
            for seed in range(2):
                cuts = random.Random(seed)
                live, so_far, at = LivePreview(SAVED), "", 0
                while at < len(answer):
                    piece = answer[at : at + cuts.randint(1, 9)]
                    at += len(piece)
                    so_far += piece
                    live.feed(piece)
                    pieces_seen += 1
                    if live.preview() != merge_preview(preview_from_partial(so_far), SAVED):
                        wrong.append((shape, seed, so_far[-40:]))
        self.assertEqual(wrong, [])
        self.assertGreater(pieces_seen, 1000)

    def test_a_preview_is_marked_due_whenever_the_shown_plan_would_change(self):
        stale = []
        for shape, answer in ANSWERS.items():
            live, so_far, made = LivePreview(SAVED), "", 0
            shown = live.preview()
            for at in range(0, len(answer), 4):
                so_far += answer[at : at + 4]
                live.feed(answer[at : at + 4])
                if live.dirty:
                    shown, made = live.preview(), made + 1
                if shown != merge_preview(preview_from_partial(so_far), SAVED):
                    stale.append((shape, so_far[-40:]))
            # Not at every piece that may close one: only when a title or subtopic did.
            may_close = sum('"' in answer[at : at + 4] for at in range(0, len(answer), 4))
            self.assertLess(made, may_close, shape)
        self.assertEqual(stale, [])

    def test_the_previous_plans_topics_are_shown_until_the_model_reaches_them(self):
        live = LivePreview(SAVED)
        live.feed('{"topics": [{"title": "Old topic", "subtopics": ["b", "A"]}, {"title": "Ne')

        shown = live.preview()

        self.assertEqual(
            [(t["title"], t["subtopics"]) for t in shown],
            [
                ("Old topic", ["b", "A"]),  # "a" is repeated as "A": shown once
                ('Limits "and" [bounds] {x} \\ é', ["Saved subtopic"]),
                ("T3", SAVED[2]["subtopics"]),
            ],
        )


def _plan(topics: int) -> list[dict]:
    return [
        {"order_index": n, "title": f"Topic {n}", "subtopics": [f"Idea {n}.{m}" for m in (1, 2)]}
        for n in range(1, topics + 1)
    ]


@override_settings(AI_RETRY_MAX_WAIT=0.01, AI_READ_TIMEOUT=30)
class PacedPreviewTests(FakeProviderMixin, SimpleTestCase):
    async def test_previews_per_answer_are_bounded_by_its_duration_not_by_its_pieces(self):
        answer = json.dumps({"topics": _plan(8)})
        self.provider.responder = lambda request: Reply.stream(answer, chunk_size=4, delay=0.003)
        made = []
        real_preview = LivePreview.preview

        def counted(live):
            made.append(time.monotonic())
            return real_preview(live)

        builder = OpenRouterBuilder()
        started = time.monotonic()
        with mock.patch.object(LivePreview, "preview", counted):
            steps = [s async for s in builder.fold([], SourceDocument("a.md", "x"), language="en")]
        span = time.monotonic() - started

        pieces_that_may_close_a_topic = sum(
            '"' in answer[at : at + 4] or "]" in answer[at : at + 4]
            for at in range(0, len(answer), 4)
        )
        self.assertLessEqual(len(made), span / PREVIEW_INTERVAL + 2)
        self.assertLess(len(made), pieces_that_may_close_a_topic / 4)
        gaps = [later - earlier for earlier, later in itertools.pairwise(made[1:])]
        self.assertTrue(all(gap >= PREVIEW_INTERVAL * 0.9 for gap in gaps), gaps)
        # What was shown is still right: the previews grow, and the result is the answer.
        previews = [s.plan for s in steps if not s.final]
        self.assertGreater(len(previews), 1)
        self.assertEqual([len(p) for p in previews], sorted(len(p) for p in previews))
        self.assertEqual(steps[-1].plan, normalize_plan(_plan(8)))

    async def test_a_waiting_preview_goes_out_when_due_though_the_model_sends_nothing_more(self):
        first = '{"topics": [{"title": "Limits", "subtopics": []}'
        second = ', {"title": "Series", "subtopics": []}'
        # Both topics arrive within one interval, then the model goes quiet.
        events = [completion_chunk(""), completion_chunk(first), completion_chunk(second)]
        self.provider.enqueue(Reply.sse(events, delay=0.01, ending="hang"))
        builder = OpenRouterBuilder()
        shown_at = {}

        fold = builder.fold([], SourceDocument("a.md", "x"), language="en")
        async with asyncio.timeout(5):  # a bound for failure, far above the interval
            async for step in fold:
                shown_at.setdefault(len(step.plan), time.monotonic())
                if len(step.plan) == 2:
                    break
        await fold.aclose()

        self.assertEqual(set(shown_at), {1, 2})
        self.assertGreaterEqual(shown_at[2] - shown_at[1], PREVIEW_INTERVAL * 0.9)
        request = self.provider.requests[0]
        self.assertTrue(await asyncio.to_thread(request.wait_disconnected, 5))

    async def test_a_stream_that_ends_early_still_gets_its_one_rerun(self):
        answer = json.dumps({"topics": _plan(2)})
        self.provider.enqueue(
            Reply.stream(answer[:30], chunk_size=4, ending="abort"),
            Reply.stream(answer, chunk_size=4),
        )
        builder = OpenRouterBuilder()

        steps = [s async for s in builder.fold([], SourceDocument("a.md", "x"), language="en")]

        self.assertEqual(len(self.provider.requests), 2)
        self.assertEqual(steps[-1].plan, normalize_plan(_plan(2)))


class PreviewIntervalTests(SimpleTestCase):
    def test_the_interval_is_the_pacing_gap_of_progress_events(self):
        self.assertEqual(
            inspect.signature(paced).parameters["min_gap"].default, openrouter.PREVIEW_INTERVAL
        )
