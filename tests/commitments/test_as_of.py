"""The "as of" selector against history built step by step: for each past day, the
state it rebuilds equals the state the services (and the sweep) had produced by the
end of that day, snapshotted then from the rows themselves."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine

from commitments.deadlines import DeadlineRule, RuleKind
from commitments.models import Assessment, Milestone, Status
from commitments.selectors import (
    assessment_as_of,
    end_of_day,
    milestone_state_now,
    milestone_states_as_of,
    progress_from_states,
)
from commitments.series import series_extend
from commitments.services import milestone_revise_deadline, milestone_set_status
from tests.factories import AgreementFactory, CommitmentFactory, MilestoneFactory, add_parts
from tracker.alerts import sweep

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
EVIDENCE = "https://example.org/evidence"
FIRST, LAST = dt.date(2025, 10, 28), dt.date(2026, 7, 10)


def at_local(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=TOKYO)


def load(ids: list[int]) -> list[Milestone]:
    return list(
        Milestone.objects.filter(pk__in=ids)
        .select_related("commitment__agreement", "rule_anchor_milestone")
        .prefetch_related("parts")
        .order_by("pk")
    )


@pytest.fixture
def record(db):
    agreement = AgreementFactory(signed_on=FIRST, time_zone="Asia/Tokyo")
    c = CommitmentFactory(agreement=agreement)
    ms = {
        "ministerial": MilestoneFactory(commitment=c, rule_kind="days_after", rule_amount=180),
        "recurring": MilestoneFactory(
            commitment=c,
            rule_kind="recurring",
            rule_amount=None,
            rule_rrule="FREQ=MONTHLY;INTERVAL=3",
        ),
        "fixed": MilestoneFactory(
            commitment=c, rule_kind="fixed", rule_amount=None, rule_fixed_date=dt.date(2026, 1, 15)
        ),
        "undated": MilestoneFactory(commitment=c, rule_kind="none", rule_amount=None),
    }
    ms["follow_up"] = MilestoneFactory(
        commitment=c,
        rule_kind="days_after",
        rule_amount=30,
        rule_anchor="milestone",
        rule_anchor_milestone=ms["ministerial"],
    )
    add_parts(ms["fixed"], "US", "JP")
    return ms


def script(ms: dict[str, Milestone]) -> dict[dt.date, list]:
    """What staff do, by local day (each at 10:00 Tokyo)."""
    us = ms["fixed"].parts.get(party__code="US").party
    jp = ms["fixed"].parts.get(party__code="JP").party

    def status(key: str, status: str, **kw):
        def act():
            m = Milestone.objects.get(pk=ms[key].pk)
            milestone_set_status(milestone=m, status=status, by=None, **kw)

        return act

    def done(key: str, on: dt.date, **kw):
        return status(key, Status.COMPLETED, evidence_url=EVIDENCE, completed_on=on, **kw)

    def meeting_held(on: dt.date):
        """The recurring obligation's first occurrence (2026-01-28), met late."""

        def act():
            first = Milestone.objects.get(series=ms["recurring"], due_on=dt.date(2026, 1, 28))
            milestone_set_status(
                milestone=first,
                status=Status.COMPLETED,
                by=None,
                evidence_url=EVIDENCE,
                completed_on=on,
            )

        return act

    def revise():
        m = Milestone.objects.get(pk=ms["ministerial"].pk)
        milestone_revise_deadline(
            milestone=m,
            rule=DeadlineRule(kind=RuleKind.FIXED, fixed_date=dt.date(2026, 5, 15)),
            reason="Postponed by the parties",
            source="https://example.org/postponed",
            by=None,
        )

    return {
        dt.date(2025, 11, 5): [status("ministerial", Status.IN_PROGRESS)],
        dt.date(2025, 12, 1): [
            status("fixed", Status.IN_PROGRESS, party=us, note="US started"),
        ],
        dt.date(2026, 1, 10): [done("fixed", dt.date(2026, 1, 9), party=jp)],
        dt.date(2026, 1, 20): [done("fixed", dt.date(2026, 1, 20), party=us)],
        dt.date(2026, 2, 3): [meeting_held(dt.date(2026, 2, 2))],
        dt.date(2026, 3, 1): [revise],
        dt.date(2026, 4, 10): [status("ministerial", Status.AT_RISK, note="No date")],
        dt.date(2026, 5, 20): [done("ministerial", dt.date(2026, 5, 19))],
        dt.date(2026, 6, 1): [status("ministerial", Status.IN_PROGRESS, note="Reopened")],
        dt.date(2026, 6, 5): [done("ministerial", dt.date(2026, 6, 4))],
        dt.date(2026, 6, 6): [status("undated", Status.CANCELLED, note="Dropped")],
    }


