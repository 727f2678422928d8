from __future__ import annotations

import datetime as dt

import time_machine
from django.utils import timezone

from commitments.models import Status
from commitments.selectors import (
    agreements_with_progress,
    commitments_with_progress,
    derived_status,
    progress_of,
)
from commitments.services import milestone_set_status

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def test_agreement_progress_is_counted_in_one_query(agreements, alice, django_assert_num_queries):
    with time_machine.travel(NOW, tick=False):
        from commitments.models import Milestone

        m = Milestone.objects.get(key="group-established")
        milestone_set_status(
            milestone=m,
            status=Status.COMPLETED,
            by=alice,
            evidence_url="https://example.org/group",
            completed_on=dt.date(2026, 2, 1),
        )
        with django_assert_num_queries(1):
            rows = {a.slug: progress_of(a) for a in agreements_with_progress(timezone.now())}
    us_japan = rows["us-japan-critical-minerals-2025"]
    assert us_japan["total"] == 15 and us_japan["completed"] == 1
    assert us_japan["not_started"] == 14 and us_japan["overdue"] == 0
    assert us_japan["percent_complete"] == round(100 / 15, 1)
    assert us_japan["next_deadline"] == dt.date(2026, 4, 26)


def test_overdue_and_next_deadline_move_with_time(agreements):
    later = dt.datetime(2026, 4, 27, tzinfo=dt.UTC)
    row = progress_of(agreements_with_progress(later).get(slug="us-japan-critical-minerals-2025"))
    assert row["overdue"] == 1 and row["next_deadline"] == dt.date(2026, 4, 28)


def test_a_commitment_with_an_overdue_milestone_reads_overdue(agreements):
    now = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    by_key = {c.key: derived_status(progress_of(c)) for c in commitments_with_progress(now)}
    assert by_key["investment-ministerial"] == "overdue"
    assert by_key["stockpiling"] == Status.NOT_STARTED
