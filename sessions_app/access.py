"""Who may see a session (SPEC §6): its owner; anyone else gets 404, never 403."""

from django.http import Http404

from sessions_app.models import StudySession
from studyplanner.db import get_row, run_db
from studyplanner.middleware import user_of


def get_session_for(request, pk) -> StudySession:
    """The request user's session `pk`; 404 for anyone else's (never reveal it exists)."""
    session = _owned_session(request, pk)
    if session is None:
        raise Http404("No such study session.")
    return session


def _owned_session(request, pk) -> StudySession | None:
    user = user_of(request)
    if not user.is_authenticated:
        return None
    # Every request of a session's pages reads it: one SELECT built once (studyplanner.db).
    return get_row(StudySession, {"id": pk, "owner": user.pk})


async def aget_session_for(request, pk) -> StudySession:
    """The same for an async view: the user (if not read yet) and the session in one
    database block (studyplanner.db.run_db: one thread hop, the connection handed back)."""
    session = await run_db(_owned_session, request, pk)
    if session is None:
        raise Http404("No such study session.")
    return session
