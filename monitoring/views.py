"""The health dashboard for staff and GET /metrics for Prometheus (SPEC §17)."""

import hmac
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitoring.chart import hourly_chart
from monitoring.exposition import metrics_registry
from monitoring.stats import (
    OUTCOMES,
    generating_sessions,
    question_summary,
    run_summary,
    runs_per_hour,
)
from sessions_app.models import StudySession

WINDOWS = [(timedelta(hours=24), "Last 24 hours"), (timedelta(days=7), "Last 7 days")]


def _failed_link(changelist: str, time_field: str, since, error: str) -> str | None:
    """The admin's list filtered to the window's failures whose error reads so."""
    try:
        url = reverse(changelist)
    except NoReverseMatch:  # that model has no admin list
        return None
    words = error[:100].rsplit(" ", 1)[0] if len(error) > 100 else error
    query = {"outcome__exact": "failed", f"{time_field}__gte": since.isoformat(), "q": words}
    return url + "?" + urlencode(query)


@staff_member_required
@require_GET
def dashboard(request):
    now = timezone.now()
    runs = [run_summary(now - span, label) for span, label in WINDOWS]
    questions = [question_summary(now - span, label) for span, label in WINDOWS]
    questions = [q for q in questions if q is not None]
    lists = [("admin:sessions_app_generationrun_changelist", "started_at")] * len(runs)
    lists += [("admin:questions_question_changelist", "created_at")] * len(questions)
    for number, (summary, (changelist, time_field)) in enumerate(
        zip([*runs, *questions], lists, strict=True)
    ):
        summary.anchor = f"summary-{number}"
        summary.errors = [
            (error, count, _failed_link(changelist, time_field, summary.since, error))
            for error, count in summary.errors
        ]
    live, stale = generating_sessions()
    context = {
        **admin.site.each_context(request),
        "title": "Generation health",
        "now": now,
        "runs": runs,
        "questions": questions,
        "chart": hourly_chart(runs_per_hour(now)),
        "generating": live,
        "stale": stale,
        "stale_after": settings.PLAN_STALE_AFTER,
        "outcome_names": OUTCOMES,
    }
    return render(request, "monitoring/dashboard.html", context)


@staff_member_required
@require_POST
def reset_session(request, pk):
    """The admin's "Reset status to UPLOADING", one click from the dashboard."""
    session = get_object_or_404(StudySession, pk=pk)
    previous = session.status
    session.reset_to_uploading()
    admin.site.get_model_admin(StudySession).log_change(
        request, session, f"Reset status from {previous} to UPLOADING (health dashboard)."
    )
    messages.success(request, f"“{session}” was reset to UPLOADING.")
    return redirect("monitoring:dashboard")


@require_GET
def metrics(request):
    """Prometheus text format, for `Authorization: Bearer <METRICS_TOKEN>` only."""
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("Metrics are off: METRICS_TOKEN is not set.")
    given = request.headers.get("Authorization", "").encode()
    if not hmac.compare_digest(given, f"Bearer {token}".encode()):
        response = HttpResponse(
            "Send Authorization: Bearer <METRICS_TOKEN>.\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
