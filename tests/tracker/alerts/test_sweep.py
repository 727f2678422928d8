from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from commitments.deadlines import DeadlineRule, RuleKind
from commitments.models import Milestone, Status, StatusUpdate
from commitments.services import milestone_revise_deadline, milestone_set_status
from tests.conftest import load_record
from tracker.alerts import dispatch, sweep
from tracker.models import Alert, AlertEvent, Subscription, SweepRun
from tracker.selectors import last_sweep_at

BOUNDARY = dt.datetime(2026, 4, 26, 15, 0, tzinfo=dt.UTC)  # 2026-04-27 00:00 in Tokyo
EVIDENCE = "https://example.org/evidence"
# Shipped milestones already past due at BOUNDARY: Malaysia's first quarterly meeting
# (2026-01-26, one occurrence of the series), US–Australia's follow-up and Investment
# Ministerial (2026-04-18) and its money (2026-04-20).
ALREADY_OVERDUE = {
    "working-level-meeting-2026-01-26",
    "follow-up-meeting",
    "investment-ministerial-convened",
    "projects-funded",
}
# A day later Malaysia's second quarterly meeting (2026-04-26) is missed too.
NEXT_QUARTER = "working-level-meeting-2026-04-26"


@pytest.fixture
def follower(agreements) -> Subscription:
    return Subscription.objects.create(
        email="newsroom@example.org",
        agreement=Milestone.objects.get(key="ministerial-convened").commitment.agreement,
    )


def swept(*, now: dt.datetime) -> sweep.SweepResult:
    """A sweep, then the dispatcher turning its events into alerts (the command's
    order)."""
    result = sweep.run(now=now)
    dispatch.run(now=now)
    return result


def flagged_keys() -> set[str]:
    return set(Milestone.objects.filter(overdue_since__isnull=False).values_list("key", flat=True))


def test_the_ministerial_is_flagged_at_midnight_in_tokyo_not_before(ministerial, follower):
    early = swept(now=BOUNDARY - dt.timedelta(seconds=1))
    assert early.flagged == len(ALREADY_OVERDUE) and flagged_keys() == ALREADY_OVERDUE
    result = swept(now=BOUNDARY)
    assert result.flagged == 1 and flagged_keys() == ALREADY_OVERDUE | {"ministerial-convened"}
    ministerial.refresh_from_db()
    assert ministerial.overdue_since == BOUNDARY and ministerial.updated_at == BOUNDARY
    event = StatusUpdate.objects.get(milestone=ministerial, kind="overdue_flagged")
    assert event.by is None and event.at == BOUNDARY and event.due_on == dt.date(2026, 4, 26)
    assert list(
        Alert.objects.filter(kind="overdue").values_list("milestone__key", "recipient")
    ) == [("ministerial-convened", "newsroom@example.org")]
    assert last_sweep_at() == BOUNDARY


def test_sweep_alerts_once_when_run_twice(ministerial, follower):
    first = swept(now=BOUNDARY)
    second = swept(now=BOUNDARY)
    third = swept(now=BOUNDARY + dt.timedelta(minutes=1))
    assert (first.flagged, second.flagged, third.flagged) == (1 + len(ALREADY_OVERDUE), 0, 0)
    assert second.queued == third.queued == 0
    assert StatusUpdate.objects.filter(kind="overdue_flagged").count() == 1 + len(ALREADY_OVERDUE)
    assert Alert.objects.filter(kind="overdue").count() == 1
    assert SweepRun.objects.count() == 3


def test_completion_clears_the_flag(ministerial, alice, follower):
    swept(now=BOUNDARY)
    with time_machine.travel(BOUNDARY + dt.timedelta(days=1), tick=False):
        ministerial.refresh_from_db()
        milestone_set_status(
            milestone=ministerial,
            status=Status.COMPLETED,
            by=alice,
            evidence_url=EVIDENCE,
            completed_on=dt.date(2026, 4, 27),
        )
    result = swept(now=BOUNDARY + dt.timedelta(days=1, minutes=1))
    assert result.cleared == 1 and flagged_keys() == ALREADY_OVERDUE | {NEXT_QUARTER}
    assert StatusUpdate.objects.filter(milestone=ministerial, kind="overdue_cleared").count() == 1
    assert Alert.objects.filter(milestone=ministerial, kind="completed").count() == 1


