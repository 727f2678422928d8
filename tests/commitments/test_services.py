from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from commitments import services
from commitments.deadlines import Anchor, DeadlineRule, RuleKind
from commitments.models import DeadlineRevision, Milestone, Status, StatusUpdate
from commitments.services import (
    ConflictError,
    NotAllowedError,
    TransitionError,
    milestone_revise_deadline,
    milestone_set_status,
)
from tests.factories import MilestoneFactory, add_parts

TODAY = dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.UTC)  # 12:00 in Tokyo
EVIDENCE = "https://www.meti.go.jp/press/ministerial"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(TODAY, tick=False):
        yield


def test_completing_records_who_when_what_and_evidence(ministerial, alice):
    version = ministerial.version
    update = milestone_set_status(
        milestone=ministerial,
        status=Status.COMPLETED,
        by=alice,
        note="Held in Washington",
        evidence_url=EVIDENCE,
        completed_on=dt.date(2026, 4, 24),
    )
    ministerial.refresh_from_db()
    assert (ministerial.status, ministerial.completed_on) == ("completed", dt.date(2026, 4, 24))
    assert ministerial.evidence_url == EVIDENCE and ministerial.last_note == "Held in Washington"
    assert (update.by, update.from_status, update.to_status) == (alice, "not_started", "completed")
    assert update.at == TODAY and update.evidence_url == EVIDENCE
    assert ministerial.version == version + 1


def test_system_changes_are_recorded_without_a_user(ministerial):
    update = milestone_set_status(
        milestone=ministerial, status=Status.AT_RISK, by=None, note="No date announced"
    )
    assert update.by is None and update.by_label == "system"


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"status": "done"}, "status", "'done' is not a status"),
        ({"status": "completed", "evidence_url": ""}, "evidence_url", "evidence address"),
        ({"status": "completed", "evidence_url": "not a url"}, "evidence_url", "http(s)"),
        (
            {
                "status": "completed",
                "evidence_url": EVIDENCE,
                "completed_on": dt.date(2026, 11, 22),
            },
            "completed_on",
            "completed_on 2026-11-22 is in the future",
        ),
        (
            {
                "status": "completed",
                "evidence_url": EVIDENCE,
                "completed_on": dt.date(2025, 10, 27),
            },
            "completed_on",
            "before the agreement was signed (2025-10-28)",
        ),
        (
            {"status": "in_progress", "completed_on": dt.date(2026, 1, 1)},
            "completed_on",
            "only given with status 'completed'",
        ),
        ({"status": "not_started"}, "status", "already 'not_started'"),
    ],
)
def test_invalid_transitions_are_refused_and_change_nothing(
    ministerial, alice, kwargs, field, words
):
    version = ministerial.version
    with pytest.raises(TransitionError) as caught:
        milestone_set_status(milestone=ministerial, by=alice, **kwargs)
    assert caught.value.field == field
    assert words in caught.value.message
    ministerial.refresh_from_db()
    assert ministerial.status == "not_started" and ministerial.version == version
    assert not StatusUpdate.objects.filter(milestone=ministerial).exists()


def test_today_in_tokyo_is_not_the_future_even_when_utc_is_still_yesterday(ministerial, alice):
    with time_machine.travel(dt.datetime(2026, 11, 21, 16, 0, tzinfo=dt.UTC), tick=False):
        milestone_set_status(
            milestone=ministerial,
            status=Status.COMPLETED,
            by=alice,
            evidence_url=EVIDENCE,
            completed_on=dt.date(2026, 11, 22),
        )
    ministerial.refresh_from_db()
    assert ministerial.completed_on == dt.date(2026, 11, 22)


def test_completed_on_defaults_to_today_in_the_agreement_zone(ministerial, alice):
    with time_machine.travel(dt.datetime(2026, 11, 21, 16, 0, tzinfo=dt.UTC), tick=False):
        milestone_set_status(
            milestone=ministerial, status=Status.COMPLETED, by=alice, evidence_url=EVIDENCE
        )
    ministerial.refresh_from_db()
    assert ministerial.completed_on == dt.date(2026, 11, 22)


def test_viewers_and_strangers_may_not_change_status(ministerial, bob, charlie):
    for user in (bob, charlie):
        with pytest.raises(NotAllowedError):
            milestone_set_status(milestone=ministerial, status=Status.IN_PROGRESS, by=user)
    assert not StatusUpdate.objects.exists()


