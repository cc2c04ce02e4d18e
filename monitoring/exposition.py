"""What GET /metrics shows: the counters every worker process keeps (studyplanner/metrics.py),
added up across workers, and the sessions generating now, read from the database."""

from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from sessions_app.models import StudySession


class _ThisProcess:
    """The default registry's metrics (one worker, no multiprocess directory)."""

    def collect(self):
        return REGISTRY.collect()


class _Sessions:
    """Sessions generating right now and those whose worker stopped (stale), from the
    database: the same number whichever worker answers."""

    def collect(self):
        generating = StudySession.objects.filter(status=StudySession.Status.GENERATING_PLAN)
        total = generating.count()
        stale = generating.stale().count()
        family = GaugeMetricFamily(
            "studyplanner_sessions_generating",
            "Sessions in GENERATING_PLAN, live (heartbeat fresh) or stale (worker stopped).",
            labels=["state"],
        )
        family.add_metric(["live"], total - stale)
        family.add_metric(["stale"], stale)
        yield family


def metrics_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if settings.PROMETHEUS_MULTIPROC_DIR:
        MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    else:
        registry.register(_ThisProcess())
    registry.register(_Sessions())
    return registry
