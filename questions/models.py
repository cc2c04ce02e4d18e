"""The history of questions asked about a session's documents (SPEC §15).

Field names are shared with the monitoring helper (it aggregates outcome, tokens, cost,
duration and time to the first event), so keep them as they are.
"""

import uuid

from django.db import models
from django.utils import timezone

from sessions_app.models import GenerationRun, StudySession


class QuestionQuerySet(models.QuerySet):
    def newest_first(self):
        return self.order_by("-created_at")


class Question(models.Model):
    class Outcome(models.TextChoices):
        RUNNING = GenerationRun.Outcome.RUNNING.value, "Running"
        SUCCEEDED = GenerationRun.Outcome.SUCCEEDED.value, "Succeeded"
        FAILED = GenerationRun.Outcome.FAILED.value, "Failed"
        CANCELLED = GenerationRun.Outcome.CANCELLED.value, "Cancelled"

    class Builder(models.TextChoices):
        OFFLINE = "offline", "Offline (extractive)"
        OPENROUTER = "openrouter", "AI model"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(StudySession, on_delete=models.CASCADE, related_name="questions")
    text = models.TextField()
    answer = models.TextField(blank=True)
    # [{"n": 1, "passage": 123}, ...]: the cited numbers and the passages they stood for.
    citations = models.JSONField(default=list, blank=True)
    # The `sources` event as it was sent: what the numbers meant when the answer was written.
    sources = models.JSONField(default=list, blank=True)
    builder = models.CharField(max_length=20, choices=Builder.choices)
    model = models.CharField(max_length=200, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.RUNNING)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # From the request to the first `sources` event (which always precedes any token).
    first_token_ms = models.PositiveIntegerField(null=True, blank=True)

    objects = QuestionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["session", "-created_at"], name="question_session_created"),
            models.Index(fields=["outcome", "created_at"], name="question_outcome_created"),
        ]

    def __str__(self):
        return self.text[:80]

    def cited_sources(self) -> list[dict]:
        """The sources the answer cites, in the order of their numbers."""
        cited = {c["n"] for c in self.citations}
        return [s for s in self.sources if s.get("n") in cited]

    def to_dict(self) -> dict:
        return {
            "id": str(self.id),
            "question": self.text,
            "answer": self.answer,
            "citations": self.citations,
            "sources": self.sources,
            "builder": self.builder,
            "model": self.model,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "outcome": self.outcome,
            "error": self.error,
            "created_at": self.created_at.isoformat(),
            "duration_ms": self.duration_ms,
        }
