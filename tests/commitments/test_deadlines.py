from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commitments import deadlines
from commitments.deadlines import Anchor, DeadlineRule, RuleError, RuleKind

SIGNED = dt.date(2025, 10, 28)
dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2090, 12, 31))
zones = st.sampled_from(
    [
        "Asia/Tokyo",
        "America/New_York",
        "Europe/London",
        "UTC",
        "Australia/Lord_Howe",
        "Pacific/Kiritimati",
        "America/St_Johns",
    ]
)


def test_180_days_after_the_us_japan_signature_is_2026_04_26():
    rule = DeadlineRule(kind=RuleKind.DAYS_AFTER, amount=180)
    assert deadlines.due_date(rule, signed_on=SIGNED) == dt.date(2026, 4, 26)


def test_six_months_after_the_us_japan_signature_is_2026_04_28():
    rule = DeadlineRule(kind=RuleKind.MONTHS_AFTER, amount=6)
    assert deadlines.due_date(rule, signed_on=SIGNED) == dt.date(2026, 4, 28)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (dt.date(2025, 1, 31), 1, dt.date(2025, 2, 28)),
        (dt.date(2024, 1, 31), 1, dt.date(2024, 2, 29)),
        (dt.date(2024, 2, 29), 12, dt.date(2025, 2, 28)),
        (dt.date(2025, 8, 31), 6, dt.date(2026, 2, 28)),
        (dt.date(2025, 3, 31), 1, dt.date(2025, 4, 30)),
    ],
)
def test_month_ends_clamp_to_the_last_day(start, months, expected):
    assert deadlines.add_months(start, months) == expected


@given(start=dates, days=st.integers(min_value=0, max_value=3650))
def test_days_after_is_exact_day_arithmetic(start, days):
    assert deadlines.add_days(start, days) == start + dt.timedelta(days=days)


@given(start=dates, months=st.integers(min_value=0, max_value=240))
def test_months_after_keeps_the_day_or_clamps_to_month_end(start, months):
    due = deadlines.add_months(start, months)
    assert (due.year * 12 + due.month) - (start.year * 12 + start.month) == months
    last_day = calendar.monthrange(due.year, due.month)[1]
    assert due.day == min(start.day, last_day)


@given(start=dates, months=st.integers(min_value=0, max_value=240))
def test_months_after_never_goes_backwards(start, months):
    assert deadlines.add_months(start, months) >= start


@given(due=dates, zone=zones)
def test_overdue_starts_at_local_midnight_after_the_due_date(due, zone):
    moment = deadlines.overdue_at(due, zone)
    assert moment is not None and moment.tzinfo is not None
    local = moment.astimezone(zoneinfo.ZoneInfo(zone))
    assert local.date() == due + dt.timedelta(days=1)
    # The instant just before is still on the due date, there.
    just_before = (moment - dt.timedelta(microseconds=1)).astimezone(zoneinfo.ZoneInfo(zone))
    assert just_before.date() <= due


def test_the_ministerial_is_overdue_from_2026_04_26_15_00_utc():
    assert deadlines.overdue_at(dt.date(2026, 4, 26), "Asia/Tokyo") == dt.datetime(
        2026, 4, 26, 15, 0, tzinfo=dt.UTC
    )


def test_a_rule_on_an_unfinished_milestone_has_no_date_yet():
    rule = DeadlineRule(
        kind=RuleKind.DAYS_AFTER, amount=30, anchor=Anchor.MILESTONE, anchor_milestone_id=7
    )
    assert deadlines.due_date(rule, signed_on=SIGNED, anchor_completed_on=None) is None
    assert deadlines.due_date(
        rule, signed_on=SIGNED, anchor_completed_on=dt.date(2026, 1, 31)
    ) == dt.date(2026, 3, 2)


def test_no_deadline_and_fixed_date():
    assert deadlines.due_date(DeadlineRule(), signed_on=SIGNED) is None
    fixed = DeadlineRule(kind=RuleKind.FIXED, fixed_date=dt.date(2026, 7, 1))
    assert deadlines.due_date(fixed, signed_on=SIGNED) == dt.date(2026, 7, 1)


def test_a_recurring_rule_has_no_date_of_its_own_its_occurrences_do():
    rule = DeadlineRule(kind=RuleKind.RECURRING, rrule="FREQ=MONTHLY;INTERVAL=3")
    assert deadlines.due_date(rule, signed_on=SIGNED) is None
    found = deadlines.occurrences(rule.rrule, start=SIGNED, through=dt.date(2026, 12, 7))
    # Every date up to today, and the next one ahead; the signature is not one.
    assert found == [
        dt.date(2026, 1, 28),
        dt.date(2026, 4, 28),
        dt.date(2026, 7, 28),
        dt.date(2026, 10, 28),
        dt.date(2027, 1, 28),
    ]
    after = deadlines.occurrences(
        rule.rrule, start=SIGNED, through=dt.date(2026, 12, 7), after=dt.date(2026, 10, 28)
    )
    assert after == [dt.date(2027, 1, 28)]


