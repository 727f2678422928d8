"""The deadline sweep: flag what has become overdue, clear what no longer is, and
write the due-soon reminders now due. It writes history rows and events, never alerts:
who hears about them is decided later, by the dispatcher (dispatch.py).

It works from state, never from events: every run asks the database "what is overdue
and not yet flagged?" (the domain's querysets, no copy of the predicate here), so a
run lost while the broker was down is caught up by the next one. Running it twice at
once is harmless: see ``_change``; reminders carry a unique key (milestone, lead time,
due date).

A recurring obligation is judged occurrence by occurrence: each run first makes the
occurrences its rule gives up to the next one ahead (``series.series_extend``, one
query when none is missing), so that a missed occurrence is flagged, once, like any
milestone; the series itself has no due date and is never flagged.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from commitments import deadlines, series
from commitments.models import Agreement, Milestone, StatusUpdate, nothing_archived

from ..models import AlertEvent, AlertKind, Subscription, SweepRun
from . import audience

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepResult:
    flagged: int
    cleared: int
    queued: int  # events written: overdue flags and due-soon reminders
    evaluated_at: dt.datetime


def to_flag(now: dt.datetime) -> QuerySet[Milestone]:
    return Milestone.objects.overdue_at(now).filter(overdue_since__isnull=True)


def to_clear(now: dt.datetime) -> QuerySet[Milestone]:
    return Milestone.objects.not_overdue_at(now).filter(overdue_since__isnull=False)


def run(*, now: dt.datetime | None = None) -> SweepResult:
    """One sweep, judged at ``now`` (the wall clock by default; ``--now`` for
    operators backfilling and for tests)."""
    started = timezone.now()
    now = now or started
    with transaction.atomic():
        series.series_extend(now=now)
        flagged = _change(
            to_flag(now),
            now,
            now,
            StatusUpdate.Kind.OVERDUE_FLAGGED,
            "Deadline passed; flagged overdue by the sweep.",
        )
        cleared = _change(
            to_clear(now),
            None,
            now,
            StatusUpdate.Kind.OVERDUE_CLEARED,
            "No longer overdue (closed, or deadline moved); flag cleared.",
        )
        reminded = remind(now, started)
        SweepRun.objects.create(
            started_at=started,
            evaluated_at=now,
            finished_at=timezone.now(),
            flagged=flagged,
            cleared=cleared,
            queued=flagged + reminded,
        )
    return SweepResult(flagged, cleared, flagged + reminded, now)


# Rows changed per statement: memory stays flat however many milestones change.
CHUNK = 2000


def _change(
    rows: QuerySet[Milestone], flag: dt.datetime | None, now: dt.datetime, kind: str, note: str
) -> int:
    """Set (or clear) the flag on ``rows`` and write one history row for each, a chunk
    at a time, in the caller's transaction. Each chunk is locked as it is read (``SKIP
    LOCKED``): a concurrent sweep takes other rows, and a row it changed no longer
    matches once its transaction commits, so a milestone is flagged, and its history
    row written, exactly once. (SQLite runs one sweep at a time: IMMEDIATE
    transactions, config/settings.py.)"""
    changed, after = 0, 0
    while True:
        # FOR NO KEY UPDATE, the lock PostgreSQL's own UPDATE takes when no key changes:
        # rows written meanwhile that point at the milestone (an editor's history row,
        # a log entry) do not wait for the sweep's commit.
        chunk = list(
            rows.filter(pk__gt=after)
            .select_for_update(skip_locked=True, of=("self",), no_key=True)
            .order_by("pk")
            .values_list("pk", "status", "due_on")[:CHUNK]
        )
        if not chunk:
            return changed
        after = chunk[-1][0]
        StatusUpdate.objects.bulk_create(
            StatusUpdate(
                milestone_id=pk,
                kind=kind,
                from_status=status,
                to_status=status,
                due_on=due_on,
                at=now,
                note=note,
            )
            for pk, status, due_on in chunk
        )
        # updated_at moves so that API validators (ETags) change; version does not,
        # so an editor's open form is not invalidated by the sweep's flag.
        changed += Milestone.objects.filter(pk__in=[pk for pk, _, _ in chunk]).update(
            overdue_since=flag, updated_at=now
        )


def remind(now: dt.datetime, stamp: dt.datetime) -> int:
    """One due-soon event per milestone, lead time and due date, once the lead time is
    reached (in the agreement's time zone): one read of the open, unflagged, unarchived
    milestones that anyone hears about, due within the longest lead time anyone wants;
    each gets an event for every lead time it is within."""
    lead_days, problems = audience.reminder_lead_days()
    _record_problems(problems)
    zones = list(Agreement.objects.order_by().values_list("time_zone", flat=True).distinct())
    today = {zone: deadlines.local_today(now, zone) for zone in zones}
    leads = sorted(lead_days)
    longest = dt.timedelta(days=leads[-1])
    window = Q(pk__in=[])
    for zone, day in today.items():
        window |= Q(
            commitment__agreement__time_zone=zone, due_on__gte=day, due_on__lte=day + longest
        )
    candidates = audience.scope(
        Milestone.objects.open().filter(window, nothing_archived(), overdue_since__isnull=True)
    )
    # Every row has a due date: the window bounds it.
    due: Iterator[tuple[Any, ...]] = candidates.values_list(
        "pk", "due_on", "commitment__agreement__time_zone"
    ).iterator(chunk_size=CHUNK)
    AlertEvent.objects.bulk_create(
        (
            AlertEvent(
                milestone_id=pk,
                kind=AlertKind.due(lead),
                due_on=due_on,
                at=now,
                lead_days=lead,
                created_at=stamp,
            )
            for pk, due_on, zone in due
            for lead in leads
            if (due_on - today[zone]).days <= lead
        ),
        batch_size=CHUNK,
        ignore_conflicts=True,  # written by an earlier sweep (milestone, lead, due date)
    )
    # Ours: a reminder an earlier sweep wrote keeps that sweep's stamp.
    return AlertEvent.objects.filter(created_at=stamp, lead_days__isnull=False).count()


def _record_problems(problems: list[tuple[Q, str]]) -> None:
    """Write each unusable subscription's problem on its row (the admin shows and
    counts them); the sweep goes on without it."""
    for rows, problem in problems:
        log.warning("subscriptions skipped: %s", problem)
        Subscription.objects.filter(rows).exclude(last_error=problem).update(last_error=problem)