def test_a_deadline_moved_later_clears_and_alerts_again_for_the_new_date(
    ministerial, alice, follower
):
    swept(now=BOUNDARY)
    milestone_revise_deadline(
        milestone=ministerial,
        rule=DeadlineRule(kind=RuleKind.FIXED, fixed_date=dt.date(2026, 5, 31)),
        reason="Postponed",
        source="https://example.org/p",
        by=alice,
    )
    assert swept(now=BOUNDARY + dt.timedelta(hours=1)).cleared == 1
    later = dt.datetime(2026, 5, 31, 15, 0, tzinfo=dt.UTC)
    assert swept(now=later - dt.timedelta(seconds=1)).flagged == 1  # project selection
    assert swept(now=later).flagged == 1  # the ministerial, at its new deadline
    assert sorted(
        Alert.objects.filter(kind="overdue", milestone=ministerial).values_list("due_on", flat=True)
    ) == [dt.date(2026, 4, 26), dt.date(2026, 5, 31)]


def test_a_milestone_due_tomorrow_gets_only_the_one_day_alert(ministerial, follower):
    # 2026-04-25 09:00 in Tokyo: due tomorrow.
    result = swept(now=dt.datetime(2026, 4, 25, 0, 0, tzinfo=dt.UTC))
    kinds = set(Alert.objects.filter(milestone=ministerial).values_list("kind", flat=True))
    assert kinds == {"due_1"} and result.queued >= 1
    # 40 days ahead, the 30-day alert for both dated milestones.
    Alert.objects.all().delete()
    AlertEvent.objects.all().delete()  # back in time: start afresh
    swept(now=dt.datetime(2026, 3, 20, tzinfo=dt.UTC))
    assert set(Alert.objects.values_list("kind", flat=True)) == set()
    swept(now=dt.datetime(2026, 3, 28, tzinfo=dt.UTC))  # 29 and 31 days left in Tokyo
    assert set(Alert.objects.values_list("milestone__key", "kind")) == {
        ("ministerial-convened", "due_30")
    }
    swept(now=dt.datetime(2026, 3, 29, tzinfo=dt.UTC))
    assert set(Alert.objects.values_list("milestone__key", "kind")) == {
        ("ministerial-convened", "due_30"),
        ("projects-selected-and-funded", "due_30"),
    }


def test_custom_lead_times_and_kinds(ministerial):
    Subscription.objects.create(
        email="analyst@example.org", milestone=ministerial, kinds=["due_soon"], lead_days=[3]
    )
    swept(now=dt.datetime(2026, 4, 20, tzinfo=dt.UTC))
    assert not Alert.objects.exists()
    swept(now=dt.datetime(2026, 4, 23, tzinfo=dt.UTC))
    swept(now=BOUNDARY)
    assert list(Alert.objects.values_list("kind", flat=True)) == ["due_3"]


def test_owners_are_alerted_and_opt_outs_are_not(ministerial, alice, bob):
    from tracker.models import OptOut

    ministerial.commitment.owner = alice
    ministerial.commitment.save()
    Milestone.objects.filter(key="projects-selected-and-funded").update(owner=bob)
    OptOut.objects.create(email="bob@example.org")
    swept(now=dt.datetime(2026, 11, 21, tzinfo=dt.UTC))
    assert list(Alert.objects.values_list("milestone__key", "kind", "recipient")) == [
        ("ministerial-convened", "overdue", "alice@example.org")
    ]


def test_a_rolled_back_status_change_leaves_no_alert(ministerial, alice, follower):
    with pytest.raises(RuntimeError), transaction.atomic():
        milestone_set_status(
            milestone=ministerial,
            status=Status.COMPLETED,
            by=alice,
            evidence_url=EVIDENCE,
            completed_on=dt.date(2026, 4, 20),
        )
        # The history row is the outbox: written with the change, undone with it.
        assert StatusUpdate.objects.filter(to_status="completed").count() == 1
        raise RuntimeError("the caller's transaction fails after the change")
    ministerial.refresh_from_db()
    assert ministerial.status == "not_started"
    dispatch.run()
    assert not Alert.objects.exists() and not StatusUpdate.objects.exists()
    assert not AlertEvent.objects.exists()


def test_the_command_prints_what_it_did(ministerial, follower, capsys):
    call_command("sweep_deadlines", "--now", "2026-04-26T15:00:00+00:00")
    out = capsys.readouterr().out
    # The ministerial's "overdue", and project selection's "due in 7 days" (2 days left):
    # reminders for 30 and 7 days (each reaches whoever's nearest lead time it is). The
    # four shipped milestones already past due are flagged too (5 flags, 3 reminders).
    assert "flagged 5, cleared 0, 8 event(s); queued 2 alert(s)" in out


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("yesterday", "'yesterday' is not an ISO 8601 date-time"),
        ("2026-04-26T15:00:00", "has no UTC offset"),
        ("9999-12-31T23:59:59+00:00", "'9999-12-31T23:59:59+00:00' is out of range"),
        ("0001-01-01T00:00:00+00:00", "'0001-01-01T00:00:00+00:00' is out of range"),
    ],
)
def test_the_command_names_a_bad_now(agreements, value, words):
    with pytest.raises(CommandError, match=re.escape(words)):
        call_command("sweep_deadlines", "--now", value)


