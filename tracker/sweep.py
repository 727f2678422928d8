"""The deadline sweep: flag what has become overdue, clear what no longer is, and
write the alerts that are now due.

It works from state, never from events: every run asks the database "what is overdue
and not yet flagged?", so a run lost while the broker was down is caught up by the
next one. Running it twice at once is harmless by construction:

- PostgreSQL: each pass is one statement, an UPDATE … RETURNING inside a CTE that
  also inserts the history rows. A concurrent sweep blocks on the row locks, then
  re-checks its WHERE clause against the committed row and skips it, so a milestone
  is flagged, and its event written, exactly once.
- SQLite: transactions are IMMEDIATE (config/settings.py), so sweeps run one after
  the other; the history rows are inserted for the rows still to change, then the
  rows are changed, in one transaction.
- Alerts carry a unique key and are written with ``ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from commitments.models import Milestone, StatusUpdate

from . import alerts
from .models import SweepRun

CLOSED_SQL = "('completed', 'cancelled')"
TO_FLAG = f"overdue_since IS NULL AND overdue_from <= %(now)s AND status NOT IN {CLOSED_SQL}"
TO_CLEAR = (
    f"overdue_since IS NOT NULL AND (status IN {CLOSED_SQL} "
    "OR overdue_from IS NULL OR overdue_from > %(now)s)"
)
EVENT_COLUMNS = (
    "milestone_id, kind, at, from_status, to_status, note, evidence_url, due_on, "
    "party_id, by_id, completed_on"
)


@dataclass(frozen=True)
class SweepResult:
    flagged: int
    cleared: int
    queued: int
    evaluated_at: dt.datetime


def run(*, now: dt.datetime | None = None) -> SweepResult:
    """One sweep, judged at ``now`` (the wall clock by default; ``--now`` for
    operators backfilling and for tests)."""
    started = timezone.now()
    now = now or started
    with transaction.atomic():
        flagged = _change(
            TO_FLAG,
            "overdue_since = %(now)s",
            StatusUpdate.Kind.OVERDUE_FLAGGED,
            "Deadline passed; flagged overdue by the sweep.",
            now,
        )
        cleared = _change(
            TO_CLEAR,
            "overdue_since = NULL",
            StatusUpdate.Kind.OVERDUE_CLEARED,
            "No longer overdue (closed, or deadline moved); flag cleared.",
            now,
        )
        audience = alerts.Audience()
        queued = alerts.queue_overdue(
            Milestone.objects.filter(overdue_since=now), started, audience
        )
        queued += alerts.queue_due_soon(now, started, audience)
        SweepRun.objects.create(
            started_at=started,
            evaluated_at=now,
            finished_at=timezone.now(),
            flagged=flagged,
            cleared=cleared,
            queued=queued,
        )
    return SweepResult(flagged, cleared, queued, now)


def _change(where: str, assignment: str, kind: str, note: str, now: dt.datetime) -> int:
    """Set or clear the flag on every row matching ``where`` and write one history row
    for each, in the database: no milestone is loaded into Python."""
    table = Milestone._meta.db_table
    events = StatusUpdate._meta.db_table
    params = {"now": connection.ops.adapt_datetimefield_value(now), "kind": kind, "note": note}
    # updated_at moves so that API validators (ETags) change; version does not, so an
    # editor's open form is not invalidated by the sweep's flag.
    update = f"UPDATE {table} SET {assignment}, updated_at = %(now)s WHERE {where}"
    select = (
        "SELECT id, %(kind)s, %(now)s, status, status, %(note)s, '', due_on, "
        "NULL, NULL, NULL FROM {src}"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH changed AS ({update} RETURNING id, status, due_on) "
                f"INSERT INTO {events} ({EVENT_COLUMNS}) {select.format(src='changed')}",
                params,
            )
            return cursor.rowcount
        cursor.execute(
            f"INSERT INTO {events} ({EVENT_COLUMNS}) {select.format(src=table)} WHERE {where}",
            params,
        )
        cursor.execute(update, params)
        return cursor.rowcount
