"""Plan history (SPEC §3): every plan a session saves is kept as a version.

A generation's run history lives with the status machine that opens and closes it
(sessions_app.models.GenerationRun); the plan's own history lives here.
"""

import uuid

from django.db import models

from sessions_app.models import StudySession

# At least this many versions per session are kept (SPEC §3); older ones are pruned.
VERSIONS_KEPT = 50


class PlanVersion(models.Model):
    class Source(models.TextChoices):
        DOCUMENT = "document", "Document folded in"
        EDIT = "edit", "Your edit"
        RESTORE = "restore", "Restored"
        REBUILD = "rebuild", "Before a rebuild"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(
        StudySession, on_delete=models.CASCADE, related_name="plan_versions"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    source = models.CharField(max_length=12, choices=Source.choices)
    # What the source was: the document's name, the restored version's time, an edit's kind.
    label = models.CharField(max_length=300, blank=True)
    plan = models.JSONField(default=list)
    # The documents this plan holds, so restoring it also restores what a run still has
    # to fold in.
    folded_document_ids = models.JSONField(default=list)
    # Titles a builder had to leave out to stay within the bounds (SPEC §5).
    dropped = models.JSONField(default=list, blank=True)
    document_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["session", "-created_at"], name="planversion_session")]

    def __str__(self):
        return f"{self.get_source_display()} · {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def topic_count(self) -> int:
        return len(self.plan)

    @property
    def subtopic_count(self) -> int:
        return sum(len(t.get("subtopics", [])) for t in self.plan)

    @property
    def description(self) -> str:
        if self.source == self.Source.DOCUMENT:
            return f"After reading {self.label}" if self.label else "After reading a document"
        if self.source == self.Source.RESTORE:
            return f"Restored {self.label}" if self.label else "Restored an earlier version"
        if self.source == self.Source.REBUILD:
            return "The plan before a rebuild"
        return self.label or "Your edit"
