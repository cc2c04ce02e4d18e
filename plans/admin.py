from django.contrib import admin

from plans.models import GenerationRun


@admin.register(GenerationRun)
class GenerationRunAdmin(admin.ModelAdmin):
    """Read-only history: runs are written by the generator, never by hand."""

    list_display = [
        "session",
        "outcome",
        "started_at",
        "duration",
        "documents_processed",
        "builder",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "short_error",
    ]
    list_filter = ["outcome", "builder"]
    search_fields = ["session__title", "session__owner__username", "error"]
    list_select_related = ["session"]

    @admin.display(description="error")
    def short_error(self, obj):
        return obj.error[:120]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
