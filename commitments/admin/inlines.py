"""The inlines: sources, leads, parts, and the read-only histories (status, deadline
revisions, the sourced log) on a record's page. Summaries link to the record's own
page, where it is edited through the services with its version."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import flatten
from django.contrib.admin.widgets import AdminTextareaWidget, AdminTextInputWidget
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from ..models import (
    Commitment,
    DeadlineRevision,
    Lead,
    LogEntry,
    Milestone,
    MilestonePart,
    Source,
    StatusUpdate,
)
from .forms import HTTPS_URLS
from .labels import ArchivedColumn, current_zone_label, due_label, milestone_badges


class SourceInline(admin.StackedInline[Any, Any]):
    """Stacked: a source's passage and fact are paragraphs, which side by side in a
    table made the milestone's page twice as wide as a 1,280 px window."""

    model = Source
    extra = 0
    fields = ["reference", "kind", "passage", "fact"]
    formfield_overrides = {
        **HTTPS_URLS,
        # Wide enough to read an address; the kind (a choice) keeps its select.
        models.CharField: {"widget": AdminTextInputWidget(attrs={"class": "vLargeTextField"})},
        models.TextField: {"widget": AdminTextareaWidget(attrs={"rows": 3})},
    }


class AgreementSourceInline(SourceInline):
    fk_name = "agreement"


class CommitmentSourceInline(SourceInline):
    fk_name = "commitment"


class MilestoneSourceInline(SourceInline):
    fk_name = "milestone"


class ListedInline(admin.TabularInline[Any, Any]):
    """Rows listed on their parent's page and read-only there: none is added or
    deleted here; each is edited, if at all, on its own page through the services."""

    extra = 0
    max_num = 0
    can_delete = False
    formfield_overrides = HTTPS_URLS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return flatten(self.fields or ())


class ReadOnlyInline(ListedInline):
    """A history: not changed here or anywhere. For the histories with a time (``at``:
    status updates, deadline revisions), ``at_local`` reads it in the page's zone."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="at")
    def at_local(self, obj: StatusUpdate | DeadlineRevision) -> str:
        return current_zone_label(obj.at)


class CommitmentInline(ArchivedColumn, ListedInline):
    model = Commitment
    fields = ("number", "title", "category", "assessment", "owner", "archived")
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Commitment]:
        return super().get_queryset(request).select_related("owner")


class LeadInline(admin.TabularInline[Any, Any]):
    model = Lead
    extra = 0


class MilestoneColumns:
    """A milestone's rule, due date and status badges, for the pages that list them."""

    @admin.display(description="deadline rule")
    def rule_text(self, obj: Milestone) -> str:
        return obj.rule.describe()

    @admin.display(description="due on")
    def due_local(self, obj: Milestone) -> str:
        return due_label(obj)

    @admin.display(description="status")
    def status_display(self, obj: Milestone) -> str:
        return milestone_badges(obj, timezone.now())


class MilestoneInline(MilestoneColumns, ListedInline):
    model = Milestone
    fields = ("key", "title", "rule_text", "due_local", "status_display", "owner")
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Milestone]:
        return (
            super()
            .get_queryset(request)
            .select_related("rule_anchor_milestone", "owner", "commitment__agreement")
        )


class OccurrenceInline(MilestoneColumns, ListedInline):
    """A recurring obligation's occurrences, by due date, each linked to its own page
    (where its outcome is recorded). Read in one query, however long."""

    model = Milestone
    fk_name = "series"
    verbose_name = "occurrence"
    verbose_name_plural = "occurrences (each due on its date, met or not on its own)"
    fields = ("due_local", "status_display", "completed_on", "evidence_url")
    show_change_link = True
    ordering = ("due_on", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Milestone]:
        return super().get_queryset(request).select_related("commitment__agreement")


class MilestonePartInline(admin.TabularInline[Any, Any]):
    model = MilestonePart
    extra = 0
    fields = ["party", "status", "completed_on"]
    readonly_fields = ["status", "completed_on"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[MilestonePart]:
        return super().get_queryset(request).select_related("party")


class StatusUpdateInline(ReadOnlyInline):
    model = StatusUpdate
    verbose_name_plural = "status history"
    fields = (
        "at_local",
        "by_label",
        "party",
        "kind",
        "from_status",
        "to_status",
        "note",
        "evidence_url",
        "completed_on",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[StatusUpdate]:
        return super().get_queryset(request).select_related("by", "party")

    @admin.display(description="by")
    def by_label(self, obj: StatusUpdate) -> str:
        return obj.by_label


class DeadlineRevisionInline(ReadOnlyInline):
    model = DeadlineRevision
    fields = (
        "at_local",
        "by",
        "old_rule",
        "old_due_on",
        "new_rule",
        "new_due_on",
        "reason",
        "source",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[DeadlineRevision]:
        return super().get_queryset(request).select_related("by")


class LogInline(ArchivedColumn, ReadOnlyInline):
    model = LogEntry
    verbose_name = "log entry"
    verbose_name_plural = "sourced log (what happened since signature)"
    fields = ("on", "kind", "text", "source_address", "source_passage", "by", "archived")
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[LogEntry]:
        return super().get_queryset(request).select_related("by")


LOG_ADD_FIELDS = ("on", "kind", "text", "source_address", "source_kind", "source_passage")


class LogAddInline(admin.StackedInline[Any, Any]):
    """Add an entry to the sourced log: saved through ``services.logentry_create``."""

    model = LogEntry
    extra = 0
    can_delete = False
    verbose_name = "new log entry"
    verbose_name_plural = "add to the sourced log"
    fields = LOG_ADD_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[LogEntry]:
        return super().get_queryset(request).none()
