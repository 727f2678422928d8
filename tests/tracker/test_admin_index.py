"""The admin index opens with what needs attention, in a constant number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commitments import selectors
from commitments.models import LogEntry
from commitments.services import logentry_create, milestone_archive, refresh_deadlines
from tests.factories import AgreementFactory, CommitmentFactory, MilestoneFactory
from tracker.models import Alert

# 03:00 UTC: already the 21st in Tokyo, still the 20th in New York.
NOW = dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def fixed(commitment, day: dt.date, **kwargs):
    return MilestoneFactory(
        commitment=commitment, rule_kind="fixed", rule_amount=None, rule_fixed_date=day, **kwargs
    )


@pytest.fixture
def record(db):
    tokyo = CommitmentFactory(agreement=AgreementFactory(time_zone="Asia/Tokyo"))
    new_york = CommitmentFactory(agreement=AgreementFactory(time_zone="America/New_York"))
    ms = {
        # Due on the 20th: past in Tokyo (overdue), today in New York (due soon).
        "tokyo_20": fixed(tokyo, dt.date(2026, 11, 20), title="Tokyo 20th"),
        "ny_20": fixed(new_york, dt.date(2026, 11, 20), title="New York 20th"),
        # Thirty days on from each zone's today: Tokyo's 21st + 30, not New York's.
        "tokyo_dec21": fixed(tokyo, dt.date(2026, 12, 21), title="Tokyo Dec 21"),
        "ny_dec21": fixed(new_york, dt.date(2026, 12, 21), title="New York Dec 21"),
        "archived": fixed(tokyo, dt.date(2026, 1, 5), title="Archived one"),
    }
    milestone_archive(milestone=ms["archived"], by=None)
    return ms


def test_due_soon_counts_days_in_each_agreement_zone(record):
    due = set(selectors.milestones_due_within(NOW, 30).values_list("title", flat=True))
    assert due == {"New York 20th", "Tokyo Dec 21"}


def test_the_index_lists_what_needs_attention(client, alice, record):
    logentry_create(
        by=alice,
        milestone=record["ny_20"],
        on=dt.date(2026, 11, 1),
        kind=LogEntry.Kind.CHECKED,
        text="Nothing yet.",
        source_address="https://example.org/ministerial",
    )
    Alert.objects.create(
        milestone=record["tokyo_20"],
        kind="overdue",
        recipient="ed@example.org",
        due_on=dt.date(2026, 11, 20),
        created_at=NOW,
        next_attempt_at=NOW,
        failed=True,
    )
    client.force_login(alice)
    page = client.get(reverse("admin:index")).content.decode()
    section = page[page.index('id="needs-attention"') :]
    section = section[: section.index("</table>")]
    counts = [
        int(chunk.split("</strong>")[0].rsplit(">", 1)[1])
        for chunk in section.split('class="attention-count"')[1:]
    ]
    # overdue, due in 30 days, failed alerts, commitments and milestones unchecked (the
    # check of New York's milestone is a check of its commitment: only Tokyo's is left),
    # findings to review (none here; tests/intake/test_admin.py lists some), then the
    # Japanese versions, then cited pages dead, without their words, not archived
    # (tests/archive/test_attention.py)
    assert counts[:6] == [1, 2, 1, 1, 3, 0] and counts[-3:] == [0, 0, 0]
    assert "Tokyo 20th" in section and "since 2026-11-21 00:00 JST" in section
    assert "2026-11-20 (America/New_York)" in section
    assert "Archived one" not in section


def test_the_index_runs_a_constant_number_of_queries(client, alice, record):
    client.force_login(alice)
    url = reverse("admin:index")
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    commitment = record["tokyo_20"].commitment
    for i in range(500):
        MilestoneFactory.build(
            commitment=commitment, key=f"bulk-{i}", rule_kind="days_after", rule_amount=i
        ).save()
    refresh_deadlines(commitment.agreement)
    with CaptureQueriesContext(connection) as large:
        page = client.get(url)
    assert len(large.captured_queries) == len(small.captured_queries)
    assert page.content.decode().count('class="attention-row"') >= 8


def test_the_index_counts_the_records_without_a_japanese_version(client, alice, record):
    from commitments.services import milestone_edit

    tokyo = record["tokyo_20"]
    milestone_edit(
        milestone=tokyo, expected_version=tokyo.version, changes={"title_ja": "東京"}, by=alice
    )
    client.force_login(alice)
    page = client.get(reverse("admin:index")).content.decode()
    section = page[page.index("Without a Japanese version") :]
    # Two commitments and three current milestones (one has its Japanese, one is archived).
    assert "2 commitments" in section and "3 milestones" in section
    listed = client.get(reverse("admin:commitments_milestone_changelist") + "?japanese=missing")
    titles = {m.title for m in listed.context["cl"].result_list}
    assert "Tokyo 20th" not in titles and "New York 20th" in titles