def with_occurrences(record: dict[str, Milestone]) -> list[int]:
    """The record's milestones and the occurrences the sweep has made so far."""
    ids = [m.pk for m in record.values()]
    made = Milestone.objects.filter(series__in=ids).values_list("pk", flat=True)
    return sorted([*ids, *made])


def test_each_past_day_is_rebuilt_as_the_services_left_it(record):
    actions = script(record)
    snapshots = {}
    day = FIRST
    while day <= LAST:
        with time_machine.travel(at_local(day, 9), tick=False):
            sweep.run()
        for act in actions.get(day, []):
            with time_machine.travel(at_local(day, 10), tick=False):
                act()
        end = end_of_day(day, "Asia/Tokyo")
        snapshots[day] = {m.pk: milestone_state_now(m, end) for m in load(with_occurrences(record))}
        day += dt.timedelta(days=1)

    # The script did change things: the comparison below is not of constants.
    assert snapshots[LAST][record["ministerial"].pk].due_on == dt.date(2026, 5, 15)
    assert snapshots[dt.date(2026, 2, 27)][record["ministerial"].pk].due_on == dt.date(2026, 4, 26)
    assert snapshots[dt.date(2026, 5, 16)][record["ministerial"].pk].overdue
    assert snapshots[dt.date(2026, 6, 2)][record["follow_up"].pk].due_on is None
    assert snapshots[LAST][record["follow_up"].pk].due_on == dt.date(2026, 7, 4)
    first = Milestone.objects.get(series=record["recurring"], due_on=dt.date(2026, 1, 28))
    assert snapshots[dt.date(2026, 2, 2)][first.pk].overdue
    assert snapshots[dt.date(2026, 2, 3)][first.pk].days_late == 5
    assert len(snapshots[LAST]) == len(record) + 3  # 2026-01-28, 04-28, and 07-28 ahead

    # Each day, every milestone there was then (occurrences are made as they come).
    for day, expected in snapshots.items():
        assert milestone_states_as_of(load(list(expected)), day) == expected, day


def test_as_of_reads_history_in_constant_queries(record, django_assert_num_queries):
    ms = load([m.pk for m in record.values()])
    with django_assert_num_queries(2):
        milestone_states_as_of(ms, dt.date(2026, 4, 27))


def test_overdue_counts_from_local_midnight_after_the_due_date(record):
    m = load([record["ministerial"].pk])
    day180 = milestone_states_as_of(m, dt.date(2026, 4, 26))[m[0].pk]
    day181 = milestone_states_as_of(m, dt.date(2026, 4, 27))[m[0].pk]
    assert (day180.due_on, day180.overdue) == (dt.date(2026, 4, 26), False)
    assert (day181.overdue, day181.days_overdue) == (True, 1)
    assert day181.overdue_from == dt.datetime(2026, 4, 26, 15, 0, tzinfo=dt.UTC)


def test_progress_is_counted_from_states(record):
    series_extend(now=at_local(dt.date(2026, 4, 27), 9))
    ms = load(with_occurrences(record))
    later = progress_from_states(milestone_states_as_of(ms, dt.date(2026, 4, 27)).values())
    # The recurring obligation counts as its occurrences (2026-01-28, overdue, and
    # 2026-04-28, ahead), not as one more milestone.
    assert (later["total"], later[Status.NOT_STARTED], later["overdue"]) == (6, 6, 3)
    assert later["next_deadline"] == dt.date(2026, 4, 28)
    early = progress_from_states(milestone_states_as_of(ms, dt.date(2026, 1, 1)).values())
    assert (early["overdue"], early["next_deadline"]) == (0, dt.date(2026, 1, 15))


def test_an_assessment_made_later_is_not_shown_for_an_earlier_day(db):
    c = CommitmentFactory(assessment=Assessment.KEPT, assessed_on=dt.date(2026, 5, 1))
    assert assessment_as_of(c, dt.date(2026, 4, 30)).assessment == Assessment.NOT_YET_RATED
    later = assessment_as_of(c, dt.date(2026, 5, 1))
    assert (later.assessment, later.assessment_from_history) == (Assessment.KEPT, False)
    assert assessment_as_of(c, None).assessment_from_history is True
