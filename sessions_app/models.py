"""Study sessions and their documents, with the session status machine (SPEC §4).

Every status change is one conditional UPDATE on the session row, so it is atomic across
threads, processes and machines. A claim hands out a `generation_token`; every later write
of that generation is fenced by it, so a worker whose session was taken over (stale
heartbeat, staff reset) can no longer overwrite the new owner's work.
"""

import contextlib
import functools
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePath

from django.conf import settings
from django.db import connections, models
from django.db.models import Q
from django.utils import timezone

from studyplanner.db import from_db_values, run_db, update_row

logger = logging.getLogger(__name__)


class GenerationRefused(Exception):
    """A claim was refused; `reason` is a stable code, `message` is for the learner."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class LostClaim(Exception):
    """This worker no longer owns the generation (taken over, or reset by staff)."""


class HeartbeatState(models.TextChoices):
    OWNED = "owned"
    CANCEL_REQUESTED = "cancel_requested"
    LOST = "lost"


@dataclass(frozen=True)
class PlanProgress:
    """How many of the session's readable documents the plan already holds."""

    done: int
    total: int

    @property
    def remaining(self) -> int:
        return self.total - self.done


class StudySessionQuerySet(models.QuerySet):
    def owned_by(self, user):
        return self.filter(owner=user)

    def stale(self):
        """Sessions whose generation worker stopped sending heartbeats."""
        cutoff = timezone.now() - timedelta(seconds=settings.PLAN_STALE_AFTER)
        return self.filter(status=StudySession.Status.GENERATING_PLAN).filter(
            Q(generation_heartbeat_at__lt=cutoff) | Q(generation_heartbeat_at__isnull=True)
        )


