"""Recording and restoring plan versions (SPEC §3: no action loses a plan the learner saved)."""

import functools

from django.db import connections, transaction
from django.utils import timezone

from plans.models import VERSIONS_KEPT, PlanVersion
from sessions_app.models import StudySession
from studyplanner.db import insert_row


def record_version(
    session: StudySession,
    plan: list,
    source: str,
    *,
    label: str = "",
    folded_document_ids: list[str] | None = None,
    dropped: list[str] | tuple[str, ...] = (),
    document_id=None,
    prune: bool = True,
) -> PlanVersion | None:
    """Keep `plan` as the session's newest version, and prune the oldest beyond
    VERSIONS_KEPT. An edit that changed nothing (same plan as the newest version) adds none."""
    if folded_document_ids is None:
        folded_document_ids = session.folded_document_ids
    version = new_version(
        session,
        plan,
        source,
        label=label,
        folded_document_ids=folded_document_ids,
        dropped=dropped,
        document_id=document_id,
    )
    if source != PlanVersion.Source.EDIT and not prune:
        return insert_row(version)  # one statement: no transaction needed
    with transaction.atomic():
        if source == PlanVersion.Source.EDIT:
            newest = session.plan_versions.only("plan").first()
            if newest is not None and newest.plan == plan:
                return None
        insert_row(version)
        if prune:
            prune_versions(session)
    return version


def new_version(
    session: StudySession,
    plan: list,
    source: str,
    *,
    label: str = "",
    folded_document_ids: list[str],
    dropped: list[str] | tuple[str, ...] = (),
    document_id=None,
) -> PlanVersion:
    """A version of `plan`, not saved yet (record_version saves one; a generation saves its
    own with the session's progress, StudySession.save_progress)."""
    return PlanVersion(
        session=session,
        plan=plan,
        source=source,
        label=label[:300],
        folded_document_ids=list(folded_document_ids),
        dropped=list(dropped),
        document_id=document_id,
    )


def prune_versions(session: StudySession) -> None:
    """Forget the session's versions beyond the VERSIONS_KEPT newest (one DELETE, written
    out once: it runs after every generation). A generation records one version per
    document with `prune=False` and prunes once at its end."""
    connection = connections["default"]
    session_id = PlanVersion._meta.pk.get_db_prep_value(session.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(_prune_sql(connection.alias), [session_id, session_id, VERSIONS_KEPT])


@functools.cache
def _prune_sql(alias: str) -> str:
    q = connections[alias].ops.quote_name
    table, session, created, pk = (
        q(name) for name in (PlanVersion._meta.db_table, "session_id", "created_at", "id")
    )
    newest = (
        f"SELECT {pk} FROM {table} WHERE {session} = %s ORDER BY {created} DESC, {pk} DESC LIMIT %s"
    )
    return f"DELETE FROM {table} WHERE {session} = %s AND {pk} NOT IN ({newest})"


def restore_version(session: StudySession, version: PlanVersion) -> PlanVersion:
    """Make `version` the session's plan again; the restore is itself a new version."""
    present = {str(pk) for pk in session.documents.values_list("id", flat=True)}
    folded = [pk for pk in version.folded_document_ids if pk in present]
    session.restore_plan(version.plan, folded)
    when = timezone.localtime(version.created_at).strftime("%d %b %Y, %H:%M:%S")
    return record_version(
        session,
        version.plan,
        PlanVersion.Source.RESTORE,
        label=f"the version of {when}",
        folded_document_ids=folded,
    )


def rebuild_from_remaining_documents(session: StudySession) -> PlanVersion | None:
    """Keep the current plan as a version, then empty the plan so the next run folds every
    remaining document in from scratch. Refused (GenerationRefused, nothing kept) while a
    plan is generated; an already empty plan (a second click) adds no version, so the
    page's Undo still restores the plan that had topics."""
    with transaction.atomic():
        current = StudySession.objects.select_for_update().get(pk=session.pk)
        plan, folded = current.plan, list(current.folded_document_ids)
        session.start_over()
        if not plan:
            return None
        return record_version(session, plan, PlanVersion.Source.REBUILD, folded_document_ids=folded)