def test_a_stale_version_is_refused(ministerial, alice):
    stale = Milestone.objects.get(pk=ministerial.pk)
    milestone_set_status(milestone=ministerial, status=Status.IN_PROGRESS, by=alice)
    with pytest.raises(ConflictError):
        milestone_set_status(milestone=stale, status=Status.AT_RISK, by=alice)
    with pytest.raises(ConflictError):
        milestone_set_status(
            milestone=ministerial, status=Status.AT_RISK, by=alice, expected_version=stale.version
        )
    ministerial.refresh_from_db()
    assert ministerial.status == "in_progress"
    assert StatusUpdate.objects.filter(milestone=ministerial).count() == 1


def test_dependents_follow_their_anchor_in_the_same_transaction(ministerial, alice):
    follow_up = MilestoneFactory(
        commitment=ministerial.commitment,
        title="Follow-up",
        rule_kind=RuleKind.DAYS_AFTER,
        rule_amount=30,
        rule_anchor=Anchor.MILESTONE,
        rule_anchor_milestone=ministerial,
    )
    second = MilestoneFactory(
        commitment=ministerial.commitment,
        title="Second",
        rule_kind=RuleKind.MONTHS_AFTER,
        rule_amount=1,
        rule_anchor=Anchor.MILESTONE,
        rule_anchor_milestone=follow_up,
    )
    assert follow_up.due_on is None and second.due_on is None

    milestone_set_status(
        milestone=ministerial,
        status=Status.COMPLETED,
        by=alice,
        evidence_url=EVIDENCE,
        completed_on=dt.date(2026, 1, 31),
    )
    follow_up.refresh_from_db()
    assert follow_up.due_on == dt.date(2026, 3, 2)
    assert follow_up.overdue_from == dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)

    milestone_set_status(
        milestone=follow_up,
        status=Status.COMPLETED,
        by=alice,
        evidence_url=EVIDENCE,
        completed_on=dt.date(2026, 3, 31),
    )
    second.refresh_from_db()
    assert second.due_on == dt.date(2026, 4, 30)

    # Re-opening the anchor takes the dependent's date away again.
    ministerial.refresh_from_db()
    milestone_set_status(
        milestone=ministerial,
        status=Status.IN_PROGRESS,
        by=alice,
        note="The meeting was postponed after all",
    )
    follow_up.refresh_from_db()
    assert follow_up.due_on is None


def test_correcting_the_signature_date_moves_every_deadline(ministerial, project_selection):
    agreement = ministerial.commitment.agreement
    agreement.signed_on = dt.date(2025, 10, 27)
    agreement.save()
    assert services.refresh_deadlines(agreement) == 2
    ministerial.refresh_from_db()
    project_selection.refresh_from_db()
    assert (ministerial.due_on, project_selection.due_on) == (
        dt.date(2026, 4, 25),
        dt.date(2026, 4, 27),
    )


def test_a_revised_deadline_keeps_the_original_reason_and_source(ministerial, alice):
    rule = DeadlineRule(kind=RuleKind.FIXED, fixed_date=dt.date(2026, 12, 15))
    revision = milestone_revise_deadline(
        milestone=ministerial,
        rule=rule,
        reason="Postponed by both governments",
        source="https://example.org/postponed",
        by=alice,
    )
    ministerial.refresh_from_db()
    assert (ministerial.original_due_on, ministerial.due_on) == (
        dt.date(2026, 4, 26),
        dt.date(2026, 12, 15),
    )
    assert (revision.old_rule, revision.new_rule) == ("180 days after signature", "by 2026-12-15")
    assert (revision.old_due_on, revision.new_due_on) == (
        dt.date(2026, 4, 26),
        dt.date(2026, 12, 15),
    )
    assert not ministerial.is_overdue_at(TODAY)
    # A second revision keeps the first original.
    milestone_revise_deadline(
        milestone=ministerial,
        rule=DeadlineRule(kind=RuleKind.FIXED, fixed_date=dt.date(2027, 1, 5)),
        reason="Again",
        source="https://example.org/again",
        by=alice,
    )
    ministerial.refresh_from_db()
    assert ministerial.original_due_on == dt.date(2026, 4, 26)
    assert DeadlineRevision.objects.filter(milestone=ministerial).count() == 2


