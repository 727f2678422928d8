from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from commitments.admin import MilestoneAdmin

from . import delivery
from .models import Alert, DigestSent, OptOut, Subscription, SweepRun


class AlertStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("pending", "Pending"),
            ("sent", "Sent"),
            ("failed", "Failed"),
            ("skipped", "Skipped"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Alert]) -> QuerySet[Alert]:
        value = self.value()
        if value == "pending":
            return queryset.filter(delivery.pending())
        if value == "sent":
            return queryset.filter(sent_at__isnull=False)
        if value == "failed":
            return queryset.filter(failed=True)
        if value == "skipped":
            return queryset.filter(skipped=True)
        return queryset


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "kind",
        "milestone",
        "recipient",
        "due_on",
        "state",
        "attempts",
        "sent_at",
        "last_error",
    ]
    list_filter = [AlertStateFilter, "kind"]
    list_select_related = ["milestone"]
    search_fields = ["recipient", "milestone__title"]
    date_hierarchy = "created_at"
    actions = ["retry_failed"]
    readonly_fields = [f.name for f in Alert._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Retry the selected failed alerts")
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        count = delivery.retry(list(queryset.values_list("id", flat=True)))
        self.message_user(request, f"{count} alert(s) queued again.", messages.SUCCESS)


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = [
        "address",
        "user",
        "agreement",
        "commitment",
        "milestone",
        "kinds",
        "lead_days",
        "time_zone",
        "active",
    ]
    list_filter = ["active", "agreement"]
    list_select_related = ["user", "agreement", "commitment", "milestone"]
    search_fields = ["email", "user__email"]
    raw_id_fields = ["user", "commitment", "milestone"]


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    list_display = ["email", "at"]
    search_fields = ["email"]


@admin.register(SweepRun)
class SweepRunAdmin(admin.ModelAdmin):
    list_display = ["started_at", "evaluated_at", "finished_at", "flagged", "cleared", "queued"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DigestSent)
class DigestSentAdmin(admin.ModelAdmin):
    list_display = ["subscription", "week_of", "sent_at"]
    list_select_related = ["subscription"]


class AlertInline(admin.TabularInline):
    model = Alert
    extra = 0
    max_num = 0
    can_delete = False
    fields = [
        "created_at",
        "kind",
        "recipient",
        "due_on",
        "state",
        "attempts",
        "sent_at",
        "last_error",
    ]
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The milestone's page shows its alerts; the domain's admin knows nothing of alerts.
MilestoneAdmin.inlines = [*MilestoneAdmin.inlines, AlertInline]

# The admin index opens with what needs attention (tracker.attention).
admin.site.index_template = "admin/tracker_index.html"
