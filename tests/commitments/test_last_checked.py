"""When a commitment was last checked: a check (a log entry) of one of its milestones is
a check of the commitment. One rule (``with_last_checked``) for the admin's filter, the
index's count and the API."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commitments import selectors
from commitments.models import Commitment, LogEntry, Milestone
from commitments.services import logentry_archive, logentry_create
from tests.factories import CommitmentFactory, MilestoneFactory

NOW = dt.datetime(2026, 12, 7, 4, 33, tzinfo=dt.UTC)
RECENT, STALE = dt.date(2026, 11, 21), dt.date(2026, 8, 1)  # 16 and 128 days before


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def check(alice, on: dt.date, **owner) -> LogEntry:
    return logentry_create(
        by=alice,
        on=on,
        kind=LogEntry.Kind.CHECKED,
        text="Searched the ministry's releases; nothing new.",
        source_address="https://www.meti.go.jp/english/press/",
        **owner,
    )


@pytest.fixture
def record(alice) -> dict[str, Commitment]:
    c = {
        name: CommitmentFactory(title=name)
        for name in ("via milestone", "own entry", "stale", "never", "withdrawn")
    }
    milestones = {name: MilestoneFactory(commitment=commitment) for name, commitment in c.items()}
    check(alice, STALE, commitment=c["via milestone"])
    check(alice, RECENT, milestone=milestones["via milestone"])  # the newest check
    check(alice, RECENT, commitment=c["own entry"])
    check(alice, STALE, milestone=milestones["stale"])
    # An archived entry was withdrawn: it checked nothing.
    logentry_archive(entry=check(alice, RECENT, milestone=milestones["withdrawn"]), by=alice)
    return c


def test_a_check_of_a_milestone_is_a_check_of_its_commitment(record, django_assert_num_queries):
    with django_assert_num_queries(1):
        checked = {c.title: c.last_checked_on for c in Commitment.objects.with_last_checked()}
    assert checked == {
        "via milestone": RECENT,
        "own entry": RECENT,
        "stale": STALE,
        "never": None,
        "withdrawn": None,
    }


def test_a_milestone_is_checked_by_its_own_entries(record):
    checked = {
        m.commitment.title: m.last_checked_on
        for m in Milestone.objects.with_last_checked().select_related("commitment")
    }
    assert checked["via milestone"] == RECENT and checked["own entry"] is None


def test_not_checked_for_90_days_counts_commitments_checked_through_a_milestone(record):
    stale = selectors.not_checked_since(Commitment.objects.all(), NOW)
    assert set(stale.values_list("title", flat=True)) == {"stale", "never", "withdrawn"}


def _filtered(client, url: str) -> tuple[set[str], int]:
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url)
    assert page.status_code == 200
    return {c.title for c in page.context["cl"].result_list}, len(queries)


def test_the_admin_filter_agrees_in_a_constant_number_of_queries(client, alice, record):
    client.force_login(alice)
    url = reverse("admin:commitments_commitment_changelist") + "?unchecked=90&archived=no"
    shown, small = _filtered(client, url)
    assert shown == {"stale", "never", "withdrawn"}
    # Twenty more commitments, each checked through a milestone, with more entries.
    for i in range(20):
        milestone = MilestoneFactory(commitment=CommitmentFactory(title=f"checked {i}"))
        for day in (STALE, RECENT):
            check(alice, day, milestone=milestone)
    shown, large = _filtered(client, url)
    assert shown == {"stale", "never", "withdrawn"}
    assert large == small
