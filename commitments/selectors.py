"""Reads that more than one caller needs: derived progress, computed in the database."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet

from . import deadlines
from .models import CLOSED_STATUSES, Agreement, Commitment, Milestone, Status

PROGRESS_KEYS = (
    "total",
    *Status.values,
    "overdue",
    "next_deadline",
)


def progress_aggregates(now: dt.datetime, prefix: str = "") -> dict[str, Any]:
    """Aggregate expressions for a set of milestones reached through ``prefix`` (e.g.
    ``"commitments__milestones__"`` from an agreement). Use with ``annotate`` (one row
    per parent) or ``aggregate`` (one total)."""
    p = prefix
    open_ = ~Q(**{f"{p}status__in": CLOSED_STATUSES})
    exprs: dict[str, Any] = {"progress_total": Count(f"{p}id", distinct=True)}
    for status in Status.values:
        exprs[f"progress_{status}"] = Count(
            f"{p}id", filter=Q(**{f"{p}status": status}), distinct=True
        )
    exprs["progress_overdue"] = Count(
        f"{p}id", filter=Q(**{f"{p}overdue_from__lte": now}) & open_, distinct=True
    )
    exprs["progress_next_deadline"] = Min(
        f"{p}due_on", filter=Q(**{f"{p}overdue_from__gt": now}) & open_
    )
    return exprs


def progress_of(obj: Any) -> dict[str, Any]:
    """The progress document of an object annotated with ``progress_aggregates``."""
    data = {key: getattr(obj, f"progress_{key}") for key in PROGRESS_KEYS}
    counted = data["total"] - data[Status.CANCELLED]
    data["percent_complete"] = round(100 * data[Status.COMPLETED] / counted, 1) if counted else 0.0
    return data


def agreements_with_progress(now: dt.datetime) -> QuerySet[Agreement]:
    return Agreement.objects.annotate(**progress_aggregates(now, "commitments__milestones__"))


def commitments_with_progress(now: dt.datetime) -> QuerySet[Commitment]:
    return Commitment.objects.annotate(**progress_aggregates(now, "milestones__"))


def derived_status(progress: dict[str, Any]) -> str:
    """A commitment's status from its milestones' progress, worst news first."""
    if not progress["total"]:
        return "no_milestones"
    if progress["overdue"]:
        return "overdue"
    if progress[Status.AT_RISK]:
        return Status.AT_RISK
    if progress[Status.COMPLETED] + progress[Status.CANCELLED] == progress["total"]:
        return Status.COMPLETED
    if progress[Status.IN_PROGRESS] or progress[Status.COMPLETED]:
        return Status.IN_PROGRESS
    return Status.NOT_STARTED


# --- What needs attention (the admin's index and filters) ------------------------------

UNCHECKED_DAYS = 90


def milestones_due_within(now: dt.datetime, days: int) -> QuerySet[Milestone]:
    """Open, current milestones due in the next ``days`` days, the days counted in each
    agreement's own zone (today in Tokyo is not today in Washington). One query; the
    zones in use are read first (one more, small)."""
    zones = Agreement.objects.values_list("time_zone", flat=True).distinct().order_by()
    in_window = Q(pk__in=[])
    for zone in zones:
        today = deadlines.local_today(now, zone)
        in_window |= Q(
            commitment__agreement__time_zone=zone,
            due_on__gte=today,
            due_on__lte=today + dt.timedelta(days=days),
        )
    return Milestone.objects.open().filter(in_window, archived_at__isnull=True)


def not_checked_since(queryset: QuerySet[Any], now: dt.datetime) -> QuerySet[Any]:
    """Commitments or milestones whose newest sourced-log entry is older than
    ``UNCHECKED_DAYS`` days (UTC dates), or that have none."""
    cutoff = now.date() - dt.timedelta(days=UNCHECKED_DAYS)
    return queryset.annotate(last_checked_on=Max("log__on")).filter(
        Q(last_checked_on__isnull=True) | Q(last_checked_on__lt=cutoff), archived_at__isnull=True
    )
