"""The lists' filters: archived or current, not checked for 90 days, overdue, due
soon. Each asks the domain's predicate (a queryset method or a selector), never a
copy of it."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from .. import selectors
from ..models import MilestoneQuerySet


class DateHierarchyChangeList(ChangeList):
    """Django's, with a date drill-down off the calendar (``?due_on__year=9999``: the
    year after it is no date) answered as any bad filter is (``?e=1``) instead of a 500.
    Django #37357, fixed after 5.2: remove with Django 6.1."""

    def get_filters(self, request: HttpRequest) -> Any:
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as exc:
            raise IncorrectLookupParameters(exc) from exc


class DateHierarchyAdmin(admin.ModelAdmin[Any]):
    """For a list with ``date_hierarchy``."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return DateHierarchyChangeList


class OptionsFilter(admin.SimpleListFilter):
    """A filter with fixed options (value, label); ``narrow`` applies a chosen one. A
    value that is not an option (a typed address) leaves the list as it is."""

    options: list[tuple[str, str]] = []

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return self.options

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value not in dict(self.options):
            return queryset
        return self.narrow(queryset, value)

    def narrow(self, queryset: QuerySet[Any], value: str) -> QuerySet[Any]:
        raise NotImplementedError


class ArchiveFilter(OptionsFilter):
    title = "archived"
    parameter_name = "archived"
    options = [("no", "Current"), ("yes", "Archived")]

    def narrow(self, queryset: QuerySet[Any], value: str) -> QuerySet[Any]:
        return queryset.filter(archived_at__isnull=value == "no")


class NotCheckedFilter(OptionsFilter):
    """Nothing in the sourced log for 90 days (or ever)."""

    title = "last checked"
    parameter_name = "unchecked"
    options = [("90", f"Not checked for {selectors.UNCHECKED_DAYS} days")]

    def narrow(self, queryset: QuerySet[Any], value: str) -> QuerySet[Any]:
        stale = selectors.not_checked_since(queryset.model.objects.all(), timezone.now())
        return queryset.filter(pk__in=stale.values("pk"))


class JapaneseFilter(OptionsFilter):
    """Records whose Japanese title is missing (the pages show the English, marked)."""

    title = "Japanese version"
    parameter_name = "japanese"
    options = [("missing", "No Japanese title")]

    def narrow(self, queryset: QuerySet[Any], value: str) -> QuerySet[Any]:
        return queryset.filter(pk__in=selectors.without_japanese(queryset.model.objects.all()))


class OverdueFilter(OptionsFilter):
    title = "overdue"
    parameter_name = "overdue"
    options = [("yes", "Overdue"), ("no", "Not overdue")]

    def narrow(self, queryset: QuerySet[Any], value: str) -> QuerySet[Any]:
        # The milestone changelist's queryset comes from Milestone.objects; the filter's
        # signature (any model's QuerySet) cannot say so.
        milestones = cast(MilestoneQuerySet, queryset)
        now = timezone.now()
        return milestones.overdue_at(now) if value == "yes" else milestones.not_overdue_at(now)


class DueSoonFilter(OptionsFilter):
    title = "due soon"
    parameter_name = "due_within"
    options = [("7", "Next 7 days"), ("30", "Next 30 days")]

    def narrow(self, queryset: QuerySet[Any], value: str) -> QuerySet[Any]:
        due = selectors.milestones_due_within(timezone.now(), int(value))
        return queryset.filter(pk__in=due.values("pk"))
