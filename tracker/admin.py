from __future__ import annotations

from typing import Any, TypeVar

from django.contrib import admin, messages
from django.db.models import Count, Exists, Model, OuterRef, Q, QuerySet
from django.http import HttpRequest

from commitments.admin import MilestoneAdmin
from commitments.admin.filters import DateHierarchyAdmin
from commitments.admin.forms import HTTPS_URLS, KeyedAutocompleteAdmin
from commitments.models import Milestone

from .alerts import delivery, webhooks
from .alerts.forms import SubscriptionForm, WebhookEndpointForm
from .models import (
    Alert,
    AlertEvent,
    DigestSent,
    OptOut,
    Subscription,
    SweepRun,
    WebhookAttempt,
    WebhookEndpoint,
)

_M = TypeVar("_M", bound=Model)


class WrittenByTheTracker(DateHierarchyAdmin, admin.ModelAdmin[_M]):
    """Rows the alert machinery writes: staff read them (and act on them), never add
    or edit them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]


class AlertStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"
    states = {
        "pending": delivery.pending(),
        "sent": Q(sent_at__isnull=False),
        "failed": Q(failed=True),
        "skipped": Q(skipped=True),
    }

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(state, state.capitalize()) for state in self.states]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Alert]) -> QuerySet[Alert]:
        value = self.value()
        return queryset.filter(self.states[value]) if value in self.states else queryset


@admin.register(Alert)
class AlertAdmin(WrittenByTheTracker[Alert]):
    list_display = [
        "created_at",
        "kind",
        "channel",
        "milestone",
        "recipient",
        "due_on",
        "state",
        "attempts",
        "sent_at",
        "last_error",
    ]
    list_filter = [AlertStateFilter, "channel", "kind"]
    list_select_related = ["milestone"]
    search_fields = ["recipient", "milestone__title"]
    date_hierarchy = "created_at"
    actions = ["retry_failed"]
    show_facets = admin.ShowFacets.ALWAYS  # the failed count, next to the filter

    @admin.action(description="Retry the selected failed alerts")
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        count = delivery.retry(list(queryset.values_list("id", flat=True)))
        self.message_user(request, f"{count} alert(s) queued again.", messages.SUCCESS)


@admin.register(AlertEvent)
class AlertEventAdmin(WrittenByTheTracker[AlertEvent]):
    list_display = ["created_at", "kind", "milestone", "due_on", "state", "attempts", "last_error"]
    list_filter = ["failed", "kind"]
    list_select_related = ["milestone"]
    search_fields = ["milestone__title"]
    actions = ["retry_failed"]
    show_facets = admin.ShowFacets.ALWAYS

    @admin.action(description="Dispatch the selected failed events again")
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[AlertEvent]) -> None:
        count = queryset.filter(dispatched_at__isnull=True).update(
            failed=False, attempts=0, last_error=""
        )
        self.message_user(request, f"{count} event(s) queued again.", messages.SUCCESS)


class ProblemFilter(admin.SimpleListFilter):
    title = "problem"
    parameter_name = "problem"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Has a problem"), ("suppressed", "Suppressed by an opt-out")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Subscription]
    ) -> QuerySet[Subscription]:
        if self.value() == "yes":
            return queryset.exclude(last_error="")
        if self.value() == "suppressed":
            return queryset.filter(suppressed=True)  # type: ignore[misc]  # annotated below
        return queryset


@admin.register(Subscription)
class SubscriptionAdmin(KeyedAutocompleteAdmin):
    form = SubscriptionForm
    list_display = [
        "address",
        "user",
        "agreement",
        "commitment",
        "milestone",
        "kinds",
        "lead_days",
        "time_zone",
        "language",
        "active",
        "opt_out",
        "last_error",
    ]
    list_filter = ["active", ProblemFilter, "agreement", "language"]
    list_select_related = ["user", "agreement", "commitment", "milestone"]
    search_fields = ["email", "user__email"]
    autocomplete_fields = ["user", "agreement", "commitment", "milestone"]
    readonly_fields = ["opt_out", "last_error", "pending_since"]
    show_facets = admin.ShowFacets.ALWAYS

    def get_queryset(self, request: HttpRequest) -> QuerySet[Subscription]:
        address = Q(email__iexact=OuterRef("email")) & ~Q(email="") | Q(
            email__iexact=OuterRef("user__email")
        )
        everything = OptOut.objects.filter(address, subscription__isnull=True)
        this_one = OptOut.objects.filter(subscription=OuterRef("pk"))
        queryset: QuerySet[Subscription] = super().get_queryset(request)
        return queryset.annotate(suppressed=Exists(everything) | Exists(this_one))

    @admin.display(description="opt-out", boolean=False)
    def opt_out(self, obj: Subscription) -> str:
        if getattr(obj, "suppressed", False):
            return "Suppressed: this address unsubscribed; nothing is sent while the opt-out stands"
        return "—"

    def save_model(self, request: HttpRequest, obj: Subscription, form: Any, change: bool) -> None:
        obj.last_error = ""  # the staff have looked at it again; the next run re-checks
        super().save_model(request, obj, form, change)
        if (
            obj.active
            and OptOut.objects.filter(
                Q(subscription=obj) | Q(email__iexact=obj.address, subscription__isnull=True)
            ).exists()
        ):
            self.message_user(
                request,
                f"{obj.address} has unsubscribed: this subscription stays silent until the "
                "opt-out is deleted (Opt-outs).",
                messages.WARNING,
            )


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin[OptOut]):
    list_display = ["email", "subscription", "at"]
    list_select_related = ["subscription"]
    search_fields = ["email"]
    raw_id_fields = ["subscription"]


class WebhookAttemptInline(admin.TabularInline[WebhookAttempt, WebhookEndpoint]):
    model = WebhookAttempt
    extra = 0
    max_num = 0
    can_delete = False
    fields = readonly_fields = (
        "at",
        "alert",
        "status_code",
        "ok",
        "duration_ms",
        "error",
        "response_excerpt",
    )
    ordering = ["-at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookAttempt]:
        return super().get_queryset(request).select_related("alert")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin[WebhookEndpoint]):
    form = WebhookEndpointForm
    formfield_overrides = HTTPS_URLS
    list_display = [
        "name",
        "url",
        "active",
        "consecutive_failures",
        "disabled_at",
        "disabled_reason",
        "deliveries",
    ]
    readonly_fields = ["consecutive_failures", "disabled_at", "disabled_reason"]
    filter_horizontal = ["agreements"]
    actions = ["enable"]
    inlines = [WebhookAttemptInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEndpoint]:
        queryset: QuerySet[WebhookEndpoint] = super().get_queryset(request)
        return queryset.annotate(n_alerts=Count("alerts"))

    @admin.display(description="alerts")
    def deliveries(self, obj: WebhookEndpoint) -> int:
        return getattr(obj, "n_alerts", 0)

    @admin.action(description="Enable the selected endpoints again")
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        count = webhooks.enable(list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} endpoint(s) enabled.", messages.SUCCESS)


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(WrittenByTheTracker[WebhookAttempt]):
    list_display = ["at", "endpoint", "alert", "status_code", "ok", "duration_ms", "error"]
    list_filter = ["ok", "endpoint"]
    list_select_related = ["endpoint", "alert"]


@admin.register(SweepRun)
class SweepRunAdmin(WrittenByTheTracker[SweepRun]):
    list_display = ["started_at", "evaluated_at", "finished_at", "flagged", "cleared", "queued"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DigestSent)
class DigestSentAdmin(admin.ModelAdmin[DigestSent]):
    list_display = ["subscription", "week_of", "sent_at"]
    list_select_related = ["subscription"]


class AlertInline(admin.TabularInline[Alert, Milestone]):
    model = Alert
    extra = 0
    max_num = 0
    can_delete = False
    fields = readonly_fields = (
        "created_at",
        "kind",
        "channel",
        "recipient",
        "due_on",
        "state",
        "attempts",
        "sent_at",
        "last_error",
    )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The milestone's page shows its alerts; the domain's admin knows nothing of alerts.
MilestoneAdmin.inlines = [*MilestoneAdmin.inlines, AlertInline]

# The admin index opens with what needs attention (tracker.attention).
admin.site.index_template = "admin/tracker_index.html"
