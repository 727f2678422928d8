"""The deadline sweep: flag what has become overdue, clear what no longer is, and
write the due-soon reminders now due. It writes events, never alerts: who hears
about them is decided later, by the dispatcher (tracker/dispatch.py).

It works from state, never from events: every run asks the database "what is overdue
and not yet flagged?", so a run lost while the broker was down is caught up by the
next one. Running it twice at once is harmless by construction:

- PostgreSQL: each pass is one statement, an UPDATE … RETURNING inside a CTE that
  also inserts the history rows. A concurrent sweep blocks on the row locks, then
  re-checks its WHERE clause against the committed row and skips it, so a milestone
  is flagged, and its history row written, exactly once.
- SQLite: transactions are IMMEDIATE (config/settings.py), so sweeps run one after
  the other; the history rows are inserted for the rows still to change, then the
  rows are changed, in one transaction.
- Reminders carry a unique key (milestone, lead time, due date) and are written with
  ``ON CONFLICT DO NOTHING``.

The predicates are the domain's querysets (``Milestone.objects.overdue_at``…), turned
into SQL by the ORM; no copy of them is kept here.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet, Value
from django.utils import timezone

from commitments import deadlines
from commitments.models import Agreement, Milestone, StatusUpdate

from .audience import Audience
from ..models import AlertKind, Event, Subscription, SweepRun
from .sql import insert_select, where_sql

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


def _history(columns: dict[str, str], values: dict[str, Any]) -> tuple[str, str, list[Any]]:
    """The history table's columns, and a select list giving each the column of the
    changed milestone named in ``columns``, the parameter in ``values``, or its model
    default (by field name): the history table's shape is read from its model."""
    names, select, params = [], [], []
    for f in StatusUpdate._meta.concrete_fields:
        if f.primary_key:
            continue
        names.append(connection.ops.quote_name(f.column))
        if f.name in columns:
            select.append(columns[f.name])
            continue
        select.append("%s")
        value = values[f.name] if f.name in values else f.get_default()
        params.append(f.get_db_prep_save(value, connection))
    return ", ".join(names), ", ".join(select), params


def _change(
    rows: QuerySet[Milestone], flag: dt.datetime | None, now: dt.datetime, kind: str, note: str
) -> int:
    """Set (or clear) the flag on ``rows`` and write one history row for each, in the
    database: no milestone is loaded into Python."""
    table = Milestone._meta.db_table
    events = StatusUpdate._meta.db_table
    where, where_params = where_sql(rows)
    at = connection.ops.adapt_datetimefield_value(now)
    # updated_at moves so that API validators (ETags) change; version does not, so an
    # editor's open form is not invalidated by the sweep's flag.
    update = f"UPDATE {table} SET overdue_since = %s, updated_at = %s WHERE {where}"
    update_params = [connection.ops.adapt_datetimefield_value(flag), at, *where_params]
    columns, select, select_params = _history(
        {"milestone": "id", "from_status": "status", "to_status": "status", "due_on": "due_on"},
        {"kind": kind, "at": now, "note": note},
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH changed AS ({update} RETURNING id, status, due_on) "
                f"INSERT INTO {events} ({columns}) SELECT {select} FROM changed",
                [*update_params, *select_params],
            )
            return int(cursor.rowcount)
        # The SELECT reads the same table: unqualified columns are the milestone's.
        cursor.execute(
            f"INSERT INTO {events} ({columns}) SELECT {select} FROM {table} WHERE {where}",
            [*select_params, *where_params],
        )
        cursor.execute(update, update_params)
        return int(cursor.rowcount)


def remind(now: dt.datetime, stamp: dt.datetime) -> int:
    """One due-soon event per milestone, lead time and due date, once the lead time is
    reached (in the agreement's time zone): for each lead time anyone wants, the open,
    unflagged, unarchived milestones due within it that anyone hears about."""
    audience = Audience.load()
    _record_problems(audience)
    zones = list(Agreement.objects.values_list("time_zone", flat=True).distinct())
    today = {zone: deadlines.local_today(now, zone) for zone in zones}
    candidates = audience.scope(
        Milestone.objects.open().filter(
            overdue_since__isnull=True,
            archived_at__isnull=True,
            commitment__archived_at__isnull=True,
            commitment__agreement__archived_at__isnull=True,
        )
    )
    written = 0
    for lead in sorted(audience.lead_days()):
        window = Q(pk__in=[])
        for zone, day in today.items():
            window |= Q(
                commitment__agreement__time_zone=zone,
                due_on__gte=day,
                due_on__lte=day + dt.timedelta(days=lead),
            )
        written += insert_select(
            Event,
            candidates.filter(window),
            milestone=F("pk"),
            kind=Value(AlertKind.due(lead)),
            due_on=F("due_on"),
            at=now,
            lead_days=lead,
            created_at=stamp,
        )
    return written


def _record_problems(audience: Audience) -> None:
    """Write each unusable subscription's problem on its row (the admin shows and
    counts them); the sweep goes on without it."""
    for pk, problem in audience.problems.items():
        log.warning("subscription %s skipped: %s", pk, problem)
        Subscription.objects.filter(pk=pk).exclude(last_error=problem).update(last_error=problem)