def test_a_sweep_that_finds_nothing_runs_a_constant_number_of_queries(
    agreements, django_assert_max_num_queries
):
    sweep.run(now=dt.datetime(2026, 11, 21, tzinfo=dt.UTC))
    with CaptureQueriesContext(connection) as three_lead_times:
        result = sweep.run(now=dt.datetime(2026, 11, 21, 0, 1, tzinfo=dt.UTC))
    assert (result.flagged, result.cleared, result.queued) == (0, 0, 0)
    # Nine more lead times wanted: the reminders are still read in one query.
    for days in range(2, 11):
        Subscription.objects.create(email=f"r{days}@example.org", lead_days=[days])
    with django_assert_max_num_queries(len(three_lead_times)):
        result = sweep.run(now=dt.datetime(2026, 11, 21, 0, 2, tzinfo=dt.UTC))
    assert (result.flagged, result.cleared, result.queued) == (0, 0, 0)
    assert len(three_lead_times) <= 12


# --- A recurring obligation: each occurrence missed is flagged, once --------------------

MALAYSIA_NOW = dt.datetime(2026, 12, 7, 4, 33, 50, tzinfo=dt.UTC)  # 12:33 in Kuala Lumpur
QUARTERS_MISSED = [dt.date(2026, 1, 26), dt.date(2026, 4, 26), dt.date(2026, 7, 26)]
QUARTERS_MISSED.append(dt.date(2026, 10, 26))


@pytest.fixture
def meetings(db):

    with time_machine.travel(MALAYSIA_NOW, tick=False):
        load_record()
    series = Milestone.objects.get(
        commitment__agreement__slug="us-malaysia-critical-minerals-2025",
        key="working-level-meeting",
    )
    # A newsroom follows the obligation: it hears about each of its occurrences.
    Subscription.objects.create(email="desk@example.org", milestone=series)
    return series


def test_the_sweep_flags_each_missed_occurrence_once_and_never_the_series(meetings):
    first = swept(now=MALAYSIA_NOW)
    second = swept(now=MALAYSIA_NOW + dt.timedelta(minutes=5))
    meetings.refresh_from_db()
    assert meetings.overdue_since is None
    flags = StatusUpdate.objects.filter(kind="overdue_flagged", milestone__series=meetings)
    assert sorted(flags.values_list("due_on", flat=True)) == QUARTERS_MISSED
    assert not StatusUpdate.objects.filter(kind="overdue_flagged", milestone=meetings).exists()
    assert second.flagged == 0 and first.flagged >= len(QUARTERS_MISSED)
    alerts = Alert.objects.filter(kind="overdue", recipient="desk@example.org")
    assert sorted(alerts.values_list("due_on", flat=True)) == QUARTERS_MISSED
    # The next meeting is not missed until its day has passed in Kuala Lumpur.
    ahead = meetings.occurrences.get(due_on=dt.date(2027, 1, 26))
    assert swept(now=dt.datetime(2027, 1, 26, 15, 59, tzinfo=dt.UTC)).flagged == 0
    assert swept(now=dt.datetime(2027, 1, 26, 16, 0, tzinfo=dt.UTC)).flagged == 1
    ahead.refresh_from_db()
    assert ahead.overdue_since is not None
    # …by then the one after it had been made, ahead of it.
    assert meetings.occurrences.filter(due_on=dt.date(2027, 4, 26)).exists()


def test_an_occurrence_recorded_met_clears_its_flag_and_alerts_completed_once(meetings, alice):
    swept(now=MALAYSIA_NOW)
    july = meetings.occurrences.get(due_on=dt.date(2026, 7, 26))
    later = MALAYSIA_NOW + dt.timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        milestone_set_status(
            milestone=july,
            status=Status.COMPLETED,
            by=alice,
            note="Q3 2026 meeting held (reported late)",
            evidence_url=EVIDENCE,
            completed_on=dt.date(2026, 7, 24),
        )
    result = swept(now=later + dt.timedelta(minutes=1))
    swept(now=later + dt.timedelta(minutes=2))
    july.refresh_from_db()
    assert (july.status, july.overdue_since) == (Status.COMPLETED, None)
    assert result.cleared == 1
    completed = Alert.objects.filter(kind="completed", milestone=july)
    assert list(completed.values_list("recipient", flat=True)) == ["desk@example.org"]
    others = meetings.occurrences.exclude(pk=july.pk).filter(overdue_since__isnull=False)
    assert sorted(others.values_list("due_on", flat=True)) == [
        d for d in QUARTERS_MISSED if d != dt.date(2026, 7, 26)
    ]
