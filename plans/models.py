import uuid

from django.db import models


class GenerationRun(models.Model):
    """One attempt at generating a session's plan: the history staff read in the admin."""

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(
        "sessions_app.StudySession", on_delete=models.CASCADE, related_name="generation_runs"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
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

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["session", "outcome"], name="run_session_outcome")]

    def __str__(self):
        return f"{self.session} · {self.get_outcome_display()} · {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration(self):
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at
