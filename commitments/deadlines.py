"""Deadline arithmetic: the one place that turns a rule into a due date.

Pure functions over dates and time zones; nothing here touches the database, HTTP
or Celery. ``commitments.services`` feeds it the anchors and stores what it returns.

A rule is kept, not only its date: "180 days after signature" and "six months after
signature" give different dates (2026-04-26 and 2026-04-28 from 2025-10-28), and a
rule anchored on another milestone has no date until that milestone completes.

A recurring rule (an RRULE counted from signature) gives no date of its own: it
gives a series of dates, its occurrences (``occurrences``), each of which the
services store as a milestone due on that date. Readers see the rule in words
(``recurrence_sentence``: "every 3 months from 26 January 2026"), never its text.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from enum import StrEnum
from typing import overload

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrule, rruleset, rrulestr
from django.utils.translation import get_language
from django.utils.translation import gettext as _


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


# A deadline at most a century after its anchor, and none in the calendar's last year:
# further on, its overdue moment (the next day's start, in every zone) is no date.
MAX_AMOUNT = {RuleKind.DAYS_AFTER: 36_525, RuleKind.MONTHS_AFTER: 1_200}
LAST_YEAR = dt.date(9999, 1, 1)


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
            if self.amount > MAX_AMOUNT[self.kind]:
                raise RuleError(
                    f"{self.amount} is more than a century: a '{self.kind}' rule counts at "
                    f"most {MAX_AMOUNT[self.kind]}"
                )
            if self.anchor == Anchor.MILESTONE and self.anchor_milestone_id is None:
                raise RuleError("a rule anchored on a milestone must name that milestone")
        elif self.kind == RuleKind.FIXED:
            if self.fixed_date is None:
                raise RuleError("a fixed-date rule needs its date")
            if self.fixed_date >= LAST_YEAR:
                raise RuleError(
                    f"{self.fixed_date} is past the calendar's end: give a date before {LAST_YEAR}"
                )
        elif self.kind == RuleKind.RECURRING:
            parse_rrule(self.rrule, dt.date(2000, 1, 1))
            freq = rule_parts(self.rrule).get("FREQ")
            if freq not in _UNITS:
                raise RuleError(
                    f"'{self.rrule}' recurs {str(freq).lower()}: a deadline recurs by day, "
                    "week, month or year (FREQ=DAILY, WEEKLY, MONTHLY or YEARLY)"
                )

    def describe(self) -> str:
        """A sentence for people: "180 days after signature" (署名から180日後)."""
        if reads_japanese():
            return self._describe_ja()
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
            parts = rule_parts(self.rrule)
            ends = ", for a set number of times" if "COUNT" in parts or "UNTIL" in parts else ""
            return f"{recurrence_words(self.rrule)}, counted from signature{ends}"
        return "no deadline"

    def _describe_ja(self) -> str:
        anchor = (
            "署名"
            if self.anchor == Anchor.SIGNATURE
            else f"「{self.anchor_title or f'マイルストーン{self.anchor_milestone_id}'}」の完了"
        )
        if self.kind == RuleKind.FIXED and self.fixed_date:
            return f"{date_words(self.fixed_date)}まで"
        if self.kind == RuleKind.DAYS_AFTER:
            return f"{anchor}から{self.amount}日後"
        if self.kind == RuleKind.MONTHS_AFTER:
            return f"{anchor}から{self.amount}か月後"
        if self.kind == RuleKind.RECURRING:
            parts = rule_parts(self.rrule)
            ends = "、回数を限って" if "COUNT" in parts or "UNTIL" in parts else ""
            return f"署名から数えて{recurrence_words(self.rrule)}{ends}"
        return "期限なし"

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
) -> dt.date | None:
    """The due date a rule gives, or None while it is unknown (no deadline, or the
    anchor milestone has not completed yet). A recurring rule has none of its own:
    each of its ``occurrences`` is due on its date."""
    if rule.kind in (RuleKind.NONE, RuleKind.RECURRING):
        return None
    if rule.kind == RuleKind.FIXED:
        return rule.fixed_date
    anchor = signed_on if rule.anchor == Anchor.SIGNATURE else anchor_completed_on
    if anchor is None:
        return None
    assert rule.amount is not None
    if rule.kind == RuleKind.DAYS_AFTER:
        return add_days(anchor, rule.amount)
    return add_months(anchor, rule.amount)


def next_occurrence(text: str, *, start: dt.date, after: dt.date | None) -> dt.date | None:
    """The first occurrence strictly after ``after`` (or the first one at all: the
    rule counts from ``start``, which is not itself an occurrence). None once a
    finite rule has run out."""
    rule = parse_rrule(text, start)
    nxt = rule.after(dt.datetime.combine(after or start, dt.time()), inc=False)
    return nxt.date() if nxt else None


# However long ago a series began, one call makes at most this many occurrences (a
# daily rule over 27 years); the next call goes on from the last one.
MAX_OCCURRENCES = 10_000


def occurrences(
    text: str, *, start: dt.date, through: dt.date, after: dt.date | None = None
) -> list[dt.date]:
    """The rule's dates strictly after ``after`` (or from the first one: the rule
    counts from ``start``, which is not itself an occurrence), up to and including
    the first date after ``through``, so that the next one ahead is always known.
    Fewer once a finite rule (COUNT, UNTIL) has run out."""
    rule = parse_rrule(text, start)
    found: list[dt.date] = []
    for when in rule.xafter(dt.datetime.combine(after or start, dt.time()), inc=False):
        found.append(when.date())
        if found[-1] > through or len(found) >= MAX_OCCURRENCES:
            break
    return found


_UNITS = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}
_WEEKDAYS = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}
_MONTHS = [dt.date(2000, n, 1).strftime("%B") for n in range(1, 13)]
# The parts a rule may have and still be said in words; others are said generally.
_WORDED = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "WKST"}


def rule_parts(text: str) -> dict[str, str]:
    """``FREQ=MONTHLY;INTERVAL=3`` as ``{"FREQ": "MONTHLY", "INTERVAL": "3"}`` (the
    text as RFC 5545 writes it; ``parse_rrule`` says whether it is valid)."""
    body = text.strip().removeprefix("RRULE:")
    pairs = (part.partition("=") for part in body.split(";") if part)
    return {name.strip().upper(): value.strip().upper() for name, _, value in pairs}


def reads_japanese() -> bool:
    """Whether the reader reads Japanese (the public site under /ja/; a Japanese
    subscriber's email). English is the default everywhere else: the API, the admin,
    workers and commands with no language activated."""
    return (get_language() or "en").split("-")[0] == "ja"


def date_words(day: dt.date) -> str:
    """ "26 January 2026"; in Japanese "2026年1月26日"."""
    if reads_japanese():
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {day:%B %Y}"


def day_text(day: dt.date | None) -> str:
    """A date as pages write it: 2026-04-26 in English, 2026年4月26日 in Japanese."""
    if day is None:
        return ""
    return date_words(day) if reads_japanese() else day.isoformat()


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _weekday(code: str) -> str:
    """ "MO" -> "Monday"; "1MO" -> "the first Monday"; "-1FR" -> "the last Friday"."""
    day = _WEEKDAYS[code[-2:]]
    n = int(code[:-2]) if code[:-2] else 0
    if not n:
        return day
    return f"the {_ORDINALS.get(n, f'{n}th')} {day}"


def _month_day(value: str) -> str:
    n = int(value)
    if n == -1:
        return "the last day"
    if n < 0:
        return f"{-n} days before the month ends"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"the {n}{suffix}"


def recurrence_words(text: str) -> str:
    """How often, in words: "every 3 months", "every week on Monday and Thursday",
    "every month on the last day", "every year in January and July". A rule with
    parts that words would misstate reads "on the dates of a calendar rule". An end
    (COUNT, UNTIL) is not said here: ``recurrence_sentence`` says it in dates."""
    parts = rule_parts(text)
    if reads_japanese():
        return _recurrence_words_ja(parts)
    unit = _UNITS.get(parts.get("FREQ", ""))
    if unit is None or set(parts) - _WORDED:
        return "on the dates of a calendar rule"
    try:
        interval = int(parts.get("INTERVAL", "1"))
        words = f"every {unit}" if interval == 1 else f"every {interval} {unit}s"
        if "BYMONTH" in parts:
            words += " in " + _and([_MONTHS[int(m) - 1] for m in parts["BYMONTH"].split(",")])
        if "BYMONTHDAY" in parts:
            words += " on " + _and([_month_day(d) for d in parts["BYMONTHDAY"].split(",")])
        if "BYDAY" in parts:
            words += " on " + _and([_weekday(d) for d in parts["BYDAY"].split(",")])
    except (KeyError, IndexError, ValueError):
        return "on the dates of a calendar rule"
    return words


_UNITS_JA = {"DAILY": "日", "WEEKLY": "週", "MONTHLY": "か月", "YEARLY": "年"}
_WEEKDAYS_JA = dict(zip(("MO", "TU", "WE", "TH", "FR", "SA", "SU"), "月火水木金土日", strict=True))


def _recurrence_words_ja(parts: dict[str, str]) -> str:
    """ "3か月ごと", "毎週月曜日と木曜日", "毎年1月と7月"; anything else said generally."""
    unit = _UNITS_JA.get(parts.get("FREQ", ""))
    simple = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST", "BYMONTH", "BYDAY"}
    if unit is None or set(parts) - simple:
        return "暦の規則で定める日ごと"
    try:
        interval = int(parts.get("INTERVAL", "1"))
        words = f"毎{unit.removeprefix('か')}" if interval == 1 else f"{interval}{unit}ごと"
        sep = "" if interval == 1 else "の"
        if "BYMONTH" in parts:
            words += sep + "と".join(f"{int(m)}月" for m in parts["BYMONTH"].split(","))
        if "BYDAY" in parts:
            days = parts["BYDAY"].split(",")
            if any(d[:-2] for d in days):
                return "暦の規則で定める日ごと"
            words += sep + "と".join(f"{_WEEKDAYS_JA[d]}曜日" for d in days)
    except (KeyError, ValueError):
        return "暦の規則で定める日ごと"
    return words


def recurrence_sentence(text: str, *, start: dt.date) -> str:
    """The rule in words with its dates: "every 3 months from 26 January 2026"; a
    rule that ends says so in dates ("…, 4 times, the last on 26 October 2026"). The
    rule counts from ``start`` (the signature), which is not itself an occurrence. In
    the reader's language ("2026年1月26日から3か月ごと")."""
    words = recurrence_words(text)
    parts = rule_parts(text)
    if "COUNT" not in parts and "UNTIL" not in parts:
        first = next_occurrence(text, start=start, after=None)
        if first is None:
            return _("%(words)s (no date)") % {"words": words}
        return _("%(words)s from %(first)s") % {"words": words, "first": date_words(first)}
    dates = occurrences(text, start=start, through=dt.date.max - dt.timedelta(days=1))
    if not dates:
        return _("%(words)s (the rule gives no date after %(start)s)") % {
            "words": words,
            "start": date_words(start),
        }
    if len(dates) == 1:
        return _("once, on %(day)s") % {"day": date_words(dates[0])}
    return _("%(words)s from %(first)s, %(n)s times, the last on %(last)s") % {
        "words": words,
        "first": date_words(dates[0]),
        "n": len(dates),
        "last": date_words(dates[-1]),
    }


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
    "2026-04-27 00:00 UTC+07 (Asia/Bangkok)", and UTC just "2026-04-27 00:00 UTC".
    In Japanese, as ``moment_words``: "2026年4月27日 0:00 日本時間"."""
    if reads_japanese():
        return moment_words(moment, time_zone)
    local = moment.astimezone(zoneinfo.ZoneInfo(time_zone))
    abbr = zone_abbreviation(moment, time_zone)
    named = "" if time_zone in {abbr, "UTC"} else f" ({time_zone})"
    return f"{local:%Y-%m-%d %H:%M} {abbr}{named}"


def zone_city(time_zone: str) -> str:
    """The place an IANA zone is named after: "Asia/Kuala_Lumpur" -> "Kuala Lumpur"."""
    return time_zone.rsplit("/", 1)[-1].replace("_", " ")


# Zones as a Japanese reader names them; others read "<city>時間" (e.g. "Bangkok時間"
# would read oddly, so every zone the record uses is named here).
ZONE_NAMES_JA = {
    "Asia/Tokyo": "日本時間",
    "America/New_York": "米国東部時間",
    "America/Chicago": "米国中部時間",
    "America/Denver": "米国山岳部時間",
    "America/Los_Angeles": "米国太平洋時間",
    "Asia/Kuala_Lumpur": "マレーシア時間",
    "Asia/Bangkok": "タイ時間",
    "Asia/Seoul": "韓国時間",
    "Asia/Shanghai": "中国時間",
    "Asia/Jakarta": "インドネシア西部時間",
    "Asia/Manila": "フィリピン時間",
    "Asia/Singapore": "シンガポール時間",
    "Asia/Kolkata": "インド時間",
    "Asia/Ho_Chi_Minh": "ベトナム時間",
    "Australia/Sydney": "オーストラリア東部時間",
    "Australia/Canberra": "オーストラリア東部時間",
    "Australia/Perth": "オーストラリア西部時間",
    "Europe/London": "英国時間",
    "Europe/Brussels": "中央ヨーロッパ時間",
    "Europe/Berlin": "中央ヨーロッパ時間",
    "Europe/Paris": "中央ヨーロッパ時間",
    "America/Toronto": "カナダ東部時間",
    "UTC": "協定世界時（UTC）",
}


def zone_name_ja(time_zone: str) -> str:
    return ZONE_NAMES_JA.get(time_zone) or f"{zone_city(time_zone)}時間"


def zone_name(time_zone: str) -> str:
    """A zone as the reader names it: its IANA name in English ("Asia/Tokyo"), its
    Japanese name in Japanese ("日本時間")."""
    return zone_name_ja(time_zone) if reads_japanese() else time_zone


def moment_words(moment: dt.datetime, time_zone: str) -> str:
    """An instant in words, in a zone named twice, by place and by abbreviation:
    "27 April 2026, 00:00 Tokyo time (JST)"; in Japanese, the zone by its Japanese
    name: "2026年4月27日 0:00 日本時間" (the one place zones are named for readers)."""
    local = moment.astimezone(zoneinfo.ZoneInfo(time_zone))
    if reads_japanese():
        return f"{date_words(local.date())} {local.hour}:{local:%M} {zone_name_ja(time_zone)}"
    abbr = zone_abbreviation(moment, time_zone)
    return f"{local.day} {local:%B %Y, %H:%M} {zone_city(time_zone)} time ({abbr})"


def local_today(now: dt.datetime, time_zone: str) -> dt.date:
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
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: name too long
        raise RuleError(f"'{name[:80]}' is not an IANA time zone name") from None
