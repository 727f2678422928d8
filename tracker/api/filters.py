"""Query filters. A bad value is a 400 naming the parameter, never an empty page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters as df
from django import forms
from django.db.models import F, OrderBy, Q, QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field

from commitments.models import (
    Agreement,
    Category,
    Commitment,
    Milestone,
    MilestoneQuerySet,
    Status,
)
from commitments.selectors import derived_status_expression

TRUE_FALSE = [("true", "true"), ("false", "false")]

MILESTONE_ORDERINGS: dict[str, tuple[OrderBy | str, str]] = {
    "due_on": (F("due_on").asc(nulls_last=True), "id"),
    "-due_on": (F("due_on").desc(nulls_last=True), "-id"),
    "updated_at": ("updated_at", "id"),
    "-updated_at": ("-updated_at", "-id"),
}

DERIVED_STATUSES = ["no_milestones", "overdue", *Status.values]
MAX_ID = 2**63 - 1


@extend_schema_field(
    {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\u0000]+$"}
)
class TextFilter(df.CharFilter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, max_length=200, **kwargs)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(df.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)


class UtcDateTimeField(df.fields.IsoDateTimeField):
    """An instant, in UTC. Every date-time the schema allows is accepted: one beyond
    what UTC can express (year 9999 west of Greenwich, year 1 east of it) is that end
    of the range, so "since 0001-01-01T00:00+02:00" is everything, not a 400."""

    def to_python(self, value: Any) -> Any:
        result = super().to_python(value)
        if result is None:
            return None
        try:
            return result.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            if result.year == dt.MINYEAR:
                return dt.datetime.min.replace(tzinfo=dt.UTC)
            return dt.datetime.max.replace(tzinfo=dt.UTC)


class ChangedSinceFilter(df.IsoDateTimeFilter):
    """Changed at or after an instant: the row itself, or one of the rows its answer
    shows (``through``: (model, the key naming the row), each read as a subquery, so that
    progress annotations are not joined again)."""

    field_class = UtcDateTimeField

    def __init__(self, *through: tuple[type[Any], str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.through = through

    def filter(self, queryset: QuerySet[Any], value: dt.datetime | None) -> QuerySet[Any]:
        if value is None:
            return queryset
        changed = Q(updated_at__gte=value)
        for model, key in self.through:
            changed |= Q(pk__in=model.objects.filter(updated_at__gte=value).values(key))
        return queryset.filter(changed)


UPDATED_SINCE = (
    "Changed at or after this instant (ISO 8601, with an offset). For incremental "
    "polling: send the largest updated_at you have seen minus an overlap (5 minutes), "
    "and keep the newest version of each item. Or follow /api/v1/events/, which "
    "misses nothing."
)


def request_now(filterset: df.FilterSet) -> Any:
    """The moment the view judges at (its validators' too): DRF's request names its view."""
    context = getattr(getattr(filterset, "request", None), "parser_context", None) or {}
    return getattr(context.get("view"), "now", None) or timezone.now()


class MilestoneFilter(df.FilterSet):
    agreement = TextFilter(
        field_name="commitment__agreement__slug", help_text="An agreement's slug."
    )
    commitment = IdFilter(field_name="commitment_id", help_text="A commitment's id.")
    series = IdFilter(
        field_name="series_id",
        help_text="A recurring obligation's id (a milestone whose series is itself): its "
        "occurrences, each a milestone due on its own date.",
    )
    status = df.MultipleChoiceFilter(
        choices=Status.choices, help_text="Repeat to ask for several: ?status=a&status=b."
    )
    overdue = df.ChoiceFilter(
        choices=TRUE_FALSE,
        method="filter_overdue",
        help_text="true: open and past the due date (in the agreement's time zone); false: not.",
    )
    due_before = df.DateFilter(
        field_name="due_on",
        lookup_expr="lt",
        help_text="Due strictly before this date (YYYY-MM-DD).",
    )
    due_after = df.DateFilter(
        field_name="due_on",
        lookup_expr="gt",
        help_text="Due strictly after this date (YYYY-MM-DD).",
    )
    updated_since = ChangedSinceFilter(help_text=UPDATED_SINCE)
    ordering = df.ChoiceFilter(
        choices=[(k, k) for k in MILESTONE_ORDERINGS],
        method="filter_ordering",
        empty_label=None,
        help_text="Sort key; ties are broken by id. Default: due_on.",
    )

    class Meta:
        model = Milestone
        fields: list[str] = []

    def filter_overdue(
        self, queryset: MilestoneQuerySet, name: str, value: str
    ) -> QuerySet[Milestone]:
        now = request_now(self)
        return queryset.overdue_at(now) if value == "true" else queryset.not_overdue_at(now)

    def filter_ordering(
        self, queryset: QuerySet[Milestone], name: str, value: str
    ) -> QuerySet[Milestone]:
        return queryset.order_by(*MILESTONE_ORDERINGS[value])


class CommitmentFilter(df.FilterSet):
    agreement = TextFilter(field_name="agreement__slug", help_text="An agreement's slug.")
    category = df.ChoiceFilter(choices=Category.choices)
    lead = TextFilter(
        method="filter_lead",
        help_text="A lead's party code (JP) or a word of its title (METI).",
    )
    status = df.MultipleChoiceFilter(
        choices=[(s, s) for s in DERIVED_STATUSES],
        method="filter_status",
        help_text="Derived status; repeat to ask for several.",
    )
    updated_since = ChangedSinceFilter(
        (Milestone, "commitment_id"),
        help_text=UPDATED_SINCE + " A commitment counts as changed when one of its milestones is.",
    )

    class Meta:
        model = Commitment
        fields: list[str] = []

    def filter_lead(self, queryset: QuerySet[Commitment], name: str, value: str) -> QuerySet[Any]:
        matching = Commitment.objects.filter(
            Q(leads__party__code__iexact=value) | Q(leads__title__icontains=value)
        ).values("pk")
        return queryset.filter(pk__in=matching)

    def filter_status(
        self, queryset: QuerySet[Commitment], name: str, value: list[str]
    ) -> QuerySet[Any]:
        if not value:
            return queryset
        return queryset.annotate(derived=derived_status_expression()).filter(derived__in=value)


class AgreementFilter(df.FilterSet):
    updated_since = ChangedSinceFilter(
        (Commitment, "agreement_id"),
        (Milestone, "commitment__agreement_id"),
        help_text=UPDATED_SINCE + " An agreement counts as changed when one of its "
        "commitments or milestones is (its progress is theirs).",
    )

    class Meta:
        model = Agreement
        fields: list[str] = []