def test_a_finite_rule_runs_out():
    rule = "FREQ=MONTHLY;INTERVAL=3;UNTIL=20260801"
    assert deadlines.occurrences(rule, start=SIGNED, through=dt.date(2027, 1, 1)) == [
        dt.date(2026, 1, 28),
        dt.date(2026, 4, 28),
        dt.date(2026, 7, 28),
    ]


@pytest.mark.parametrize(
    ("rrule", "words"),
    [
        ("FREQ=MONTHLY;INTERVAL=3", "every 3 months from 26 January 2026"),
        ("RRULE:FREQ=MONTHLY;INTERVAL=3", "every 3 months from 26 January 2026"),
        ("FREQ=YEARLY", "every year from 26 October 2026"),
        ("FREQ=WEEKLY;BYDAY=MO,TH", "every week on Monday and Thursday from 27 October 2025"),
        ("FREQ=MONTHLY;BYMONTHDAY=-1", "every month on the last day from 31 October 2025"),
        ("FREQ=MONTHLY;BYDAY=1MO", "every month on the first Monday from 3 November 2025"),
        ("FREQ=YEARLY;BYMONTH=1,7", "every year in January and July from 26 January 2026"),
        (
            "FREQ=MONTHLY;INTERVAL=3;UNTIL=20261231",
            "every 3 months from 26 January 2026, 4 times, the last on 26 October 2026",
        ),
        (
            "FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO,TU",
            "on the dates of a calendar rule from 28 October 2025",
        ),
    ],
)
def test_a_recurring_rule_reads_as_words_never_as_its_text(rrule, words):
    # Malaysia's memorandum was signed on 2025-10-26.
    assert deadlines.recurrence_sentence(rrule, start=dt.date(2025, 10, 26)) == words
    assert "FREQ" not in DeadlineRule(kind=RuleKind.RECURRING, rrule=rrule).describe()


def test_a_deadline_recurs_by_day_at_the_finest():
    with pytest.raises(RuleError, match="recurs hourly"):
        DeadlineRule(kind=RuleKind.RECURRING, rrule="FREQ=HOURLY").validate()


@given(done=st.dates(min_value=SIGNED, max_value=dt.date(2040, 1, 1)))
def test_recurring_next_date_is_always_after_the_completion(done):
    nxt = deadlines.next_occurrence("FREQ=MONTHLY;BYMONTHDAY=-1", start=SIGNED, after=done)
    assert nxt is not None and nxt > done
    assert (nxt + dt.timedelta(days=1)).day == 1  # the last day of a month


@pytest.mark.parametrize(
    "rule",
    [
        DeadlineRule(kind=RuleKind.DAYS_AFTER),
        DeadlineRule(kind=RuleKind.MONTHS_AFTER, amount=-1),
        DeadlineRule(kind=RuleKind.FIXED),
        DeadlineRule(kind=RuleKind.RECURRING, rrule="FREQ=SOMETIMES"),
        DeadlineRule(kind=RuleKind.DAYS_AFTER, amount=3, anchor=Anchor.MILESTONE),
    ],
)
def test_incomplete_rules_are_refused(rule):
    with pytest.raises(RuleError):
        rule.validate()


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        (DeadlineRule(kind=RuleKind.DAYS_AFTER, amount=180), "180 days after signature"),
        (DeadlineRule(kind=RuleKind.MONTHS_AFTER, amount=6), "6 months after signature"),
        (
            DeadlineRule(
                kind=RuleKind.DAYS_AFTER,
                amount=30,
                anchor=Anchor.MILESTONE,
                anchor_milestone_id=3,
                anchor_title="Ministerial",
            ),
            "30 days after completion of “Ministerial”",
        ),
        (
            DeadlineRule(kind=RuleKind.RECURRING, rrule="FREQ=MONTHLY;INTERVAL=3"),
            "every 3 months, counted from signature",
        ),
        (DeadlineRule(), "no deadline"),
    ],
)
def test_rules_read_as_sentences(rule, text):
    assert rule.describe() == text
    assert rule.as_dict()["text"] == text


def test_days_remaining_counts_in_the_agreement_zone():
    due = dt.date(2026, 4, 26)
    # 2026-04-26 16:00 UTC is already 2026-04-27 in Tokyo: one day overdue there.
    now = dt.datetime(2026, 4, 26, 16, 0, tzinfo=dt.UTC)
    assert deadlines.days_remaining(due, now=now, time_zone="Asia/Tokyo") == -1
    assert deadlines.days_remaining(due, now=now, time_zone="America/New_York") == 0
