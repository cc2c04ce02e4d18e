"""The live view while the AI builder rewrites the plan (issue 11, finding 9): a topic the
model is still writing never shows fewer subtopics than the saved plan had."""

from django.test import SimpleTestCase, override_settings

from plans.builders.openrouter import merge_preview
from sessions_app.models import StudySession
from tests.base import AppTestCase
from tests.fakes import FakeProviderMixin
from tests.plans_scripts import ScriptedPlans
from tests.streams import read_all

SAVED = [
    {"order_index": 1, "title": "Limits", "subtopics": ["Epsilon-delta", "One-sided limits"]},
    {"order_index": 2, "title": "Derivatives", "subtopics": ["Product rule"]},
]


class MergePreviewTests(SimpleTestCase):
    def test_a_topic_being_rewritten_keeps_its_saved_subtopics_until_the_end(self):
        written = [{"order_index": 1, "title": "Limits", "subtopics": ["Continuity"]}]

        shown = merge_preview(written, SAVED)

        self.assertEqual(shown[0]["subtopics"], ["Continuity", "Epsilon-delta", "One-sided limits"])
        self.assertEqual(shown[1], SAVED[1])

    def test_subtopics_the_model_repeats_are_not_shown_twice(self):
        written = [{"order_index": 1, "title": "limits", "subtopics": ["one-sided limits"]}]

        shown = merge_preview(written, SAVED)

        self.assertEqual(shown[0]["subtopics"], ["one-sided limits", "Epsilon-delta"])


class LiveStreamTests(FakeProviderMixin, AppTestCase):
    async def test_no_progress_event_shows_a_saved_topic_with_fewer_subtopics(self):
        final = [
            {"order_index": 1, "title": "Limits", "subtopics": ["One-sided limits", "Squeeze"]},
            {"order_index": 2, "title": "Derivatives", "subtopics": ["Product rule"]},
            {"order_index": 3, "title": "Series", "subtopics": ["Ratio test"]},
        ]
        self.provider.responder = ScriptedPlans({"week2.md": final}, chunk_size=4, delay=0.02)
        session = await StudySession.objects.acreate(
            owner=self.owner,
            title="Calculus",
            status=StudySession.Status.UPLOADING,
            draft_plan=SAVED,
        )
        await session.documents.acreate(
            original_name="week2.md", content_text="# Series", status="COMPLETED", position=1
        )
        await self.async_client.aforce_login(self.owner)

        with override_settings(PLAN_BUILDER="openrouter"):
            response = await self.async_client.get(
                f"/sessions/{session.pk}/generate-plan", headers={"accept": "text/event-stream"}
            )
            events, _, _ = await read_all(response)

        progress = [e.json["plan"] for e in events if e.event == "progress"]
        self.assertGreater(len(progress), 2)
        for plan in progress:
            shown = {t["title"]: set(t["subtopics"]) for t in plan}
            for topic in SAVED:
                self.assertLessEqual(set(topic["subtopics"]), shown[topic["title"]], plan)
        # The saved plan is the model's final answer: "Epsilon-delta" really went.
        processed = next(e.json["plan"] for e in events if e.event == "document_processed")
        self.assertEqual(processed[0]["subtopics"], ["One-sided limits", "Squeeze"])
