"""One structured log line per finished run (SPEC §17): what ended, how long it took, what it
cost — never the documents' text."""

import json

from django.test import override_settings

from sessions_app.models import GenerationRun
from studyplanner.db import run_db
from tests.base import AppTestCase
from tests.fakes import FakeProviderMixin, Reply
from tests.plans_scripts import ScriptedPlans
from tests.streams import read_all

SECRET = "Confidential lecture sentence that must never reach a log"


class FinishedLogLineTests(FakeProviderMixin, AppTestCase):
    def setUp(self):
        super().setUp()
        self.enterContext(override_settings(PLAN_BUILDER="openrouter", AI_RETRY_MAX_WAIT=0.01))
        self.session = self.make_session()
        for name in ("week1.md", "week2.md"):
            self.make_document(self.session, name=name, text=f"# {name}\n\n{SECRET}.")

    async def generate(self) -> list[str]:
        await self.async_client.aforce_login(self.owner)
        with self.assertLogs("studyplanner.finished", "INFO") as logs:
            response = await self.async_client.get(
                f"/sessions/{self.session.pk}/generate-plan",
                headers={"accept": "text/event-stream"},
            )
            await read_all(response)
        return logs.output

    async def test_a_finished_run_logs_one_line_with_its_figures(self):
        self.provider.responder = ScriptedPlans()

        [line] = await self.generate()

        self.assertNotIn(SECRET, line)
        fields = json.loads(line.split("finished ", 1)[1])
        run = await GenerationRun.objects.aget(session=self.session)
        self.assertEqual(fields["event"], "run_finished")
        self.assertEqual(fields["outcome"], "succeeded")
        self.assertEqual(fields["session_id"], str(self.session.pk))
        self.assertEqual((fields["builder"], fields["model"]), ("openrouter", "fake/model-1"))
        self.assertEqual(fields["documents"], 2)
        self.assertEqual((fields["prompt_tokens"], fields["completion_tokens"]), (24, 68))
        expected = (run.finished_at - run.started_at).total_seconds()
        self.assertAlmostEqual(fields["duration_s"], expected, places=3)
        self.assertIsNotNone(run.first_event_at)
        self.assertAlmostEqual(
            fields["first_event_s"], (run.first_event_at - run.started_at).total_seconds(), 3
        )
        self.assertIn("cost", fields)

    async def test_a_failed_run_logs_its_outcome_and_reason(self):
        self.provider.responder = lambda request: Reply.error(401, message="bad key")

        [line] = await self.generate()

        fields = json.loads(line.split("finished ", 1)[1])
        self.assertEqual((fields["outcome"], fields["documents"]), ("failed", 0))
        self.assertIsNone(fields["first_event_s"])
        self.assertIn("401", fields["error"])
        run = await run_db(GenerationRun.objects.get, session=self.session)
        self.assertIsNone(run.first_event_at)