class StudySession(models.Model):
    class Status(models.TextChoices):
        UPLOADING = "UPLOADING", "Uploading documents"
        GENERATING_PLAN = "GENERATING_PLAN", "Generating plan"
        EDITING_PLAN = "EDITING_PLAN", "Editing plan"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="study_sessions"
    )
    title = models.CharField(max_length=200)
    language = models.CharField(
        max_length=35, default="en", help_text="BCP-47 code, e.g. en, de, pt-BR"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.UPLOADING)
    draft_plan = models.JSONField(default=list, blank=True)
    # Documents already folded into draft_plan, in the order they were folded; a run
    # resumes with the completed documents not listed here.
    folded_document_ids = models.JSONField(default=list, blank=True)
    generation_token = models.UUIDField(null=True, blank=True, editable=False)
    generation_heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    # The running generation's journal, written with each document's progress (one
    # statement, not one per table): {"run": its id, "processed": its `document_processed`
    # events without their plans, "usage": tokens and cost so far}. The run row gets it
    # when the run ends (or, after a crash, when the run is closed for the dead worker).
    generation_journal = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StudySessionQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            models.Index(fields=["owner", "-updated_at"], name="session_owner_updated"),
            models.Index(
                fields=["status", "generation_heartbeat_at"], name="session_status_heartbeat"
            ),
        ]

    def __str__(self):
        return self.title

    def to_dict(self) -> dict:
        """The session as the JSON API shows it (SPEC §6)."""
        progress = self.progress()
        return {
            "id": str(self.id),
            "title": self.title,
            "language": self.language,
            "status": self.status,
            "documents": [d.to_dict() for d in self.documents.defer("content_text")],
            "draft_plan": self.plan,
            "progress": {"done": progress.done, "total": progress.total},
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    # --- derived state ---------------------------------------------------------------

    @property
    def plan(self) -> list[dict]:
        """draft_plan with each topic's keys in the documented order (§3).

        PostgreSQL's jsonb keeps object keys in its own order; what we show and send out
        reads {"order_index", "title", "subtopics"} everywhere.
        """
        return [
            {
                "order_index": topic.get("order_index"),
                "title": topic.get("title"),
                "subtopics": topic.get("subtopics", []),
            }
            for topic in self.draft_plan
            if isinstance(topic, dict)
        ]

    @property
    def is_generating(self) -> bool:
        """A live generation holds the session. A stale claim (its worker died) counts as
        released everywhere: uploads, deletes, the page and a new claim all ignore it."""
        return self.status == self.Status.GENERATING_PLAN and not self.is_stale

    @property
    def status_label(self) -> str:
        """The status as the learner reads it: "Uploading documents" only says what the
        session is doing when it has documents and no plan yet (SPEC §8)."""
        if self.status != self.Status.UPLOADING:
            return self.get_status_display()
        if self.draft_plan:
            return "Adding documents" if self.progress().remaining == 0 else "Plan in progress"
        count = getattr(self, "document_count", None)  # annotated by the sessions list
        if count == 0 or (count is None and not self.documents.exists()):
            return "No documents yet"
        return "Ready to generate" if self.completed_documents().exists() else "Add documents"

    @property
    def is_stale(self) -> bool:
        if self.status != self.Status.GENERATING_PLAN:
            return False
        if self.generation_heartbeat_at is None:
            return True
        age = timezone.now() - self.generation_heartbeat_at
        return age > timedelta(seconds=settings.PLAN_STALE_AFTER)

    def completed_documents(self):
        return self.documents.filter(status=Document.Status.COMPLETED)

    def documents_to_fold(self, with_texts: bool = False) -> tuple[list["Document"], bool]:
        """The completed documents a run must still fold in, and whether it starts over.

        A run never starts over by itself (SPEC §3: no action loses a saved plan): a
        deleted document only leaves `folded_document_ids` and its topics stay in the plan
        until the learner edits them or asks for a rebuild (`start_over`). The second value
        stays for callers that still read it and is always False. `with_texts`: the
        documents to fold come with their `text_to_fold` and `outline_to_fold` (read in the
        same SELECT; the other documents' texts are not read).
        """
        # One SELECT for all of them (the session's link too, or each would load it).
        if with_texts:
            documents = self._documents_with_texts()
        else:
            fields = ("id", "session", "original_name", "position", "status")
            documents = list(self.documents.only(*fields))
        completed = [d for d in documents if d.status == Document.Status.COMPLETED]
        present = {str(d.pk) for d in documents}
        if gone := [pk for pk in self.folded_document_ids if pk not in present]:
            # Deleted some other way than the page (admin, shell): same rule, the plan stays.
            for pk in gone:
                self.forget_folded_document(pk)
        folded = set(self.folded_document_ids)
        return [d for d in completed if str(d.id) not in folded], False

    def _documents_with_texts(self) -> list["Document"]:
        """The session's documents, the texts of those still to fold with them: one SELECT
        written out once per number of folded documents (see _documents_sql)."""
        connection = connections["default"]
        pk = Document._meta.pk
        folded = []
        for value in self.folded_document_ids:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                folded.append(pk.get_db_prep_value(uuid.UUID(str(value)), connection))
        session_id = pk.get_db_prep_value(self.pk, connection)
        params = [Document.Status.COMPLETED, *folded, Document.Status.COMPLETED, *folded]
        with connection.cursor() as cursor:
            cursor.execute(_documents_sql(connection.alias, len(folded)), [*params, session_id])
            rows = cursor.fetchall()
        documents = []
        for row in rows:
            values = from_db_values(Document, connection, _DOCUMENT_FIELDS, row)
            document = Document.from_db(connection.alias, _DOCUMENT_FIELDS, values)
            document.text_to_fold = row[-2] or ""
            (document.outline_to_fold,) = from_db_values(
                Document, connection, ("outline",), row[-1:]
            )
            documents.append(document)
        return documents

    def forget_folded_document(self, document_id) -> bool:
        """A document in the plan was deleted: it leaves the folded list, the plan stays.
        Returns whether it had been folded in."""
        folded = [pk for pk in self.folded_document_ids if pk != str(document_id)]
        if len(folded) == len(self.folded_document_ids):
            return False
        StudySession.objects.filter(pk=self.pk).update(
            folded_document_ids=folded, updated_at=timezone.now()
        )
        self.folded_document_ids = folded
        return True

    def progress(self) -> PlanProgress:
        completed_ids = [str(pk) for pk in self.completed_documents().values_list("id", flat=True)]
        folded = set(self.folded_document_ids)
        return PlanProgress(
            done=sum(1 for pk in completed_ids if pk in folded), total=len(completed_ids)
        )

    def refusal(self) -> GenerationRefused | None:
        """Why a claim would be refused right now, or None if it could succeed."""
        if self.status == self.Status.GENERATING_PLAN and not self.is_stale:
            return GenerationRefused(
                "already_generating", "A study plan is already being generated for this session."
            )
        if self.status == self.Status.EDITING_PLAN:
            return GenerationRefused(
                "editing_plan",
                "The plan is ready to edit. Choose “Add more documents” to fold in new material.",
            )
        if not self.completed_documents().exists():
            waiting = self.documents.filter(
                status__in=[Document.Status.PENDING, Document.Status.PROCESSING]
            ).exists()
            return GenerationRefused(
                "no_completed_document",
                "Your documents are still being read; you can generate once one is ready."
                if waiting
                else "Upload at least one document that could be read before generating a plan.",
            )
        return None

    # --- the status machine ----------------------------------------------------------

    def _update_fenced(
        self,
        values: dict,
        returning: tuple = (),
        notice: tuple[str, str] | None = None,
        then_insert: models.Model | None = None,
    ) -> tuple | None:
        """Update this session's row, only while this instance still owns its generation:
        one statement (built once, see studyplanner.db.update_row) that returns the
        `returning` fields and, on PostgreSQL, sends the NOTIFY `notice` (channel, payload)
        when it commits; None when the claim is gone."""
        where = {
            "id": self.pk,
            "status": self.Status.GENERATING_PLAN,
            "generation_token": self.generation_token,
        }
        return update_row(
            StudySession, where, values, returning, then_insert=then_insert, **_notifying(notice)
        )

    def claim_for_generation(self) -> None:
        """UPLOADING (or stale GENERATING_PLAN) → GENERATING_PLAN, atomically.

        Of any number of concurrent callers exactly one succeeds; the others get
        GenerationRefused saying why. Needs at least one completed document.
        """
        now = timezone.now()
        stale_before = now - timedelta(seconds=settings.PLAN_STALE_AFTER)
        token = uuid.uuid4()
        connection = connections["default"]
        prepare = {name: self._meta.get_field(name) for name in ("id", "generation_token")}
        params = [
            self.Status.GENERATING_PLAN,
            prepare["generation_token"].get_db_prep_value(token, connection),
            connection.ops.adapt_datetimefield_value(now),
            connection.ops.adapt_datetimefield_value(now),
            prepare["id"].get_db_prep_value(self.pk, connection),
            self.Status.UPLOADING,
            self.Status.GENERATING_PLAN,
            connection.ops.adapt_datetimefield_value(stale_before),
            Document.Status.COMPLETED,
            GenerationRun.Outcome.RUNNING,
        ]
        # One statement (built once, see _claim_sql): the claim returns the row's progress
        # (no refresh after it) and whether a run is still "running" (only after a takeover).
        with connection.cursor() as cursor:
            cursor.execute(_claim_sql(connection.alias), params)
            row = cursor.fetchone()
        claimed = None
        if row is not None:
            claimed = (*from_db_values(StudySession, connection, _CLAIM_RETURNS, row), row[-1])
        if claimed is None:
            self.refresh_from_db()
            raise self.refusal() or GenerationRefused(
                "already_generating", "A study plan is already being generated for this session."
            )
        (
            self.draft_plan,
            self.folded_document_ids,
            self.title,
            self.language,
            journal,
            taken_over,
        ) = claimed
        self.status = self.Status.GENERATING_PLAN
        self.generation_token = token
        self.generation_heartbeat_at = now
        self.cancel_requested_at = None
        self.updated_at = now
        if not taken_over:
            return
        # A takeover: whatever run the dead worker left "running" is over.
        self.generation_runs.end(
            GenerationRun.Outcome.FAILED,
            "The worker generating this plan stopped responding; the run was taken over.",
            journal=journal,
        )

    def heartbeat(self) -> HeartbeatState:
        """Refresh the heartbeat; report whether the run should go on."""
        now = timezone.now()
        updated = self._update_fenced({"generation_heartbeat_at": now}, ("cancel_requested_at",))
        if updated is None:
            return HeartbeatState.LOST
        self.generation_heartbeat_at = now
        return HeartbeatState.CANCEL_REQUESTED if updated[0] else HeartbeatState.OWNED

    def save_progress(
        self,
        plan: list,
        folded_document_ids: list[str],
        journal: dict | None = None,
        notice: tuple[str, str] | None = None,
        also_insert: models.Model | None = None,
    ) -> bool:
        """Store the plan after a document was folded in (and refresh the heartbeat), with
        the run's `journal` (see generation_journal) and, on PostgreSQL, the NOTIFY
        `notice` (channel, payload) sent when it commits. `also_insert`: a new row saved
        with it, only if the claim still holds (the plan's version; on PostgreSQL in the
        same statement, see studyplanner.db.update_row).

        Returns whether a cancel was requested meanwhile (from any process), so the run can
        stop between documents without waiting for its next heartbeat.
        """
        now = timezone.now()
        values = {
            "draft_plan": plan,
            "folded_document_ids": folded_document_ids,
            "generation_heartbeat_at": now,
            "updated_at": now,
        }
        if journal is not None:
            values["generation_journal"] = journal
        # One statement: the write returns the cancel flag (no SELECT after it) and carries
        # the notification (no statement of its own).
        updated = self._update_fenced(values, ("cancel_requested_at",), notice, also_insert)
        if updated is None:
            raise LostClaim()
        self.draft_plan = plan
        self.folded_document_ids = folded_document_ids
        self.generation_heartbeat_at = now
        self.updated_at = now
        if journal is not None:
            self.generation_journal = journal
        return updated[0] is not None

    def complete_with_plan(self, plan: list, notice: tuple[str, str] | None = None) -> None:
        """GENERATING_PLAN → EDITING_PLAN with the finished plan, which the caller has
        validated (plans.schema.normalize_plan); `notice` as in save_progress."""
        now = timezone.now()
        values = {
            "status": self.Status.EDITING_PLAN,
            "draft_plan": plan,
            "generation_token": None,
            "generation_heartbeat_at": None,
            "cancel_requested_at": None,
            "updated_at": now,
        }
        if self._update_fenced(values, notice=notice) is None:
            raise LostClaim()
        self.status = self.Status.EDITING_PLAN
        self.draft_plan = plan
        self.generation_token = None
        self.generation_heartbeat_at = None
        self.cancel_requested_at = None

    def release_to_uploading(self, notice: tuple[str, str] | None = None) -> bool:
        """GENERATING_PLAN → UPLOADING after error, cancel or disconnect; keeps the progress.
        `notice` as in save_progress (sent only if released).

        Returns False when this worker had already lost the session (nothing to release).
        """
        now = timezone.now()
        values = {**_NO_GENERATION, "updated_at": now}
        released = self._update_fenced(values, notice=notice) is not None
        if released:
            self.status = self.Status.UPLOADING
            self.generation_token = None
            self.generation_heartbeat_at = None
            self.cancel_requested_at = None
        return bool(released)

    def request_cancel(self) -> bool:
        """Ask the running generation (in any process) to stop. False if none is running.

        On PostgreSQL the owner hears of it at once (NOTIFY, see plans.relay); elsewhere, and
        as a fallback, on its next heartbeat.
        """
        updated = StudySession.objects.filter(
            pk=self.pk, status=self.Status.GENERATING_PLAN
        ).update(cancel_requested_at=timezone.now())
        if updated:
            notify(CANCEL_CHANNEL, str(self.pk))
        return bool(updated)

    def release_if_abandoned(self, silent_for: float) -> bool:
        """GENERATING_PLAN → UPLOADING when no worker has sent a heartbeat for `silent_for`
        seconds: a cancel request that no live worker will ever read. False otherwise.

        Not a way for a live generation to end (that is plans.generation's `_finish`): this
        takes over the claim of a worker that died, as a new claim or the sweep would."""
        now = timezone.now()
        released = StudySession.objects.filter(
            Q(generation_heartbeat_at__lt=now - timedelta(seconds=silent_for))
            | Q(generation_heartbeat_at__isnull=True),
            pk=self.pk,
            status=self.Status.GENERATING_PLAN,
        ).update(
            **_NO_GENERATION,
            updated_at=now,
        )
        if released:
            self.generation_runs.end(
                GenerationRun.Outcome.CANCELLED,
                "Cancelled by the learner; its worker had stopped responding.",
            )
            self.refresh_from_db()
        return bool(released)

    def reopen(self) -> None:
        """EDITING_PLAN → UPLOADING ("add more documents"); the plan and progress stay."""
        updated = StudySession.objects.filter(pk=self.pk, status=self.Status.EDITING_PLAN).update(
            status=self.Status.UPLOADING, updated_at=timezone.now()
        )
        self.refresh_from_db()
        if not updated:
            raise GenerationRefused(
                "not_editing", "Only a session whose plan is being edited can take more documents."
            )

    def save_edited_plan(self, plan: list) -> list:
        """Store a learner's edit, which the caller has validated
        (plans.schema.normalize_plan); only while the plan is being edited."""
        updated = StudySession.objects.filter(pk=self.pk, status=self.Status.EDITING_PLAN).update(
            draft_plan=plan, updated_at=timezone.now()
        )
        self.refresh_from_db()
        if not updated:
            raise GenerationRefused(
                "not_editing", "The plan can only be edited once it has been generated."
            )
        return plan

    def restore_plan(self, plan: list, folded_document_ids: list[str]) -> None:
        """Put back an earlier plan (plan history); refused while a plan is generated."""
        updated = (
            StudySession.objects.filter(pk=self.pk)
            .exclude(status=self.Status.GENERATING_PLAN)
            .update(
                draft_plan=plan,
                folded_document_ids=folded_document_ids,
                updated_at=timezone.now(),
            )
        )
        self.refresh_from_db()
        if not updated:
            raise GenerationRefused(
                "already_generating", "Wait for the running generation to end, or cancel it."
            )

    def start_over(self) -> None:
        """ "Rebuild from the remaining documents": an empty plan, every document still to
        fold in, back to UPLOADING (the caller keeps the old plan in the history first)."""
        updated = (
            StudySession.objects.filter(pk=self.pk)
            .exclude(status=self.Status.GENERATING_PLAN)
            .update(
                status=self.Status.UPLOADING,
                draft_plan=[],
                folded_document_ids=[],
                updated_at=timezone.now(),
            )
        )
        self.refresh_from_db()
        if not updated:
            raise GenerationRefused(
                "already_generating", "Wait for the running generation to end, or cancel it."
            )

    def reset_to_uploading(self) -> None:
        """Staff reset: back to UPLOADING whatever the state; clears heartbeat and cancel flag."""
        now = timezone.now()
        StudySession.objects.filter(pk=self.pk).update(
            **_NO_GENERATION,
            updated_at=now,
        )
        self.generation_runs.end(GenerationRun.Outcome.FAILED, "Reset by staff.")
        notify(CANCEL_CHANNEL, str(self.pk))  # its owner (any worker) stops at once
        self.refresh_from_db()

    def clear_draft_plan(self) -> None:
        """Forget the plan and the folding progress; the next run starts from scratch."""
        StudySession.objects.filter(pk=self.pk).update(
            draft_plan=[], folded_document_ids=[], updated_at=timezone.now()
        )
        self.refresh_from_db()

    # Async twins for the streaming code: each is one short database block that hands its
    # connection back afterwards (see studyplanner.db.run_db).
    async def aclaim_for_generation(self) -> None:
        await run_db(self.claim_for_generation)

    async def aheartbeat(self) -> HeartbeatState:
        return await run_db(self.heartbeat)

    async def arelease_to_uploading(self) -> bool:
        return await run_db(self.release_to_uploading)

    async def arequest_cancel(self) -> bool:
        return await run_db(self.request_cancel)


# Channels of PostgreSQL NOTIFY (plans.relay listens): a run's events, and cancel requests.
EVENTS_CHANNEL = "studyplanner_plan_events"
CANCEL_CHANNEL = "studyplanner_plan_cancel"


# In the model's field order: Model.from_db takes the values in that order.
_DOCUMENT_FIELDS = ("id", "session_id", "original_name", "status", "position")


@functools.cache
def _documents_sql(alias: str, folded: int) -> str:
    """StudySession._documents_with_texts's SELECT for `folded` folded documents."""
    q = connections[alias].ops.quote_name
    table = q(Document._meta.db_table)
    column = {field.name: q(field.column) for field in Document._meta.concrete_fields}
    to_fold = f"{column['status']} = %s"
    if folded:
        to_fold += f" AND {column['id']} NOT IN ({', '.join(['%s'] * folded)})"
    selected = ", ".join(q(Document._meta.get_field(name).column) for name in _DOCUMENT_FIELDS)
    return (
        f"SELECT {selected}, "
        f"CASE WHEN {to_fold} THEN {column['content_text']} ELSE '' END, "
        f"CASE WHEN {to_fold} THEN {column['outline']} ELSE NULL END "
        f"FROM {table} WHERE {column['session']} = %s "
        f"ORDER BY {column['position']}, {column['created_at']}"
    )


_CLAIM_RETURNS = ("draft_plan", "folded_document_ids", "title", "language", "generation_journal")


@functools.cache
def _claim_sql(alias: str) -> str:
    """StudySession.claim_for_generation's one statement: UPLOADING (or GENERATING_PLAN with
    a stale or no heartbeat) → GENERATING_PLAN, if a document is completed; it returns the
    row's progress and whether a run of the session is still "running". Written out (not
    compiled by the ORM at every claim, which cost more CPU than the round trip)."""
    q = connections[alias].ops.quote_name
    session, document, run = (
        q(model._meta.db_table) for model in (StudySession, Document, GenerationRun)
    )
    column = {
        name: q(StudySession._meta.get_field(name).column)
        for name in (
            "id",
            "status",
            "generation_token",
            "generation_heartbeat_at",
            "cancel_requested_at",
            "updated_at",
            *_CLAIM_RETURNS,
        )
    }
    heartbeat = f"{session}.{column['generation_heartbeat_at']}"
    return (
        f"UPDATE {session} SET {column['status']} = %s, {column['generation_token']} = %s, "
        f"{column['generation_heartbeat_at']} = %s, {column['cancel_requested_at']} = NULL, "
        f"{column['updated_at']} = %s "
        f"WHERE {session}.{column['id']} = %s AND ({session}.{column['status']} = %s OR "
        f"({session}.{column['status']} = %s AND ({heartbeat} < %s OR {heartbeat} IS NULL))) "
        f"AND EXISTS (SELECT 1 FROM {document} WHERE {document}.{q('session_id')} = "
        f"{session}.{column['id']} AND {document}.{q('status')} = %s) "
        f"RETURNING {', '.join(column[name] for name in _CLAIM_RETURNS)}, "
        f"EXISTS (SELECT 1 FROM {run} WHERE {run}.{q('session_id')} = {session}.{column['id']}"
        f" AND {run}.{q('outcome')} = %s)"
    )


def _notifying(notice: tuple[str, str] | None) -> dict:
    """update_row's arguments that make its statement also NOTIFY `notice` (channel,
    payload) on PostgreSQL: pg_notify in the RETURNING list runs once for the one row."""
    from django.db import connection

    if notice is None or connection.vendor != "postgresql":
        return {}
    return {"extra": "pg_notify(%s, %s)", "extra_params": tuple(notice)}


def notify(channel: str, payload: str) -> None:
    """PostgreSQL NOTIFY on the default connection (a no-op on other databases): how a run's
    events and cancel requests reach the other workers. `payload` stays a short pointer."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [channel, payload])


def sweep_abandoned() -> tuple[int, int]:
    """Release sessions whose worker died (stale heartbeat) and close runs nobody owns any
    more; any process may call it (plans.live does, periodically). Returns the counts."""
    stale = dict(StudySession.objects.stale().values_list("pk", "generation_journal"))
    released = 0
    if stale:
        released = (
            StudySession.objects.stale()
            .filter(pk__in=stale)
            .update(**_NO_GENERATION, updated_at=timezone.now())
        )
        for journal in stale.values():  # what the dead workers' runs had done
            if journal.get("run"):
                runs = GenerationRun.objects.filter(pk=journal["run"]).running()
                runs.update(**GenerationRun.from_journal(journal))
    orphans = GenerationRun.objects.running().exclude(
        session__status=StudySession.Status.GENERATING_PLAN
    )
    closed = orphans.end(
        GenerationRun.Outcome.FAILED,
        "The worker generating this plan stopped responding; the run was closed.",
    )
    return released, closed


# The columns of a session no generation holds: what every way of ending one writes.
_NO_GENERATION = {
    "status": StudySession.Status.UPLOADING,
    "generation_token": None,
    "generation_heartbeat_at": None,
    "cancel_requested_at": None,
}


class GenerationRunQuerySet(models.QuerySet):
    def running(self):
        return self.filter(outcome=GenerationRun.Outcome.RUNNING)

    def end(self, outcome: str, error: str = "", journal: dict | None = None) -> int:
        """Close the runs of this queryset that are still running; returns how many.

        `journal`: the session's generation_journal, when a run is closed for a worker that
        died — the run it names gets its documents, events and usage from it."""
        running = self.running()
        if journal and journal.get("run"):
            running.filter(pk=journal["run"]).update(**GenerationRun.from_journal(journal))
        return running.update(outcome=outcome, error=error, finished_at=timezone.now())

    def since(self, moment):
        return self.filter(started_at__gte=moment)

    def outcomes(self) -> dict[str, int]:
        """How many runs of this queryset ended (or are) in each outcome, counted in SQL."""
        rows = self.order_by().values_list("outcome").annotate(n=models.Count("id"))
        return dict(rows)


class GenerationRun(models.Model):
    """One attempt at generating a session's plan: the history staff read in the admin.

    It lives beside the status machine that opens and closes it (the table keeps its
    original name from when it belonged to `plans`).
    """

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(
        StudySession, on_delete=models.CASCADE, related_name="generation_runs"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the first event carrying the model's work (a plan event) was produced (§17).
    first_event_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.RUNNING)
    documents_total = models.PositiveIntegerField(default=0)
    documents_processed = models.PositiveIntegerField(default=0)
    resumed_from = models.PositiveIntegerField(default=0)
    builder = models.CharField(max_length=20)
    model = models.CharField(max_length=200, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    error = models.TextField(blank=True)
    # What a watcher on any worker needs to resume the run's event stream (SPEC §7): the
    # `document_processed` events without their plans ({"seq", "doc", "total", "percent",
    # "message", "document"}) and, once it ended, its final event ({"seq", "name", "data"}).
    events = models.JSONField(default=dict, blank=True)

    objects = GenerationRunQuerySet.as_manager()

    class Meta:
        db_table = "plans_generationrun"
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["session", "outcome"], name="run_session_outcome"),
            # The health dashboard's windows (last 24 hours, 7 days).
            models.Index(fields=["started_at"], name="run_started_at"),
        ]

    def __str__(self):
        return f"{self.session} · {self.get_outcome_display()} · {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration(self):
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    # While it runs, a run's progress lives in its session's generation_journal (written
    # with each document's plan); the run row gets it when the run ends.

    def journal(self) -> dict:
        """What the running run keeps on its session after each document."""
        return {
            "run": str(self.pk),
            "processed": self.events.get("processed", []),
            "usage": {
                "model": self.model,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "cost": None if self.cost is None else str(self.cost),
            },
        }

    @staticmethod
    def from_journal(journal: dict) -> dict:
        """The run's fields as its session's journal had them (for a run whose worker died)."""
        processed = journal.get("processed", [])
        usage = journal.get("usage", {})
        fields = {"documents_processed": len(processed), "events": {"processed": processed}}
        for name in ("prompt_tokens", "completion_tokens", "cost"):
            fields[name] = usage.get(name)
        if usage.get("model"):
            fields["model"] = usage["model"]
        return fields

    def progress_in(self, session: StudySession) -> "GenerationRun":
        """This run as its session's journal says it stands (the row itself is written only
        when the run ends): for watchers on other workers."""
        journal = session.generation_journal or {}
        if self.outcome == self.Outcome.RUNNING and journal.get("run") == str(self.pk):
            for name, value in self.from_journal(journal).items():
                setattr(self, name, value)
        return self


def document_upload_to(document: "Document", filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"documents/{document.session_id}/{document.id}{suffix}"


class Document(models.Model):
    """One uploaded file and the text extracted from it.

    `content_text` conventions, shared by extraction and the plan builders:
    pages of a PDF are separated by PAGE_BREAK (a form feed); DOCX headings become Markdown
    ATX markers (`# Title`, `## Subtitle`, by heading level); tables become one line per
    row with cells joined by " | "; newlines are `\n` and NUL bytes are gone.
    """

    PAGE_BREAK = "\f"

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        PROCESSING = "PROCESSING", "Processing"
        COMPLETED = "COMPLETED", "Ready"
        FAILED = "FAILED", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(StudySession, on_delete=models.CASCADE, related_name="documents")
    original_name = models.CharField(max_length=255)
    file = models.FileField(upload_to=document_upload_to, max_length=300, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    content_text = models.TextField(blank=True)
    # Headings found by extraction (PDF bookmarks, DOCX heading styles):
    # [{"level": 1, "title": "Limits", "page": 3}, ...]; page is null where unknown, and
    # level 0 marks the document's own title (Word's "Title" style).
    outline = models.JSONField(default=list, blank=True)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0, help_text="Upload order within the session")
    # Issue 12: extraction runs on the task queue. When the current attempt started (a
    # PROCESSING document whose attempt is older than the timeout lost its worker) and how
    # many attempts it has had.
    extraction_started_at = models.DateTimeField(null=True, blank=True)
    extraction_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "created_at"]
        indexes = [
            models.Index(fields=["session", "status", "position"], name="document_session_status"),
        ]

    def __str__(self):
        return self.original_name

    def to_dict(self) -> dict:
        return {
            "id": str(self.id),
            "name": self.original_name,
            "status": self.status,
            "error": self.error,
            "size": self.size,
            "content_type": self.content_type,
            "page_count": self.page_count,
        }

    def mark_processing(self) -> None:
        self.status = self.Status.PROCESSING
        self.error = ""
        self.extraction_started_at = timezone.now()
        self.save(update_fields=["status", "error", "extraction_started_at", "updated_at"])

    def mark_completed(self, text: str, outline: list, page_count: int | None = None) -> None:
        self.status = self.Status.COMPLETED
        self.content_text = text
        self.outline = outline
        self.page_count = page_count
        self.error = ""
        self.save(
            update_fields=["status", "content_text", "outline", "page_count", "error", "updated_at"]
        )
        self.rebuild_passages()

    def rebuild_passages(self) -> int:
        """Cut the text into passages again (the index follows by itself); how many."""
        from sessions_app.passages import replace_passages

        return replace_passages(self)

    def queue_extraction(self) -> None:
        """Hand the stored file to the task queue; the document stays PENDING until a
        worker claims it (issue 12)."""
        from sessions_app.tasks import extract_document_task
        from sessions_app.worker import ensure_in_process_worker

        extract_document_task.enqueue(str(self.pk))
        ensure_in_process_worker()

    def claim_extraction(self) -> bool:
        """PENDING (or PROCESSING whose worker died) → PROCESSING, atomically; False when
        another worker has it or it is done. Counts the attempt."""
        now = timezone.now()
        claimed = (
            Document.objects.filter(pk=self.pk)
            .filter(Q(status=self.Status.PENDING) | _stale_extraction(now))
            .update(
                status=self.Status.PROCESSING,
                error="",
                extraction_started_at=now,
                extraction_attempts=models.F("extraction_attempts") + 1,
                updated_at=now,
            )
        )
        if claimed:
            self.refresh_from_db(fields=["status", "extraction_attempts", "extraction_started_at"])
        return bool(claimed)

    def run_extraction(self, claimed: bool = False) -> None:
        """Read the stored file into text and outline: PROCESSING → COMPLETED or FAILED.

        The reading runs in a child process bounded in time and memory
        (sessions_app.extraction.isolated). A file we can't read fails with the reason the
        extractor gives; a crash of the extractor is a bug on our side: a generic reason
        here, the details in the log.
        """
        from sessions_app.extraction import ExtractionFailed
        from sessions_app.extraction.isolated import extract_isolated

        if not claimed:
            self.mark_processing()
        try:
            extracted = extract_isolated(self.file.path, self.original_name)
        except ExtractionFailed as failed:
            self.mark_failed(failed.reason)
            return
        except Exception:
            logger.exception("Extracting document %s (%s) crashed", self.pk, self.original_name)
            self.mark_failed(
                "We couldn't read this file because of a problem on our side. "
                "Try uploading it again; if it keeps failing, save it as PDF and retry."
            )
            return
        self.content_type = extracted.content_type
        self.save(update_fields=["content_type"])
        self.mark_completed(extracted.text, extracted.outline, extracted.page_count)

    def mark_failed(self, reason: str) -> None:
        """FAILED with the reason; the stored file is removed (issue 12: a session's failed
        files must not pile up on disk)."""
        if self.file:
            self.file.delete(save=False)
        self.status = self.Status.FAILED
        self.error = reason
        self.content_text = ""
        self.outline = []
        self.page_count = None
        self.save(
            update_fields=[
                "status",
                "error",
                "content_text",
                "outline",
                "page_count",
                "file",
                "updated_at",
            ]
        )
        self.passages.all().delete()


class PassageQuerySet(models.QuerySet):
    def for_session(self, session_id):
        return self.filter(session_id=session_id)


class Passage(models.Model):
    """A piece of a completed document that a question can cite (SPEC §15; see passages.py).

    `text == document.content_text[start:end]`; `page` is the PDF page (1-based) or null;
    `heading` is the heading path joined by
    passages.HEADING_SEPARATOR. `terms` is what the full-text index
    holds: the stemmed words. The index itself is the database's own (migration 0003):
    an FTS5 table kept in step by triggers on SQLite, a generated tsvector column with a GIN
    index on PostgreSQL. Passages are rebuilt whenever their document's text changes and go
    with it when it is deleted.
    """

    id = models.BigAutoField(primary_key=True)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="passages")
    # The document's session, copied so that a search is one indexed filter.
    session = models.ForeignKey(StudySession, on_delete=models.CASCADE, related_name="passages")
    position = models.PositiveIntegerField()
    page = models.PositiveIntegerField(null=True, blank=True)
    heading = models.TextField(blank=True)
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    text = models.TextField()
    terms = models.TextField(blank=True)

    objects = PassageQuerySet.as_manager()

    class Meta:
        ordering = ["document", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "position"], name="passage_document_position"
            )
        ]
        indexes = [models.Index(fields=["session"], name="passage_session")]

    def __str__(self):
        return f"{self.document} · passage {self.position + 1}"

    @property
    def place(self) -> str:
        """Where it is, for a learner: "page 3" or "passage 12"."""
        return f"page {self.page}" if self.page else f"passage {self.position + 1}"


def _stale_extraction(now) -> Q:
    """A PROCESSING document whose attempt has outlived any live worker's time limit."""
    cutoff = now - timedelta(seconds=settings.EXTRACTION_TIMEOUT + settings.EXTRACTION_STALE_GRACE)
    return Q(status=Document.Status.PROCESSING) & (
        Q(extraction_started_at__lt=cutoff) | Q(extraction_started_at__isnull=True)
    )


