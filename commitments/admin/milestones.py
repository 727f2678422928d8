"""Milestones: the list staff work from (overdue first), and the page where status
and deadline change, each through its service."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import transaction
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from .. import deadlines, services
from ..models import CLOSED_STATUSES, Milestone, Status
from .filters import ArchiveFilter, DueSoonFilter, JapaneseFilter, NotCheckedFilter, OverdueFilter
from .forms import RULE_FIELDS, BulkCompleteForm, MilestoneForm
from .inlines import (
    DeadlineRevisionInline,
    LogAddInline,
    LogInline,
    MilestonePartInline,
    MilestoneSourceInline,
    OccurrenceInline,
    StatusUpdateInline,
)
from .labels import count_of, date_label, days, due_label, milestone_badges, utc_label, zone_label
from .records import LoggedRecordAdmin, RecordWrites, can_set_status, staff


def overdue_first(now: dt.datetime) -> Case:
    """Overdue first, then open by due date, then closed; no deadline last."""
    return Case(
        When(Q(overdue_from__lte=now) & ~Q(status__in=CLOSED_STATUSES), then=Value(0)),
        When(due_on__isnull=True, then=Value(3)),
        When(status__in=CLOSED_STATUSES, then=Value(2)),
        default=Value(1),
        output_field=IntegerField(),
    )


@admin.register(Milestone)
class MilestoneAdmin(LoggedRecordAdmin):
    form = MilestoneForm
    list_display = [
        "title",
        "agreement",
        "rule_text",
        "due_local",
        "status_badge",
        "days_left",
        "owner_display",
        "updated_utc",
    ]
    list_filter = [
        ("commitment__agreement", admin.RelatedOnlyFieldListFilter),
        ("parties", admin.RelatedOnlyFieldListFilter),
        "status",
        OverdueFilter,
        DueSoonFilter,
        NotCheckedFilter,
        JapaneseFilter,
        ArchiveFilter,
    ]
    search_fields = [
        "title",
        "commitment__title",
        "sources__reference",
        "sources__fact",
        "commitment__sources__reference",
        "commitment__sources__fact",
    ]
    date_hierarchy = "due_on"
    list_per_page = 100
    list_max_show_all = 2000
    raw_id_fields = ["owner"]
    actions = ["mark_in_progress", "mark_completed_today", "archive_selected"]
    inlines = [
        MilestonePartInline,
        StatusUpdateInline,
        DeadlineRevisionInline,
        MilestoneSourceInline,
        LogInline,
        LogAddInline,
    ]
    readonly_fields = [
        "series_link",
        "rule_text",
        "due_local",
        "original_due_local",
        "overdue_display",
        "days_left",
        "version",
        "updated_local",
        "archived_at",
    ]
    edit_fields = services.MILESTONE_FIELDS
    # Plain fields; status and rule go through their own services (save_model).
    writes = RecordWrites(services.milestone_edit, services.milestone_archive, "milestone")
    zone_path = "commitment__agreement__time_zone"

    def get_inlines(self, request: HttpRequest, obj: Milestone | None) -> list[Any]:
        # A recurring obligation lists its occurrences, before its own history.
        if obj is not None and obj.is_series:
            return [self.inlines[0], OccurrenceInline, *self.inlines[1:]]
        return list(self.inlines)

    def get_fieldsets(self, request: HttpRequest, obj: Milestone | None = None) -> Any:
        fieldsets = self._fieldsets(request, obj)
        if obj is not None and obj.series_id is not None:
            fieldsets[0][1]["fields"].insert(0, "series_link")
        # "title" becomes its English and Japanese versions (TranslationAdmin).
        return self._patch_fieldsets(fieldsets)

    def _fieldsets(self, request: HttpRequest, obj: Milestone | None) -> list[Any]:
        status = ["new_status", "party", "note", "evidence", "completed", "seen_version"]
        rule = [*RULE_FIELDS, "revision_reason", "revision_source"]
        if obj is None or not self.has_change_permission(request, obj):
            # Viewers (and the add page) see what is, not the controls to change it.
            return [
                (None, {"fields": ["commitment", "key", "title", "owner"]}),
                ("Deadline", {"fields": ["rule_text", "due_local", "original_due_local"]}),
            ]
        if not can_set_status(request):
            status = ["seen_version"]
        return [
            (
                None,
                {
                    "fields": [
                        "commitment",
                        "key",
                        "title",
                        "ja_is_translation",
                        "owner",
                        "version",
                        "updated_local",
                        "archived_at",
                    ]
                },
            ),
            ("Status", {"fields": status}),
            (
                "Deadline",
                {
                    "fields": [
                        "rule_text",
                        "due_local",
                        "original_due_local",
                        "days_left",
                        "overdue_display",
                        *rule,
                    ]
                },
            ),
        ]

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        return [overdue_first(timezone.now()).asc(), F("due_on").asc(nulls_last=True), "id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Milestone]:
        # Also the changelist's select_related (no list_select_related needed).
        return (
            super()
            .get_queryset(request)
            .select_related(
                "commitment__agreement",
                "commitment__owner",
                "owner",
                "rule_anchor_milestone",
                "series",
            )
            .annotate(overdue_rank=overdue_first(timezone.now()))
        )

    # Columns -----------------------------------------------------------------------

    @admin.display(description="agreement", ordering="commitment__agreement__short_name")
    def agreement(self, obj: Milestone) -> str:
        return str(obj.commitment.agreement)

    @admin.display(description="occurrence of")
    def series_link(self, obj: Milestone) -> str:
        """An occurrence's recurring obligation, linked."""
        if obj.series is None:
            return "—"
        url = reverse("admin:commitments_milestone_change", args=[obj.series_id])
        return format_html('<a href="{}">{}</a> (a recurring obligation)', url, obj.series.title)

    @admin.display(description="days left")
    def days_left(self, obj: Milestone) -> str:
        if obj.due_on is None or obj.is_closed:
            return "—"
        left = deadlines.days_remaining(obj.due_on, now=timezone.now(), time_zone=obj.time_zone())
        assert left is not None
        if left < 0:
            return "—"  # the red badge beside the status says how overdue
        return "due today" if left == 0 else f"{days(left)} left"

    @admin.display(description="deadline rule")
    def rule_text(self, obj: Milestone) -> str:
        return obj.rule.describe()

    @admin.display(description="status", ordering="overdue_rank")
    def status_badge(self, obj: Milestone) -> str:
        return milestone_badges(obj, timezone.now())

    @admin.display(description="due on (the agreement's date)", ordering="due_on")
    def due_local(self, obj: Milestone) -> str:
        return due_label(obj)

    @admin.display(description="original due on")
    def original_due_local(self, obj: Milestone) -> str:
        """The due date before any revision, a date in the agreement's zone."""
        return date_label(obj.original_due_on, obj)

    @admin.display(description="overdue since")
    def overdue_display(self, obj: Milestone) -> str:
        """The deadline moment in the agreement's zone; the sweep's flag time (when the
        service first noticed) only as a detail."""
        now = timezone.now()
        if obj.overdue_from is None or not obj.is_overdue_at(now):
            return "not overdue"
        flagged = (
            f"flagged by the sweep {zone_label(obj.overdue_since, obj.time_zone())}"
            if obj.overdue_since
            else "not yet flagged by the sweep"
        )
        late = -(deadlines.days_remaining(obj.due_on, now=now, time_zone=obj.time_zone()) or 0)
        return format_html(
            "overdue since {} ({}) <span class='help'>{}</span>",
            zone_label(obj.overdue_from, obj.time_zone()),
            days(late),
            flagged,
        )

    @admin.display(description="updated (UTC)", ordering="updated_at")
    def updated_utc(self, obj: Milestone) -> str:
        """One zone for the whole column: the rows belong to different agreements."""
        return utc_label(obj.updated_at)

    @admin.display(description="updated")
    def updated_local(self, obj: Milestone) -> str:
        """On the milestone's page: in the agreement's zone, named."""
        return zone_label(obj.updated_at, obj.time_zone())

    @admin.display(description="owner")
    def owner_display(self, obj: Milestone) -> str:
        owner = obj.owner or obj.commitment.owner
        return owner.get_username() if owner else "—"

    # Saving ------------------------------------------------------------------------

    def save_model(
        self, request: HttpRequest, obj: Milestone, form: MilestoneForm, change: bool
    ) -> None:
        if not change:
            with transaction.atomic():
                super().save_model(request, obj, form, change)
                services.refresh_deadlines(obj.commitment.agreement)
            return
        # Each service checks the version it is given (the one the editor loaded, then
        # the one the previous step left): a stale form changes nothing.
        version = form.cleaned_data["seen_version"]
        data = form.cleaned_data
        changes = form.edited(self.edit_fields)
        if changes:
            services.milestone_edit(
                milestone=obj, expected_version=version, changes=changes, by=staff(request)
            )
            version = obj.version
        if form.rule_changed():
            services.milestone_revise_deadline(
                milestone=obj,
                rule=form.rule(),
                reason=data["revision_reason"],
                source=data["revision_source"],
                by=staff(request),
                expected_version=version,
            )
            obj.refresh_from_db()
            version = obj.version
        if form.status_changed() and can_set_status(request):
            services.milestone_set_status(
                milestone=obj,
                status=data["new_status"],
                by=staff(request),
                note=data.get("note") or "",
                evidence_url=data.get("evidence") or "",
                completed_on=data.get("completed"),
                party=data.get("party"),
                expected_version=version,
            )

    # Actions -----------------------------------------------------------------------

    def has_set_status_permission(self, request: HttpRequest) -> bool:
        return can_set_status(request)

    @admin.action(description="Mark selected milestones in progress", permissions=["set_status"])
    def mark_in_progress(self, request: HttpRequest, queryset: QuerySet[Milestone]) -> None:
        self._bulk_set(request, queryset, Status.IN_PROGRESS, note="", evidence="")

    @admin.action(
        description="Mark selected milestones completed (today in each agreement's zone)",
        permissions=["set_status"],
    )
    def mark_completed_today(
        self, request: HttpRequest, queryset: QuerySet[Milestone]
    ) -> HttpResponse | None:
        form = BulkCompleteForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._bulk_set(
                request,
                queryset,
                Status.COMPLETED,
                note=form.cleaned_data["note"],
                evidence=form.cleaned_data["evidence"],
            )
            return None
        # Completion needs evidence: ask for it once, for the whole selection.
        return TemplateResponse(
            request,
            "admin/commitments/milestone/bulk_complete.html",
            {
                **self.admin_site.each_context(request),
                "title": "Mark milestones completed today",
                "opts": self.opts,
                "form": form,
                "milestones": queryset.select_related("commitment__agreement"),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    def _bulk_set(
        self,
        request: HttpRequest,
        queryset: QuerySet[Milestone],
        status: str,
        *,
        note: str,
        evidence: str,
    ) -> None:
        done, refused = 0, []
        for milestone in queryset.select_related("commitment__agreement"):
            try:
                services.milestone_set_status(
                    milestone=milestone,
                    status=status,
                    by=staff(request),
                    note=note,
                    evidence_url=evidence,
                )
                done += 1
            except services.TransitionError as exc:
                refused.append(f"{milestone.title}: {exc.message}")
        if done:
            done_text = count_of(done, "milestone", "milestones")
            label = Status(status).label
            self.message_user(request, f"{done_text} set to “{label}”.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)
