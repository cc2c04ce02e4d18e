"""Adding uploaded files to a session: store them, then extract their text (SPEC §10).

A limit hit or an unreadable file fails that document only, with a reason the learner
understands; the other files of the same upload go through.
"""

import re
import unicodedata
from pathlib import PurePath

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Max

from sessions_app.models import Document, StudySession
from studyplanner.text import strip_unstorable

_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]")


def clean_file_name(name: str) -> str:
    """The name as the learner knows it, minus any path and control characters."""
    name = PurePath(name.replace("\\", "/")).name
    name = unicodedata.normalize("NFC", _UNSAFE_NAME.sub("", strip_unstorable(name))).strip()
    if len(name) > 255:
        stem, suffix = PurePath(name).stem, PurePath(name).suffix[:20]
        name = stem[: 255 - len(suffix)] + suffix
    return name or "unnamed file"


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def add_documents(session: StudySession, uploads: list[UploadedFile]) -> list[Document]:
    """Create one Document per upload, in order, and extract each stored file's text."""
    max_bytes = settings.MAX_UPLOAD_MB * 1024 * 1024
    room = (
        settings.MAX_FILES_PER_SESSION
        - session.documents.exclude(status=Document.Status.FAILED).count()
    )
    position = (session.documents.aggregate(Max("position"))["position__max"] or 0) + 1
    documents = []
    for upload in uploads:
        document = Document(
            session=session,
            original_name=clean_file_name(upload.name or ""),
            size=upload.size or 0,
            content_type=(upload.content_type or "")[:100],
            position=position,
        )
        position += 1
        if room <= 0:
            document.status = Document.Status.FAILED
            document.error = (
                f"This session already has {settings.MAX_FILES_PER_SESSION} documents, the most "
                "it can hold. Delete some, or start a new session."
            )
        elif document.size > max_bytes:
            document.status = Document.Status.FAILED
            document.error = (
                f"This file is {_megabytes(document.size)}; the limit is "
                f"{settings.MAX_UPLOAD_MB} MB. Split it or compress it, then upload it again."
            )
        else:
            room -= 1
            document.file.save(document.original_name, upload, save=False)
        document.save()
        documents.append(document)
    for document in documents:
        if document.file:
            document.run_extraction()
    return documents