def requeue_stale_extractions(session: StudySession | None = None) -> int:
    """Queue again the documents whose worker died mid-extraction; how many were queued.

    Called when a worker starts, after every extraction task and when a page polls for
    document status, so a killed worker's documents don't stay PROCESSING.
    """
    stale = Document.objects.filter(_stale_extraction(timezone.now()))
    if session is not None:
        stale = stale.filter(session=session)
    queued = 0
    for document in stale.only("id", "status", "extraction_started_at"):
        # Only the caller that moves it back to PENDING queues it.
        moved = (
            Document.objects.filter(pk=document.pk)
            .filter(_stale_extraction(timezone.now()))
            .update(status=Document.Status.PENDING, updated_at=timezone.now())
        )
        if moved:
            logger.warning("Extraction of document %s lost its worker; queued again", document.pk)
            document.queue_extraction()
            queued += 1
    return queued


class SignUpAttempt(models.Model):
    """One POST to the sign-up form, by IP address: the sign-up throttle counts these
    (issue 12). Rows older than the window are deleted as new ones arrive."""

    ip_address = models.GenericIPAddressField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["ip_address", "created_at"], name="signup_ip_created")]

    def __str__(self):
        return f"Sign-up attempt from {self.ip_address} at {self.created_at:%Y-%m-%d %H:%M}"

    @classmethod
    def allow(cls, ip_address: str | None) -> bool:
        """Record this attempt unless the address is over SIGNUP_MAX_PER_IP in the window."""
        since = timezone.now() - timedelta(minutes=settings.SIGNUP_WINDOW_MINUTES)
        cls.objects.filter(created_at__lt=since).delete()
        if cls.objects.filter(ip_address=ip_address).count() >= settings.SIGNUP_MAX_PER_IP:
            return False
        cls.objects.create(ip_address=ip_address)
        return True
