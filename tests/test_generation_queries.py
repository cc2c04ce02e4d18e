"""Database round trips of a generation (issue 16): a whole 3-document offline generation
costs a fixed, small number of SQL statements and thread hops. Any extra statement or hop
(a refresh after the claim, a follow-up SELECT for the cancel flag, a SELECT per document)
makes these fail: lower the numbers when you save one, never raise them silently."""

import asyncio
import contextlib
import io
from unittest import mock

from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext

from plans.builders.offline import OfflineBuilder
from plans.generation import Completed, StopSignal, _watch_heartbeat, build_plan
from plans.models import VERSIONS_KEPT, PlanVersion
from sessions_app.extraction import extract_document
from sessions_app.models import GenerationRun, StudySession
from studyplanner.db import run_db
from tests.base import AppTestCase
from tests.documents import pdf_with_outline
from tests.test_middleware_hops import counting_hops

# What a test's transaction adds around atomic blocks; in production these are BEGIN/COMMIT
# sent by the driver itself, not statements of ours.
SAVEPOINTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def statements(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(SAVEPOINTS)]


class ThreeDocumentGenerationRoundTripTests(AppTestCase):
    def setUp(self):
        self.session = self.make_session()
        for number in range(1, 4):
            self.make_document(
                self.session,
                name=f"lecture-{number}.md",
                text=f"# Lecture {number}\n\n## Topic {number}\n\n### Part {number}\n\nText.",
            )

    async def generate(self, session=None) -> list:
        session = session or await StudySession.objects.aget(pk=self.session.pk)
        return [event async for event in build_plan(session, builder=OfflineBuilder())]

    def test_a_three_document_generation_costs_a_fixed_number_of_statements(self):
        session = StudySession.objects.get(pk=self.session.pk)  # the caller's, not counted
        with CaptureQueriesContext(connection) as captured:
            events = async_to_sync(self.generate)(session)

        self.assertIsInstance(events[-1], Completed)
        sql = statements(captured)
        expected = EXPECTED_STATEMENTS[connection.vendor]
        self.assertEqual(len(sql), expected, "\n".join(s[:120] for s in sql))

    async def test_a_three_document_generation_costs_a_fixed_number_of_thread_hops(self):
        session = await StudySession.objects.aget(pk=self.session.pk)
        with counting_hops() as hops:
            events = await self.generate(session)

        self.assertIsInstance(events[-1], Completed)
        names = [getattr(f, "__qualname__", "?") for f in hops]
        self.assertEqual(len(hops), EXPECTED_HOPS, names)

    async def test_the_generation_still_saves_every_document_and_its_history(self):
        await self.generate()

        session = await StudySession.objects.aget(pk=self.session.pk)
        self.assertEqual(session.status, StudySession.Status.EDITING_PLAN)
        self.assertEqual(len(session.folded_document_ids), 3)
        self.assertEqual(
            await PlanVersion.objects.filter(
                session=session, source=PlanVersion.Source.DOCUMENT
            ).acount(),
            3,
        )
        run = await GenerationRun.objects.aget(session=session)
        self.assertEqual(run.outcome, GenerationRun.Outcome.SUCCEEDED)
        self.assertEqual(run.documents_processed, 3)
        self.assertIsNotNone(run.first_event_at)


EXPECTED_STATEMENTS = {"sqlite": 12, "postgresql": 9}
EXPECTED_HOPS = 5


class TextsReadWithTheClaimTests(AppTestCase):
    def test_the_documents_texts_and_outlines_read_with_the_claim_reach_the_builder(self):
        extracted = extract_document(io.BytesIO(pdf_with_outline()), "calculus.pdf")
        session = self.make_session()
        self.make_document(
            session, name="calculus.pdf", text=extracted.text, outline=extracted.outline
        )

        async def generate():
            return [event async for event in build_plan(session, builder=OfflineBuilder())]

        events = async_to_sync(generate)()

        self.assertIsInstance(events[-1], Completed)
        topics = [(topic["title"], topic["subtopics"]) for topic in events[-1].plan]
        self.assertEqual(
            topics,
            [
                ("Limits", ["One-sided limits", "Limits at infinity"]),
                ("Derivatives", ["Product rule"]),
            ],
        )


class HeartbeatFoldedIntoProgressTests(AppTestCase):
    def test_a_progress_write_during_the_wait_postpones_the_next_heartbeat(self):
        session = self.make_session()
        self.make_document(session)
        session.claim_for_generation()
        waits, hops_when_waiting = [], []

        async def progress_write_during(delay):
            # Stands in for the wait only: the progress write is the real one.
            waits.append(delay)
            hops_when_waiting.append(len(hops))
            if len(waits) == 1:
                await run_db(session.save_progress, [], [])
            else:
                raise asyncio.CancelledError

        async def watch():
            stop = StopSignal()
            with (
                mock.patch("plans.generation.asyncio.sleep", progress_write_during),
                contextlib.suppress(asyncio.CancelledError),
            ):
                await _watch_heartbeat(session, stop, 60.0)

        with counting_hops() as hops:
            async_to_sync(watch)()

        self.assertEqual(waits[0], 60.0)
        self.assertTrue(59.0 < waits[1] <= 60.0, waits)
        self.assertEqual(hops_when_waiting, [0, 1])  # the progress write; no heartbeat


class VersionsPrunedOncePerRunTests(AppTestCase):
    def test_a_generation_keeps_the_history_within_versions_kept(self):
        session = self.make_session()
        for number in range(VERSIONS_KEPT):
            PlanVersion.objects.create(
                session=session, plan=[], source=PlanVersion.Source.EDIT, label=f"edit {number}"
            )
        for number in range(1, 4):
            self.make_document(session, name=f"l{number}.md", text=f"## Topic {number}\n\nText.")

        async def generate():
            return [event async for event in build_plan(session, builder=OfflineBuilder())]

        events = async_to_sync(generate)()

        self.assertIsInstance(events[-1], Completed)
        versions = PlanVersion.objects.filter(session=session)
        self.assertEqual(versions.count(), VERSIONS_KEPT)
        self.assertEqual(versions.filter(source=PlanVersion.Source.DOCUMENT).count(), 3)
