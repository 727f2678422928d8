"""How the admin writes what it shows: badges, times with their zone named, due dates
with the zone they are dates in, counts in words."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html

from .. import deadlines
from ..deadlines import zone_label
from ..models import Milestone

# Badges are coloured by class (commitments/static/commitments/admin.css): no inline
# style for the content security policy to allow.
BADGE_MEDIA = {"all": ["commitments/admin.css"]}


def count_of(n: int, singular: str, plural: str) -> str:
    """ "1 day", "3 days": the noun agrees with the number (not "day(s)")."""
    return f"{n} {singular if n in (1, -1) else plural}"


def days(n: int) -> str:
    return count_of(n, "day", "days")


def archived_badge() -> str:
    return format_html('<span class="archived-badge">{}</span>', "Archived")


class ArchivedColumn:
    """The "Archived" badge as a column, for lists and inlines."""

    @admin.display(description="archived", ordering="archived_at")
    def archived(self, obj: Any) -> str:
        return archived_badge() if obj.archived_at else ""


def utc_label(moment: dt.datetime | None) -> str:
    return zone_label(moment, "UTC") if moment else "—"


def current_zone_label(moment: dt.datetime | None) -> str:
    """In the zone the page reads in (the agreement's, on a milestone's page)."""
    return zone_label(moment, timezone.get_current_timezone_name()) if moment else "—"


def milestone_badges(obj: Milestone, now: dt.datetime) -> str:
    """The status, a red "overdue N days" beside it (days in the agreement's zone),
    and "Archived"."""
    html: str = format_html(
        '<span class="status-badge status-{}">{}</span>', obj.status, obj.get_status_display()
    )
    if obj.is_overdue_at(now) and obj.due_on is not None:
        left = deadlines.days_remaining(obj.due_on, now=now, time_zone=obj.time_zone())
        html += format_html('<span class="overdue-badge">overdue {}</span>', days(-(left or 0)))
    if obj.archived_at:
        html += archived_badge()
    return format_html("{}", html)


def date_label(day: dt.date | None, obj: Milestone, empty: str = "—") -> str:
    """A due date is a date in the agreement's zone: say which."""
    if day is None:
        return empty
    return f"{day.isoformat()} ({obj.time_zone()})"


def due_label(obj: Milestone) -> str:
    return date_label(obj.due_on, obj, empty="no deadline")