@pytest.mark.parametrize(("reason", "source", "field"), [("", "x", "reason"), ("x", " ", "source")])
def test_a_revision_needs_a_reason_and_a_source(ministerial, alice, reason, source, field):
    with pytest.raises(TransitionError) as caught:
        milestone_revise_deadline(
            milestone=ministerial, rule=DeadlineRule(), reason=reason, source=source, by=alice
        )
    assert caught.value.field == field


def test_a_cycle_of_anchors_is_refused(ministerial, alice):
    other = MilestoneFactory(
        commitment=ministerial.commitment,
        rule_kind=RuleKind.DAYS_AFTER,
        rule_amount=1,
        rule_anchor=Anchor.MILESTONE,
        rule_anchor_milestone=ministerial,
    )
    cycle = DeadlineRule(
        kind=RuleKind.DAYS_AFTER, amount=1, anchor=Anchor.MILESTONE, anchor_milestone_id=other.pk
    )
    with pytest.raises(TransitionError, match="cycle"):
        milestone_revise_deadline(
            milestone=ministerial, rule=cycle, reason="r", source="s", by=alice
        )
    ministerial.refresh_from_db()
    assert ministerial.rule_kind == RuleKind.DAYS_AFTER and ministerial.rule_anchor == "signature"


def test_a_recurring_obligation_is_met_occurrence_by_occurrence(ministerial, alice):
    milestone_revise_deadline(
        milestone=ministerial,
        rule=DeadlineRule(kind=RuleKind.RECURRING, rrule="FREQ=MONTHLY;INTERVAL=3"),
        reason="Meets quarterly",
        source="https://example.org/q",
        by=alice,
    )
    ministerial.refresh_from_db()
    # The series has no date of its own; its occurrences do, up to the next one ahead.
    assert ministerial.due_on is None and not ministerial.is_overdue_at(TODAY)
    assert list(ministerial.occurrences.values_list("due_on", flat=True)) == [
        dt.date(2026, 1, 28),
        dt.date(2026, 4, 28),
        dt.date(2026, 7, 28),
        dt.date(2026, 10, 28),
        dt.date(2027, 1, 28),
    ]
    with pytest.raises(TransitionError, match="occurrence by occurrence") as refused:
        milestone_set_status(
            milestone=ministerial, status=Status.COMPLETED, by=alice, evidence_url=EVIDENCE
        )
    assert refused.value.field == "status"
    april = ministerial.occurrences.get(due_on=dt.date(2026, 4, 28))
    milestone_set_status(
        milestone=april,
        status=Status.COMPLETED,
        by=alice,
        evidence_url=EVIDENCE,
        completed_on=dt.date(2026, 4, 20),
    )
    april.refresh_from_db()
    assert (april.status, april.completed_on) == (Status.COMPLETED, dt.date(2026, 4, 20))
    ministerial.refresh_from_db()
    assert ministerial.status == Status.NOT_STARTED and ministerial.due_on is None


def test_each_party_part_is_tracked_and_the_milestone_follows(agreements, alice):
    m = MilestoneFactory()
    us, jp = add_parts(m, "US", "JP")
    milestone_set_status(
        milestone=m,
        party=jp.party,
        status=Status.COMPLETED,
        by=alice,
        evidence_url=EVIDENCE,
        completed_on=dt.date(2026, 5, 1),
    )
    m.refresh_from_db()
    assert m.status == Status.IN_PROGRESS
    jp.refresh_from_db()
    us.refresh_from_db()
    assert (jp.status, us.status) == (Status.COMPLETED, Status.NOT_STARTED)

    milestone_set_status(
        milestone=m,
        party=us.party,
        status=Status.COMPLETED,
        by=alice,
        evidence_url=EVIDENCE,
        completed_on=dt.date(2026, 6, 1),
    )
    m.refresh_from_db()
    assert (m.status, m.completed_on) == (Status.COMPLETED, dt.date(2026, 6, 1))
    parties = list(m.updates.values_list("party__code", "to_status"))
    assert ("JP", "completed") in parties and ("US", "completed") in parties
    assert (None, "completed") in parties


def test_a_party_outside_the_milestone_is_refused(agreements, alice):
    m = MilestoneFactory()
    add_parts(m, "US")
    (jp,) = [p.party for p in add_parts(MilestoneFactory(), "JP")]
    with pytest.raises(TransitionError, match="not a responsible party"):
        milestone_set_status(milestone=m, party=jp, status=Status.IN_PROGRESS, by=alice)
