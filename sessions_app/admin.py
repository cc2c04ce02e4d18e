import json

from django.contrib import admin, messages
from django.db.models import Count
from django.utils.html import format_html, format_html_join

from sessions_app.models import Document, GenerationRun, StudySession


def render_plan_outline(plan) -> str:
    """The plan as a readable, escaped outline (titles come from models and documents)."""
    if not plan:
        return "—"
    items = format_html_join(
        "",
        "<li><strong>{}</strong>{}</li>",
        (
            (
                topic.get("title", ""),
                format_html(
                    "<ul>{}</ul>",
                    format_html_join("", "<li>{}</li>", ((s,) for s in topic.get("subtopics", []))),
                )
                if topic.get("subtopics")
                else "",
            )
            for topic in plan
            if isinstance(topic, dict)
        ),
    )
    return format_html('<ol class="plan-outline">{}</ol>', items)


class StaleFilter(admin.SimpleListFilter):
    title = "stale generation"
    parameter_name = "stale"

    def lookups(self, request, model_admin):
        return [("yes", "Stale (worker stopped)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.stale()
        return queryset


class DocumentInline(admin.TabularInline):
    model = Document
    fields = ["original_name", "status", "size", "error", "position"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(StudySession)
class StudySessionAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "status", "document_count", "stale", "updated_at"]
    list_filter = ["status", StaleFilter]
    search_fields = ["title", "owner__username", "owner__email"]
    list_select_related = ["owner"]
    readonly_fields = [
        "id",
        "status",
        "plan_outline",
        "plan_json",
        "folded_document_ids",
        "generation_heartbeat_at",
        "cancel_requested_at",
        "created_at",
        "updated_at",
    ]
    # The plan is folded away (a 60-topic plan and its JSON made an 11,000 px page).
    fieldsets = [
        (None, {"fields": ["id", "owner", "title", "language", "status"]}),
        ("Plan", {"fields": ["plan_outline"], "classes": ["collapse"]}),
        ("Plan as JSON", {"fields": ["plan_json"], "classes": ["collapse"]}),
        (
            "Generation state",
            {
                "fields": [
                    "folded_document_ids",
                    "generation_heartbeat_at",
                    "cancel_requested_at",
                    "created_at",
                    "updated_at",
                ],
                "classes": ["collapse"],
            },
        ),
    ]
    autocomplete_fields = ["owner"]
    inlines = [DocumentInline]

    def save_model(self, request, obj, form, change):
        if change:
            # Only what the form edits: a full save could overwrite the plan, status or
            # claim that a running generation wrote meanwhile.
            obj.save(update_fields=[*form.changed_data, "updated_at"])
        else:
            super().save_model(request, obj, form, change)

    actions = ["reset_status", "clear_draft_plan"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(document_count=Count("documents"))

    @admin.display(ordering="document_count", description="documents")
    def document_count(self, obj):
        return obj.document_count

    @admin.display(boolean=True, description="stale")
    def stale(self, obj):
        return obj.is_stale

    @admin.display(description="plan")
    def plan_outline(self, obj):
        return render_plan_outline(obj.draft_plan)

    @admin.display(description="plan (JSON)")
    def plan_json(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.plan, indent=2, ensure_ascii=False))

    @admin.action(description="Reset status to UPLOADING")
    def reset_status(self, request, queryset):
        for session in queryset:
            previous = session.status
            session.reset_to_uploading()
            self.log_change(request, session, f"Reset status from {previous} to UPLOADING.")
        self.message_user(
            request, f"Reset {len(queryset)} session(s) to UPLOADING.", messages.SUCCESS
        )

    @admin.action(description="Clear draft plan")
    def clear_draft_plan(self, request, queryset):
        cleared = 0
        for session in queryset:
            if session.status == StudySession.Status.GENERATING_PLAN and not session.is_stale:
                self.message_user(
                    request,
                    f"“{session}” is generating right now; reset it first.",
                    messages.WARNING,
                )
                continue
            session.clear_draft_plan()
            self.log_change(request, session, "Cleared the draft plan and folding progress.")
            cleared += 1
        if cleared:
            self.message_user(
                request, f"Cleared the plan of {cleared} session(s).", messages.SUCCESS
            )


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["original_name", "session", "status", "size", "error", "created_at"]
    list_filter = ["status", "content_type"]
    search_fields = ["original_name", "session__title", "session__owner__username"]
    list_select_related = ["session"]
    actions = ["rerun_extraction"]
    readonly_fields = [
        "id",
        "session",
        "original_name",
        "stored_file",
        "content_type",
        "size",
        "status",
        "error",
        "position",
        "page_count",
        "outline",
        "content_text",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request):
        return False

    @admin.display(description="file")
    def stored_file(self, obj):
        # Uploaded files are private (no public MEDIA_URL): the name only, no dead link.
        # The owner downloads a document from the session page.
        return obj.file.name or "(not stored)"

    @admin.action(description="Re-run extraction")
    def rerun_extraction(self, request, queryset):
        counts = {Document.Status.COMPLETED: 0, Document.Status.FAILED: 0}
        for document in queryset:
            if not document.file:
                self.message_user(
                    request,
                    f"“{document}” has no stored file (it was refused at upload); skipped.",
                    messages.WARNING,
                )
                continue
            document.run_extraction()
            counts[document.status] += 1
            self.log_change(
                request, document, f"Re-ran extraction: {document.get_status_display()}."
            )
        self.message_user(
            request,
            f"Extraction re-run: {counts[Document.Status.COMPLETED]} ready, "
            f"{counts[Document.Status.FAILED]} failed.",
            messages.SUCCESS,
        )


@admin.register(GenerationRun)
class GenerationRunAdmin(admin.ModelAdmin):
    """Read-only history: runs are written by the generator, never by hand."""

    list_display = [
        "session",
        "outcome",
        "started_at",
        "duration",
        "documents_done",
        "builder",
        "model",
        "tokens",
        "short_error",
    ]
    list_filter = ["outcome", "builder", "started_at"]
    search_fields = ["session__title", "session__owner__username", "error"]
    list_select_related = ["session"]

    @admin.display(description="error")
    def short_error(self, obj):
        # Short enough that the list fits a 1440 px screen; the full text is on the run's page.
        return obj.error if len(obj.error) <= 60 else obj.error[:59] + "…"

    @admin.display(description="documents processed", ordering="documents_processed")
    def documents_done(self, obj):
        return obj.progress_in(obj.session).documents_processed

    @admin.display(description="tokens (in/out)")
    def tokens(self, obj):
        obj.progress_in(obj.session)
        if obj.prompt_tokens is None and obj.completion_tokens is None:
            return "—"
        return f"{obj.prompt_tokens or 0} / {obj.completion_tokens or 0}"

    def get_object(self, request, object_id, from_field=None):
        # A running run's row is written at its end: until then its progress is on its
        # session's journal (GenerationRun.progress_in).
        run = super().get_object(request, object_id, from_field)
        return run.progress_in(run.session) if run is not None else None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
