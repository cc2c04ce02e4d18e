"""The lean statements of the hot path (studyplanner.db.update_row / insert_row) store and
read exactly what the ORM does, on SQLite and PostgreSQL alike."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from plans.models import PlanVersion
from sessions_app.models import Document, GenerationRun, StudySession
from studyplanner.db import _update_sql, get_row, insert_row, update_row
from tests.base import AppTestCase

PLAN = [{"order_index": 1, "title": "Grenzwerte – ε/δ", "subtopics": ["Einseitig", "∞"]}]


class UpdateRowTests(AppTestCase):
    def test_it_stores_what_the_orm_reads_back_and_returns_converted_values(self):
        session = self.make_session()
        moment = timezone.now() - timedelta(minutes=3)

        returned = update_row(
            StudySession,
            {"id": session.pk, "generation_token": None},
            {"draft_plan": PLAN, "generation_heartbeat_at": moment, "title": "Analysis"},
            ("generation_heartbeat_at", "draft_plan", "cancel_requested_at"),
        )

        self.assertEqual(returned, (moment, PLAN, None))
        stored = StudySession.objects.get(pk=session.pk)
        self.assertEqual(
            (stored.draft_plan, stored.generation_heartbeat_at, stored.title),
            (PLAN, moment, "Analysis"),
        )

    def test_a_condition_that_does_not_hold_updates_nothing(self):
        session = self.make_session()

        missed = update_row(
            StudySession,
            {"id": session.pk, "status": StudySession.Status.GENERATING_PLAN},
            {"title": "Changed"},
        )
        none_is_null = update_row(
            StudySession, {"id": session.pk, "generation_token": None}, {"title": "Kept"}
        )

        self.assertIsNone(missed)
        self.assertEqual(none_is_null, ())
        self.assertEqual(StudySession.objects.get(pk=session.pk).title, "Kept")

    def test_its_sql_is_built_once_per_shape(self):
        session = self.make_session()
        _update_sql.cache_clear()

        for title in ("One", "Two", "Three"):
            update_row(StudySession, {"id": session.pk}, {"title": title})
        update_row(StudySession, {"id": session.pk, "generation_token": None}, {"title": "Four"})

        info = _update_sql.cache_info()
        self.assertEqual((info.misses, info.hits), (2, 2))
        self.assertEqual(StudySession.objects.get(pk=session.pk).title, "Four")


class InsertRowTests(AppTestCase):
    def test_it_inserts_one_row_the_orm_reads_back_with_its_auto_fields(self):
        session = self.make_session()
        before = timezone.now()

        with CaptureQueriesContext(connection) as captured:
            version = insert_row(
                PlanVersion(
                    session=session,
                    plan=PLAN,
                    source=PlanVersion.Source.DOCUMENT,
                    label="skript.pdf",
                    dropped=["Anhang"],
                )
            )

        self.assertEqual(len(captured.captured_queries), 1)
        stored = PlanVersion.objects.get(pk=version.pk)
        self.assertEqual(
            (stored.plan, stored.label, stored.dropped), (PLAN, "skript.pdf", ["Anhang"])
        )
        self.assertGreaterEqual(stored.created_at, before)
        self.assertEqual(stored.created_at, version.created_at)
        self.assertFalse(version._state.adding)

    def test_a_decimal_cost_given_as_a_float_is_stored_as_the_orm_would(self):
        session = self.make_session()
        lean = insert_row(GenerationRun(session=session, builder="openrouter"))
        orm = GenerationRun.objects.create(session=session, builder="openrouter")

        update_row(GenerationRun, {"id": lean.pk}, {"cost": 0.0012345, "prompt_tokens": 7})
        GenerationRun.objects.filter(pk=orm.pk).update(cost=0.0012345, prompt_tokens=7)

        stored = GenerationRun.objects.get(pk=lean.pk)
        expected = GenerationRun.objects.get(pk=orm.pk)
        self.assertEqual((stored.cost, stored.prompt_tokens), (expected.cost, 7))
        self.assertEqual(stored.outcome, GenerationRun.Outcome.RUNNING)


class DocumentsWithTextsTests(AppTestCase):
    def test_only_the_documents_to_fold_come_with_their_texts_and_outlines(self):
        session = self.make_session()
        outline = [{"title": "Grenzwerte", "level": 1, "page": 2}]
        folded = self.make_document(session, name="a.md", text="# A\n\nRead already.")
        pending = self.make_document(session, name="b.pdf", text="Neu.", outline=outline)
        failed = self.make_document(session, name="c.md", text="x", status=Document.Status.FAILED)
        session.folded_document_ids = [str(folded.pk)]

        documents = session._documents_with_texts()

        by_name = {d.original_name: d for d in documents}
        self.assertEqual([d.original_name for d in documents], ["a.md", "b.pdf", "c.md"])
        self.assertEqual(
            (by_name["b.pdf"].text_to_fold, by_name["b.pdf"].outline_to_fold), ("Neu.", outline)
        )
        self.assertEqual(
            (by_name["a.md"].text_to_fold, by_name["a.md"].outline_to_fold), ("", None)
        )
        self.assertEqual(by_name["c.md"].text_to_fold, "")
        for document, original in ((by_name["b.pdf"], pending), (by_name["c.md"], failed)):
            self.assertEqual(
                (document.pk, document.session_id, document.status, document.position),
                (original.pk, session.pk, original.status, original.position),
            )
        to_fold, _ = session.documents_to_fold(with_texts=True)
        self.assertEqual([d.pk for d in to_fold], [pending.pk])


class GetRowTests(AppTestCase):
    def test_it_loads_the_row_as_the_orm_does_and_only_when_every_condition_holds(self):
        session = self.make_session(draft_plan=PLAN, generation_journal={"run": "r"})

        loaded = get_row(StudySession, {"id": session.pk, "owner": self.owner.pk})
        foreign = get_row(StudySession, {"id": session.pk, "owner": self.other.pk})

        expected = StudySession.objects.get(pk=session.pk)
        for field in StudySession._meta.concrete_fields:
            with self.subTest(field.name):
                self.assertEqual(getattr(loaded, field.attname), getattr(expected, field.attname))
        self.assertFalse(loaded._state.adding)
        self.assertIsNone(foreign)


class UpdateThenInsertTests(AppTestCase):
    """StudySession.save_progress saves the plan's version with the plan: one statement on
    PostgreSQL, two elsewhere; never the version without the plan."""

    def version(self, session) -> PlanVersion:
        return PlanVersion(session=session, plan=PLAN, source=PlanVersion.Source.DOCUMENT)

    def test_the_row_is_inserted_with_the_update_in_one_statement_on_postgresql(self):
        session = self.make_session()
        version = self.version(session)

        with CaptureQueriesContext(connection) as captured:
            returned = update_row(
                StudySession,
                {"id": session.pk},
                {"draft_plan": PLAN},
                ("cancel_requested_at",),
                then_insert=version,
            )

        expected = 1 if connection.vendor == "postgresql" else 2
        self.assertEqual(len(captured.captured_queries), expected)
        self.assertEqual(returned, (None,))
        self.assertEqual(StudySession.objects.get(pk=session.pk).draft_plan, PLAN)
        stored = PlanVersion.objects.get(pk=version.pk)
        self.assertEqual((stored.plan, stored.session_id), (PLAN, session.pk))
        self.assertFalse(version._state.adding)

    def test_nothing_is_inserted_when_no_row_was_updated(self):
        session = self.make_session()

        returned = update_row(
            StudySession,
            {"id": session.pk, "status": StudySession.Status.GENERATING_PLAN},
            {"draft_plan": PLAN},
            ("cancel_requested_at",),
            then_insert=self.version(session),
        )

        self.assertIsNone(returned)
        self.assertFalse(PlanVersion.objects.filter(session=session).exists())
        self.assertEqual(StudySession.objects.get(pk=session.pk).draft_plan, [])
