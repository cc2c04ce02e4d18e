from django.contrib import admin

from questions.models import Question


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    """Read-only history of questions: written by the answer service, never by hand."""

    list_display = [
        "short_text",
        "session",
        "outcome",
        "builder",
        "model",
        "created_at",
        "duration_ms",
        "first_token_ms",
        "prompt_tokens",
        "completion_tokens",
    ]
    list_filter = ["outcome", "builder", "created_at"]
    search_fields = ["text", "session__title", "session__owner__username", "error"]
    list_select_related = ["session"]

    @admin.display(description="question")
    def short_text(self, obj):
        return obj.text[:80]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
