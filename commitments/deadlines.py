"""Deadline arithmetic: the one place that turns a rule into a due date.

Pure functions over dates and time zones; nothing here touches the database, HTTP
or Celery. ``commitments.services`` feeds it the anchors and stores what it returns.

A rule is kept, not only its date: "180 days after signature" and "six months after
signature" give different dates (2026-04-26 and 2026-04-28 from 2025-10-28), and a
rule anchored on another milestone has no date until that milestone completes.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from enum import StrEnum
from typing import overload

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrule, rruleset, rrulestr


class RuleKind(StrEnum):
    NONE = "none"
    FIXED = "fixed"
    DAYS_AFTER = "days_after"
    MONTHS_AFTER = "months_after"
    RECURRING = "recurring"


class Anchor(StrEnum):
    SIGNATURE = "signature"
    MILESTONE = "milestone"


# How people read the rule kinds (forms, filters, the audit trail); the codes are the API's.
RULE_KIND_LABELS = {
    RuleKind.NONE: "No deadline",
    RuleKind.FIXED: "By a fixed date",
    RuleKind.DAYS_AFTER: "N days after signature (or a milestone)",
    RuleKind.MONTHS_AFTER: "N months after signature (or a milestone)",
    RuleKind.RECURRING: "Recurring (a calendar rule)",
}
ANCHOR_LABELS = {
    Anchor.SIGNATURE: "Signature of the agreement",
    Anchor.MILESTONE: "Completion of another milestone",
}


class RuleError(ValueError):
    """A rule that cannot give a date: the message names the bad part."""


@dataclass(frozen=True)
class DeadlineRule:
    kind: RuleKind = RuleKind.NONE
    amount: int | None = None
    anchor: Anchor = Anchor.SIGNATURE
    anchor_milestone_id: int | None = None
    anchor_title: str = ""
    fixed_date: dt.date | None = None
    rrule: str = ""

    def validate(self) -> None:
        if self.kind in (RuleKind.DAYS_AFTER, RuleKind.MONTHS_AFTER):
            if self.amount is None or self.amount < 0:
                raise RuleError(f"a '{self.kind}' rule needs a non-negative amount")
            if self.anchor == Anchor.MILESTONE and self.anchor_milestone_id is None:
                raise RuleError("a rule anchored on a milestone must name that milestone")
        elif self.kind == RuleKind.FIXED:
            if self.fixed_date is None:
                raise RuleError("a fixed-date rule needs its date")
        elif self.kind == RuleKind.RECURRING:
            parse_rrule(self.rrule, dt.date(2000, 1, 1))

    def describe(self) -> str:
        """A sentence for people: "180 days after signature"."""
        anchor = (
            "signature"
            if self.anchor == Anchor.SIGNATURE
            else f"completion of “{self.anchor_title or f'milestone {self.anchor_milestone_id}'}”"
        )
        if self.kind == RuleKind.FIXED and self.fixed_date:
            return f"by {self.fixed_date.isoformat()}"
        if self.kind == RuleKind.DAYS_AFTER:
            unit = "day" if self.amount == 1 else "days"
            return f"{self.amount} {unit} after {anchor}"
        if self.kind == RuleKind.MONTHS_AFTER:
            unit = "month" if self.amount == 1 else "months"
            return f"{self.amount} {unit} after {anchor}"
        if self.kind == RuleKind.RECURRING:
            return f"recurring ({self.rrule}) from signature"
        return "no deadline"

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": str(self.kind),
            "amount": self.amount,
            "anchor": str(self.anchor) if self.kind in _ANCHORED else None,
            "anchor_milestone": self.anchor_milestone_id
            if self.kind in _ANCHORED and self.anchor == Anchor.MILESTONE
            else None,
            "fixed_date": self.fixed_date.isoformat() if self.fixed_date else None,
            "rrule": self.rrule or None,
            "text": self.describe(),
        }


_ANCHORED = (RuleKind.DAYS_AFTER, RuleKind.MONTHS_AFTER)


def parse_rrule(text: str, dtstart: dt.date) -> rrule | rruleset:
    start = dt.datetime.combine(dtstart, dt.time())
    try:
        return rrulestr(text.removeprefix("RRULE:"), dtstart=start)
    except (ValueError, TypeError) as exc:
        raise RuleError(f"'{text}' is not a valid RRULE: {exc}") from None


def add_days(anchor: dt.date, days: int) -> dt.date:
    return anchor + relativedelta(days=days)


def add_months(anchor: dt.date, months: int) -> dt.date:
    """Calendar months; a day missing from the target month clamps to its last day
    (Jan 31 + 1 month = Feb 28, or Feb 29 in a leap year)."""
    return anchor + relativedelta(months=months)


def due_date(
    rule: DeadlineRule,
    *,
    signed_on: dt.date,
    anchor_completed_on: dt.date | None = None,
    last_completed_on: dt.date | None = None,
) -> dt.date | None:
    """The due date a rule gives, or None while it is unknown (no deadline, or the
    anchor milestone has not completed yet)."""
    if rule.kind == RuleKind.NONE:
        return None
    if rule.kind == RuleKind.FIXED:
        return rule.fixed_date
    if rule.kind == RuleKind.RECURRING:
        return next_occurrence(rule.rrule, start=signed_on, after=last_completed_on)
    anchor = signed_on if rule.anchor == Anchor.SIGNATURE else anchor_completed_on
    if anchor is None:
        return None
    assert rule.amount is not None
    if rule.kind == RuleKind.DAYS_AFTER:
        return add_days(anchor, rule.amount)
    return add_months(anchor, rule.amount)


def next_occurrence(text: str, *, start: dt.date, after: dt.date | None) -> dt.date | None:
    """The first occurrence strictly after the last completion (or the first one at
    all, before any completion). None once a finite rule has run out."""
    rule = parse_rrule(text, start)
    if after is None:
        nxt = rule.after(dt.datetime.combine(start, dt.time()), inc=False)
    else:
        nxt = rule.after(dt.datetime.combine(after, dt.time()), inc=False)
    return nxt.date() if nxt else None


@overload
def overdue_at(due_on: dt.date, time_zone: str) -> dt.datetime: ...
@overload
def overdue_at(due_on: None, time_zone: str) -> None: ...
@overload
def overdue_at(due_on: dt.date | None, time_zone: str) -> dt.datetime | None: ...
def overdue_at(due_on: dt.date | None, time_zone: str) -> dt.datetime | None:
    """The UTC instant from which a milestone due on ``due_on`` is overdue: the start
    of the next day in the agreement's time zone (the whole due date has passed)."""
    if due_on is None:
        return None
    tz = zoneinfo.ZoneInfo(time_zone)
    local_midnight = dt.datetime.combine(due_on + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    return local_midnight.astimezone(dt.UTC)


def zone_abbreviation(moment: dt.datetime, time_zone: str) -> str:
    """ "JST"; a zone without a lettered abbreviation gives "UTC+07"."""
    abbr = moment.astimezone(zoneinfo.ZoneInfo(time_zone)).tzname() or time_zone
    return f"UTC{abbr}" if abbr[:1] in "+-" else abbr


def zone_label(moment: dt.datetime, time_zone: str) -> str:
    """Local wall time with its zone named, abbreviation and name:
    "2026-04-27 00:00 JST (Asia/Tokyo)"; a zone without a lettered abbreviation reads
    "2026-04-27 00:00 UTC+07 (Asia/Bangkok)", and UTC just "2026-04-27 00:00 UTC"."""
    local = moment.astimezone(zoneinfo.ZoneInfo(time_zone))
    abbr = zone_abbreviation(moment, time_zone)
    named = "" if time_zone in {abbr, "UTC"} else f" ({time_zone})"
    return f"{local:%Y-%m-%d %H:%M} {abbr}{named}"


def zone_city(time_zone: str) -> str:
    """The place an IANA zone is named after: "Asia/Kuala_Lumpur" -> "Kuala Lumpur"."""
    return time_zone.rsplit("/", 1)[-1].replace("_", " ")


def moment_words(moment: dt.datetime, time_zone: str) -> str:
    """An instant in words, in a zone named twice, by place and by abbreviation:
    "27 April 2026, 00:00 Tokyo time (JST)"."""
    local = moment.astimezone(zoneinfo.ZoneInfo(time_zone))
    abbr = zone_abbreviation(moment, time_zone)
    return f"{local.day} {local:%B %Y, %H:%M} {zone_city(time_zone)} time ({abbr})"


def local_today(now: dt.datetime, time_zone: str) -> dt.date:
    """The calendar date it is at ``now`` in the given time zone."""
    return now.astimezone(zoneinfo.ZoneInfo(time_zone)).date()


def days_remaining(due_on: dt.date | None, *, now: dt.datetime, time_zone: str) -> int | None:
    """Whole days from today (in the agreement's zone) to the due date; negative once
    overdue, 0 on the due date itself."""
    if due_on is None:
        return None
    return (due_on - local_today(now, time_zone)).days


def validate_time_zone(name: str) -> None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise RuleError(f"'{name}' is not an IANA time zone name") from None
