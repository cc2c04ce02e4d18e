"""A run's progress rides on its session's own write (issue 16: one statement per table, not
per row kind): while the run lives, what it did is in `StudySession.generation_journal`; the
run row gets it when the run ends — and when a worker died, when its run is closed for it."""

from datetime import timedelta

from django.utils import timezone

from plans.builders.base import Usage
from plans.generation import DocumentProcessed, _save_document_folded, _start_run
from plans.live import _remote_state
from sessions_app.models import GenerationRun, LostClaim, StudySession, sweep_abandoned
from tests.base import AppTestCase


class _Builder:
    name = "openrouter"
    model = "test/model"


class DeadWorkerRunTests(AppTestCase):
    """A worker folds two of three documents and dies (nothing of its own `finally` runs)."""

    def setUp(self):
        self.session = self.make_session()
        self.documents = [
            self.make_document(self.session, name=f"l{n}.md", text=f"# Topic {n}\n\nText.")
            for n in range(1, 4)
        ]
        self.session.claim_for_generation()
        _, _, _, _, self.run = _start_run(self.session, _Builder())
        usage, plan, folded = Usage(), [], []
        for number, document in enumerate(self.documents[:2], start=1):
            usage.add(100, 20, 0.001, "test/model")
            plan = [*plan, {"order_index": number, "title": f"Topic {number}", "subtopics": []}]
            folded = [*folded, str(document.pk)]
            event = DocumentProcessed(number, 3, plan, 33 * number, "done", document.original_name)
            _save_document_folded(
                self.session, self.run, plan, folded, usage, 2 * number + 1, event, document
            )
        # The row itself was not written meanwhile: the journal is the only record.
        row = GenerationRun.objects.get(pk=self.run.pk)
        self.assertEqual((row.documents_processed, row.events), (0, {}))
        StudySession.objects.filter(pk=self.session.pk).update(
            generation_heartbeat_at=timezone.now() - timedelta(hours=1)
        )

    def assert_closed_with_its_progress(self):
        run = GenerationRun.objects.get(pk=self.run.pk)
        self.assertEqual(run.outcome, GenerationRun.Outcome.FAILED)
        self.assertEqual(run.documents_processed, 2)
        self.assertEqual([e["seq"] for e in run.events["processed"]], [3, 5])
        self.assertEqual([e["document"] for e in run.events["processed"]], ["l1.md", "l2.md"])
        self.assertEqual((run.prompt_tokens, run.completion_tokens), (200, 40))
        self.assertAlmostEqual(float(run.cost), 0.002)

    def test_a_takeover_closes_the_dead_run_with_what_it_had_done(self):
        taker = StudySession.objects.get(pk=self.session.pk)
        taker.claim_for_generation()

        self.assert_closed_with_its_progress()

    def test_the_sweep_closes_the_dead_run_with_what_it_had_done(self):
        sweep_abandoned()

        self.assert_closed_with_its_progress()

    def test_a_watcher_on_another_worker_reads_the_progress_from_the_session(self):
        StudySession.objects.filter(pk=self.session.pk).update(
            generation_heartbeat_at=timezone.now()
        )
        state = _remote_state(str(self.session.pk), str(self.run.pk))

        items = state.catch_up(1, with_plan=False)
        self.assertEqual(
            [(i.seq, i.event.name) for i in items],
            [(3, "document_processed"), (5, "document_processed")],
        )
        self.assertEqual(items[-1].event.payload()["plan"][-1]["title"], "Topic 2")

    def test_the_journal_of_an_older_run_is_not_taken_for_the_current_one(self):
        later = GenerationRun.objects.create(session=self.session, builder="offline")
        StudySession.objects.filter(pk=self.session.pk).update(
            generation_heartbeat_at=timezone.now()
        )
        state = _remote_state(str(self.session.pk), str(later.pk))

        self.assertEqual(state.run.documents_processed, 0)
        self.assertEqual(state.catch_up(1, with_plan=False), [])


class LostWriteTests(AppTestCase):
    def test_a_document_whose_save_did_not_go_through_is_not_counted_on_the_run(self):
        session = self.make_session()
        document = self.make_document(session)
        session.claim_for_generation()
        _, _, _, _, run = _start_run(session, _Builder())
        StudySession.objects.filter(pk=session.pk).update(generation_token=None)  # taken
        plan = [{"order_index": 1, "title": "Limits", "subtopics": []}]
        event = DocumentProcessed(1, 1, plan, 100, "done", document.original_name)

        with self.assertRaises(LostClaim):
            _save_document_folded(
                session, run, plan, [str(document.pk)], Usage(), 3, event, document
            )

        self.assertEqual((run.documents_processed, run.events.get("processed", [])), (0, []))
        self.assertIsNone(run.first_event_at)
        self.assertFalse(session.plan_versions.exists())
