"""Daily AI quotas (SPEC §16): what each user spent per UTC day, and staff's own limits for
a user. The service that checks and counts is quotas/service.py."""

from django.conf import settings
from django.db import models


class Kind(models.TextChoices):
    PLAN = "plan", "AI plan generations"
    QUESTION = "question", "AI answers"


class QuotaUsage(models.Model):
    """How many units of one kind a user used on one UTC day (one row per user, day, kind)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quota_usage"
    )
    day = models.DateField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    used = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "day", "kind"], name="quota_usage_unique")
        ]
        ordering = ["-day", "user_id", "kind"]
        verbose_name_plural = "quota usage"

    def __str__(self):
        return f"{self.user} · {self.day} · {self.kind}: {self.used}"


class QuotaOverride(models.Model):
    """A user's own daily limits; an empty field keeps the site's setting, 0 is unlimited."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quota_override"
    )
    plan_runs_per_day = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="AI plan generations per UTC day. Empty: the site's "
        "QUOTA_AI_PLAN_RUNS_PER_DAY. 0: unlimited.",
    )
    questions_per_day = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="AI answers per UTC day. Empty: the site's QUOTA_AI_QUESTIONS_PER_DAY. "
        "0: unlimited.",
    )

    class Meta:
        verbose_name = "AI quota of a user"
        verbose_name_plural = "AI quotas of users"

    def __str__(self):
        return f"AI quota of {self.user}"

    def limit_for(self, kind: str) -> int | None:
        return self.plan_runs_per_day if kind == Kind.PLAN else self.questions_per_day
