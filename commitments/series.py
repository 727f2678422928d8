"""Recurring obligations. A milestone whose rule recurs is a series, with no due date
of its own; each date its rule gives is an occurrence: a milestone of the same
commitment with a fixed rule on that date, met or missed on its own (its status
through ``services.milestone_set_status``), through the same sweep and alerts as any
milestone. The loader and the sweep make them here only (``series_extend``), up to
and including the first date after today, so the next one ahead is always known; a
revised rule remakes the pending ones (``services``)."""

from __future__ import annotations

import contextlib
import datetime as dt

from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.text import Truncator
from simple_history.utils import bulk_create_with_history

from . import deadlines, services
from .deadlines import RuleKind
from .models import (
    CLOSED_STATUSES,
    LogEntry,
    Milestone,
    MilestonePart,
    Status,
    StatusUpdate,
    nothing_archived,
)


def _series() -> models.QuerySet[Milestone]:
    """The series that go on: recurring, open, and nothing of theirs archived."""
    return Milestone.objects.filter(nothing_archived(), rule_kind=RuleKind.RECURRING).exclude(
        status__in=CLOSED_STATUSES
    )


def series_extend(*, now: dt.datetime | None = None, series: Milestone | None = None) -> int:
    """Make the occurrences of every series (or of ``series``) that its rule gives up
    to and including the first date after today, in the agreement's zone; return how
    many were made. Running it again makes none (one occurrence per series and date,
    a unique constraint), and when none is missing it costs one query: each series'
    last occurrence, already ahead of today. The sweep calls it before it judges, the
    loader after it loads."""
    now = now or timezone.now()
    found = _series().annotate(last=models.Max("occurrences__original_due_on"))
    if series is not None:
        found = found.filter(pk=series.pk)
    rows = found.values_list(
        "pk",
        "last",
        "rule_rrule",
        "commitment__agreement__signed_on",
        "commitment__agreement__time_zone",
    )
    behind = []
    for pk, last, rrule, signed_on, zone in rows:
        if last is not None and last > deadlines.local_today(now, zone):
            continue
        try:
            more = deadlines.next_occurrence(rrule, start=signed_on, after=last)
        except deadlines.RuleError:
            continue  # refused when written; a bad row never stops the others
        if more is not None:
            behind.append(pk)
    if not behind:
        return 0
    made = 0
    with transaction.atomic():
        # Locked: a concurrent sweep waits here, then finds the occurrences made.
        locked = (
            Milestone.objects.select_for_update(of=("self",))
            .filter(pk__in=behind)
            .select_related("commitment__agreement")
            .order_by("pk")
        )
        for s in locked:
            made += len(_extend(s, now=now))
    return made


def _extend(series: Milestone, *, now: dt.datetime) -> list[Milestone]:
    """The occurrences ``series``' rule gives after its last one on or before today
    (from its first, if none) through the first after today, less those it has."""
    agreement = series.commitment.agreement
    today = deadlines.local_today(now, agreement.time_zone)
    have = set(series.occurrences.values_list("original_due_on", flat=True))
    floor = max((d for d in have if d is not None and d <= today), default=None)
    try:
        dates = deadlines.occurrences(
            series.rule_rrule, start=agreement.signed_on, through=today, after=floor
        )
    except deadlines.RuleError:
        return []
    dates = [d for d in dates if d not in have]
    if not dates:
        return []
    keys = _occurrence_keys(series, dates)
    made: list[Milestone] = bulk_create_with_history(
        [
            Milestone(
                commitment_id=series.commitment_id,
                series=series,
                key=keys[d],
                title=_occurrence_title(series, d),
                owner_id=series.owner_id,
                rule_kind=RuleKind.FIXED,
                rule_fixed_date=d,
                due_on=d,
                original_due_on=d,
                overdue_from=deadlines.overdue_at(d, agreement.time_zone),
                updated_at=now,
            )
            for d in dates
        ],
        Milestone,
        default_date=now,
        default_change_reason="occurrence of a recurring obligation",
    )
    # Each party's part of the obligation is its part of every occurrence.
    MilestonePart.objects.bulk_create(
        MilestonePart(milestone=m, party_id=p.party_id, responsible=p.responsible, amount=p.amount)
        for m in made
        for p in series.parts.all()
    )
    return made


def _occurrence_title(series: Milestone, day: dt.date) -> str:
    """ "Quarterly working-level meeting held: 26 January 2026"."""
    suffix = f": {deadlines.date_words(day)}"
    limit = Milestone._meta.get_field("title").max_length or 300
    return Truncator(series.title).chars(limit - len(suffix)) + suffix


def _occurrence_keys(series: Milestone, dates: list[dt.date]) -> dict[dt.date, str]:
    """ "<series key>-2026-01-26", unique in the commitment: a key staff already gave
    another milestone gets a number after it."""
    limit = (Milestone._meta.get_field("key").max_length or 100) - 14
    wanted = {d: f"{series.key[:limit]}-{d.isoformat()}" for d in dates}
    taken = set(
        Milestone.objects.filter(
            commitment_id=series.commitment_id, key__startswith=series.key[:limit]
        ).values_list("key", flat=True)
    )
    keys = {}
    for d, key in wanted.items():
        n = 2
        while key in taken:
            key, n = f"{wanted[d][: limit + 11]}-{n}", n + 1
        keys[d] = key
        taken.add(key)
    return keys


def _series_regenerate(series: Milestone, *, now: dt.datetime) -> None:
    """After a series' rule (or its signature date) changed: its pending occurrences
    ahead of today that the rule no longer gives go (deleted if no one touched them,
    cancelled with a note, through the status service, if someone did); met and past
    occurrences stay as they are; then the rule's dates are made afresh."""
    agreement = series.commitment.agreement
    today = deadlines.local_today(now, agreement.time_zone)
    wanted: set[dt.date] = set()
    if series.is_series:
        with contextlib.suppress(deadlines.RuleError):  # a bad rule gives no date
            wanted = set(
                deadlines.occurrences(
                    series.rule_rrule, start=agreement.signed_on, through=today, after=today
                )
            )
    pending = (
        series.occurrences.filter(original_due_on__gt=today)
        .exclude(status__in=CLOSED_STATUSES)
        .exclude(original_due_on__in=wanted)
    )
    touched = Q(
        Exists(StatusUpdate.objects.filter(milestone=OuterRef("pk")))
        | Exists(LogEntry.objects.filter(milestone=OuterRef("pk")))
    )
    pending.filter(status=Status.NOT_STARTED).exclude(touched).delete()
    for m in pending.select_related("commitment__agreement"):
        services.milestone_set_status(
            milestone=m,
            status=Status.CANCELLED,
            by=None,
            note="The obligation's rule changed: this date is no longer one of its occurrences.",
            now=now,
        )
    if series.is_series and series.status not in CLOSED_STATUSES:
        _extend(series, now=now)
