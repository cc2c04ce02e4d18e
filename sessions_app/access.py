"""Who may see a session (SPEC §6): its owner; anyone else gets 404, never 403."""

from django.http import Http404

from sessions_app.models import StudySession


def get_session_for(request, pk) -> StudySession:
    """The request user's session `pk`; 404 for anyone else's (never reveal it exists)."""
    try:
        return StudySession.objects.owned_by(request.user).get(pk=pk)
    except StudySession.DoesNotExist:
        raise Http404("No such study session.") from None


async def aget_session_for(request, pk) -> StudySession:
    user = await request.auser()
    try:
        return await StudySession.objects.owned_by(user).aget(pk=pk)
    except StudySession.DoesNotExist:
        raise Http404("No such study session.") from None
