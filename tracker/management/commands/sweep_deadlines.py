from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracker.alerts import dispatch, sweep


def aware_datetime(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"--now {value!r} is not an ISO 8601 date-time (e.g. 2026-04-26T15:00:00+00:00)"
        ) from None
    if moment.tzinfo is None:
        raise CommandError(f"--now {value!r} has no UTC offset; add one, e.g. +00:00 or Z")
    # Every agreement's local day of it, and the reminders' year ahead, must be dates.
    if not 1 < moment.year < 9999:
        raise CommandError(f"--now {value!r} is out of range: give a year from 2 to 9998")
    return moment


class Command(BaseCommand):
    help = (
        "Flag overdue milestones, clear stale flags, write the reminders now due, and "
        "turn new events into alerts (sending is the delivery task's)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--now", help="Judge this moment instead of the clock (ISO 8601)")

    def handle(self, *args: Any, now: str | None, **options: Any) -> None:
        moment = aware_datetime(now) if now else None
        result = sweep.run(now=moment)
        alerts = dispatch.run(now=moment).queued
        self.stdout.write(
            f"Swept at {result.evaluated_at.isoformat()}: flagged {result.flagged}, "
            f"cleared {result.cleared}, {result.queued} event(s); queued {alerts} alert(s)."
        )
