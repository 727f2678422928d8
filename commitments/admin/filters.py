"""The lists' filters: archived or current, not checked for 90 days, overdue, due
soon. Each asks the domain's predicate (a queryset method or a selector), never a
copy of it."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from .. import selectors
from ..models import Milestone, MilestoneQuerySet


class ArchiveFilter(admin.SimpleListFilter):
    title = "archived"
    parameter_name = "archived"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Current"), ("yes", "Archived")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "no":
            return queryset.filter(archived_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(archived_at__isnull=False)
        return queryset


class NotCheckedFilter(admin.SimpleListFilter):
    """Nothing in the sourced log for 90 days (or ever)."""

    title = "last checked"
    parameter_name = "unchecked"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("90", f"Not checked for {selectors.UNCHECKED_DAYS} days")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "90":
            stale = selectors.not_checked_since(queryset.model.objects.all(), timezone.now())
            return queryset.filter(pk__in=stale.values("pk"))
        return queryset


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Overdue"), ("no", "Not overdue")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Milestone]) -> QuerySet[Milestone]:
        # The milestone changelist's queryset comes from Milestone.objects; the filter's
        # signature (any model's QuerySet) cannot say so.
        milestones = cast(MilestoneQuerySet, queryset)
        now = timezone.now()
        if self.value() == "yes":
            return milestones.overdue_at(now)
        if self.value() == "no":
            return milestones.not_overdue_at(now)
        return queryset


class DueSoonFilter(admin.SimpleListFilter):
    title = "due soon"
    parameter_name = "due_within"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("7", "Next 7 days"), ("30", "Next 30 days")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Milestone]) -> QuerySet[Milestone]:
        days = self.value()
        if days in {"7", "30"}:
            due = selectors.milestones_due_within(timezone.now(), int(days))
            return queryset.filter(pk__in=due.values("pk"))
        return queryset
