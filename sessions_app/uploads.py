"""Adding uploaded files to a session: store them, then queue their extraction (SPEC §10).

A limit hit or an unreadable file fails that document only, with a reason the learner
understands; the other files of the same upload go through. The limits hold under
concurrency: the session row is locked while an upload counts its documents and creates
theirs, so two parallel uploads can't both take the last places.
"""

import re
import unicodedata
from collections.abc import Iterable
from pathlib import PurePath

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count, Max, Q

from sessions_app.models import Document, StudySession
from studyplanner.text import strip_unstorable

_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]")


class UploadRefused(Exception):
    """The whole upload is refused (a 409): `message` says why and what to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def clean_file_name(name: str) -> str:
    """The name as the learner knows it, minus any path and control characters."""
    name = PurePath(strip_unstorable(name).replace("\\", "/")).name
    return unicodedata.normalize("NFC", _UNSAFE_NAME.sub("", name)).strip() or "unnamed file"


def _fit_name(name: str) -> str:
    """At most 255 characters (the column), keeping the extension."""
    if len(name) <= 255:
        return name
    stem, suffix = PurePath(name).stem, PurePath(name).suffix[:20]
    return stem[: 255 - len(suffix)] + suffix


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def add_documents(
    session: StudySession,
    uploads: list[UploadedFile],
    refused: Iterable = (),
) -> list[Document]:
    """Create one Document per upload, in order, and queue each stored file's extraction.

    `refused` holds files the request reader already turned down (`RefusedFile`: a name
    and a reason); they become failed documents after the uploads. Raises UploadRefused
    when the session already holds MAX_FAILED_FILES_PER_SESSION failed documents.
    """
    max_bytes = settings.MAX_UPLOAD_MB * 1024 * 1024
    documents: list[Document] = []
    to_store: list[tuple[Document, UploadedFile]] = []
    with transaction.atomic():
        # The lock every upload to this session queues on (SQLite: the write lock taken by
        # the IMMEDIATE transaction), so the counts below stay true until we commit.
        StudySession.objects.select_for_update().filter(pk=session.pk).first()
        counts = session.documents.aggregate(
            kept=Count("id", filter=~Q(status=Document.Status.FAILED)),
            failed=Count("id", filter=Q(status=Document.Status.FAILED)),
            last=Max("position"),
        )
        if counts["failed"] >= settings.MAX_FAILED_FILES_PER_SESSION:
            raise UploadRefused(
                f"This session has {counts['failed']} files that couldn't be used, the most "
                "it keeps. Delete some of them before uploading more."
            )
        room = settings.MAX_FILES_PER_SESSION - counts["kept"]
        position = (counts["last"] or 0) + 1
        for upload in uploads:
            document = Document(
                session=session,
                original_name=_fit_name(clean_file_name(upload.name or "")),
                size=upload.size or 0,
                content_type=(upload.content_type or "")[:100],
                position=position,
            )
            position += 1
            if room <= 0:
                document.status = Document.Status.FAILED
                document.error = (
                    f"This session already has {settings.MAX_FILES_PER_SESSION} documents, "
                    "the most it can hold. Delete some, or start a new session."
                )
            elif document.size > max_bytes:
                document.status = Document.Status.FAILED
                document.error = (
                    f"This file is {_megabytes(document.size)}; the limit is "
                    f"{settings.MAX_UPLOAD_MB} MB. Split it or compress it, then upload it again."
                )
            else:
                room -= 1
                to_store.append((document, upload))
            documents.append(document)
        for item in refused:
            documents.append(
                Document(
                    session=session,
                    original_name=_fit_name(item.name),
                    position=position,
                    status=Document.Status.FAILED,
                    error=item.reason,
                )
            )
            position += 1
        Document.objects.bulk_create(documents)
    # The places are taken; storing the files needs no lock.
    for document, upload in to_store:
        try:
            document.file.save(document.original_name, upload, save=False)
        except OSError:
            document.mark_failed(
                "We couldn't store this file because of a problem on our side. "
                "Try uploading it again."
            )
            continue
        Document.objects.filter(pk=document.pk).update(file=document.file.name)
    for document, _ in to_store:
        if document.status == Document.Status.PENDING:
            document.queue_extraction()
    # As they are now: PENDING on the queue, or already read when the queue runs tasks at
    # once (tests).
    current = Document.objects.defer("content_text").in_bulk([d.pk for d in documents])
    return [current[d.pk] for d in documents]
