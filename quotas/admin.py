from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from quotas.models import QuotaOverride, QuotaUsage

User = get_user_model()


class QuotaOverrideInline(admin.StackedInline):
    """A user's own daily AI limits, on the user's admin page."""

    model = QuotaOverride
    can_delete = True
    extra = 1
    max_num = 1
    verbose_name_plural = "AI quota (empty fields keep the site's settings; 0 is unlimited)"


@admin.register(QuotaOverride)
class QuotaOverrideAdmin(admin.ModelAdmin):
    list_display = ["user", "plan_runs_per_day", "questions_per_day"]
    search_fields = ["user__username", "user__email"]
    autocomplete_fields = ["user"]


@admin.register(QuotaUsage)
class QuotaUsageAdmin(admin.ModelAdmin):
    """What each user spent per UTC day: written by quotas.service, read-only here."""

    list_display = ["day", "user", "kind", "used"]
    list_filter = ["kind", "day"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    date_hierarchy = "day"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


if admin.site.is_registered(User):
    _user_admin = type(admin.site._registry[User])
    admin.site.unregister(User)
else:
    _user_admin = UserAdmin


@admin.register(User)
class UserWithQuotaAdmin(_user_admin):
    inlines = [*getattr(_user_admin, "inlines", []), QuotaOverrideInline]
