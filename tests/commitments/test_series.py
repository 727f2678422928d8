"""A recurring obligation is a series of occurrences, each a milestone due on its own
date, met or not on its own (issue 21, item 1). Malaysia's quarterly working-level
meetings, first due 2026-01-26, as the record stands on 2026-12-07."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from commitments import services
from commitments.deadlines import DeadlineRule, RuleKind
from commitments.loader import load_agreements
from commitments.models import Milestone, MilestonePart, Status, StatusUpdate
from commitments.series import series_extend
from commitments.services import (
    TransitionError,
    milestone_revise_deadline,
    milestone_set_status,
)
from tests.conftest import load_record

NOW = dt.datetime(2026, 12, 7, 4, 33, 50, tzinfo=dt.UTC)  # 12:33 in Kuala Lumpur
QUARTERS = [
    dt.date(2026, 1, 26),
    dt.date(2026, 4, 26),
    dt.date(2026, 7, 26),
    dt.date(2026, 10, 26),
    dt.date(2027, 1, 26),
]
EVIDENCE = "https://www.miti.gov.my/index.php/pages/view/working-level-meeting-q2-2026"


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def meetings(db, frozen) -> Milestone:
    load_record()
    return Milestone.objects.select_related("commitment__agreement").get(
        commitment__agreement__slug="us-malaysia-critical-minerals-2025",
        key="working-level-meeting",
    )


def dates(series: Milestone) -> list[dt.date]:
    return list(series.occurrences.order_by("due_on").values_list("due_on", flat=True))


def test_the_loader_makes_each_occurrence_up_to_the_next_one_ahead(meetings):
    assert dates(meetings) == QUARTERS
    first = meetings.occurrences.get(due_on=QUARTERS[0])
    assert first.key == "working-level-meeting-2026-01-26"
    assert first.title == "Quarterly working-level meeting held: 26 January 2026"
    assert (first.rule_kind, first.rule_fixed_date) == (RuleKind.FIXED, QUARTERS[0])
    assert first.commitment_id == meetings.commitment_id
    # Midnight after the due date in Kuala Lumpur (UTC+8).
    assert first.overdue_from == dt.datetime(2026, 1, 26, 16, 0, tzinfo=dt.UTC)
    # Each party's part of the obligation is its part of each meeting.
    assert sorted(first.parts.values_list("party__code", flat=True)) == ["MY", "US"]


def test_the_series_has_no_date_of_its_own_and_is_never_overdue(meetings):
    assert meetings.due_on is None and meetings.overdue_from is None
    assert not meetings.is_overdue_at(NOW)
    overdue = Milestone.objects.overdue_at(NOW).filter(commitment=meetings.commitment)
    assert sorted(overdue.values_list("due_on", flat=True)) == QUARTERS[:4]


def test_extending_again_makes_nothing_and_reads_one_query(meetings, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert series_extend(now=NOW) == 0
    load_agreements()
    assert dates(meetings) == QUARTERS


def test_the_next_occurrence_is_made_once_the_last_one_is_today(meetings):
    # 2027-01-26 in Kuala Lumpur: the meeting due today is not yet missed, and the
    # one after it is now the next one ahead.
    jan_26 = dt.datetime(2027, 1, 26, 1, 0, tzinfo=dt.UTC)
    assert series_extend(now=jan_26 - dt.timedelta(days=1)) == 0
    assert series_extend(now=jan_26) == 1
    assert dates(meetings) == [*QUARTERS, dt.date(2027, 4, 26)]
    assert series_extend(now=jan_26) == 0


def test_an_occurrence_is_recorded_met_through_the_status_service(meetings, alice):
    april = meetings.occurrences.get(due_on=QUARTERS[1])
    milestone_set_status(
        milestone=april,
        status=Status.COMPLETED,
        by=alice,
        note="Q2 2026 meeting held in Kuala Lumpur",
        evidence_url=EVIDENCE,
        completed_on=dt.date(2026, 4, 24),
    )
    april.refresh_from_db()
    assert (april.status, april.evidence_url) == (Status.COMPLETED, EVIDENCE)
    assert not april.is_overdue_at(NOW)
    assert set(april.parts.values_list("status", flat=True)) == {Status.COMPLETED}
    update = april.updates.get(kind=StatusUpdate.Kind.STATUS)
    assert (update.by, update.to_status, update.evidence_url) == (alice, "completed", EVIDENCE)
    # The others are untouched: each occurrence is met or not on its own.
    others = meetings.occurrences.exclude(pk=april.pk)
    assert set(others.values_list("status", flat=True)) == {Status.NOT_STARTED}


def test_the_series_itself_cannot_be_completed(meetings, alice):
    with pytest.raises(TransitionError, match="occurrence by occurrence") as refused:
        milestone_set_status(
            milestone=meetings, status=Status.COMPLETED, by=alice, evidence_url=EVIDENCE
        )
    assert refused.value.field == "status"


def test_an_occurrence_cannot_itself_recur(meetings, alice):
    first = meetings.occurrences.get(due_on=QUARTERS[0])
    with pytest.raises(TransitionError, match="change the obligation's rule") as refused:
        milestone_revise_deadline(
            milestone=first,
            rule=DeadlineRule(kind=RuleKind.RECURRING, rrule="FREQ=MONTHLY"),
            reason="r",
            source="https://example.org/r",
            by=alice,
        )
    assert refused.value.field == "rule"


def test_a_moved_occurrence_keeps_its_place_in_the_series(meetings, alice):
    first = meetings.occurrences.get(due_on=QUARTERS[0])
    milestone_revise_deadline(
        milestone=first,
        rule=DeadlineRule(kind=RuleKind.FIXED, fixed_date=dt.date(2026, 2, 10)),
        reason="Postponed by the participants",
        source="https://example.org/postponed",
        by=alice,
    )
    first.refresh_from_db()
    assert (first.due_on, first.original_due_on) == (dt.date(2026, 2, 10), QUARTERS[0])
    assert series_extend(now=NOW) == 0  # not made again on its first date
    assert meetings.occurrences.count() == len(QUARTERS)


def test_a_new_rule_remakes_the_pending_occurrences_and_keeps_the_past(meetings, alice):
    july = meetings.occurrences.get(due_on=QUARTERS[2])
    milestone_set_status(milestone=july, status=Status.COMPLETED, by=alice, evidence_url=EVIDENCE)
    ahead = meetings.occurrences.get(due_on=QUARTERS[4])
    milestone_revise_deadline(
        milestone=meetings,
        rule=DeadlineRule(kind=RuleKind.RECURRING, rrule="FREQ=MONTHLY"),
        reason="The participants now meet every month",
        source="https://example.org/monthly",
        by=alice,
    )
    # Met and past occurrences stay; the pending one ahead, which no one had touched,
    # gives way to the new rule's dates after the last past one.
    assert dates(meetings) == [*QUARTERS[:4], dt.date(2026, 11, 26), dt.date(2026, 12, 26)]
    assert not Milestone.objects.filter(pk=ahead.pk).exists()
    july.refresh_from_db()
    assert july.status == Status.COMPLETED and july.series_id == meetings.pk


def test_a_touched_pending_occurrence_is_cancelled_with_a_note_not_deleted(meetings, alice):
    ahead = meetings.occurrences.get(due_on=QUARTERS[4])
    milestone_set_status(
        milestone=ahead, status=Status.IN_PROGRESS, by=alice, note="Agenda circulated"
    )
    milestone_revise_deadline(
        milestone=meetings,
        rule=DeadlineRule(kind=RuleKind.RECURRING, rrule="FREQ=MONTHLY;INTERVAL=6"),
        reason="Twice a year from now on",
        source="https://example.org/twice",
        by=alice,
    )
    ahead.refresh_from_db()
    assert ahead.status == Status.CANCELLED
    assert "no longer one of its occurrences" in ahead.updates.first().note
    # The new rule's next date after the last past occurrence (2026-10-26): 2027-04-26.
    assert dates(meetings)[-1] == dt.date(2027, 4, 26)


def test_a_rule_that_no_longer_recurs_leaves_the_past_occurrences(meetings, alice):
    milestone_revise_deadline(
        milestone=meetings,
        rule=DeadlineRule(kind=RuleKind.FIXED, fixed_date=dt.date(2027, 3, 1)),
        reason="One last meeting",
        source="https://example.org/last",
        by=alice,
    )
    meetings.refresh_from_db()
    assert meetings.due_on == dt.date(2027, 3, 1)
    assert dates(meetings) == QUARTERS[:4]
    assert series_extend(now=NOW) == 0


def test_an_archived_or_cancelled_series_is_not_extended(meetings, alice):
    services.milestone_set_status(
        milestone=meetings, status=Status.CANCELLED, by=alice, note="Meetings ended"
    )
    later = NOW + dt.timedelta(days=400)
    assert series_extend(now=later) == 0
    assert dates(meetings) == QUARTERS


def test_a_key_staff_already_used_gets_a_number(meetings, alice):
    taken = Milestone.objects.create(
        commitment=meetings.commitment, key="working-level-meeting-2027-04-26", title="Other"
    )
    assert series_extend(now=dt.datetime(2027, 1, 27, tzinfo=dt.UTC)) == 1
    made = meetings.occurrences.get(due_on=dt.date(2027, 4, 26))
    assert made.key == "working-level-meeting-2027-04-26-2" and made.pk != taken.pk
    assert MilestonePart.objects.filter(milestone=made).count() == 2
