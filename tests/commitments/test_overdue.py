from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from commitments import services
from commitments.models import Milestone, Status
from tests.factories import MilestoneFactory

OVERDUE_FROM = dt.datetime(2026, 4, 26, 15, 0, tzinfo=dt.UTC)  # 2026-04-27 00:00 JST


@pytest.mark.parametrize(
    ("now", "overdue"),
    [
        (OVERDUE_FROM - dt.timedelta(microseconds=1), False),
        (OVERDUE_FROM, True),
        (dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC), True),
    ],
)
def test_the_ministerial_becomes_overdue_at_midnight_tokyo(ministerial, now, overdue):
    assert ministerial.due_on == dt.date(2026, 4, 26)
    assert ministerial.is_overdue_at(now) is overdue
    in_sql = Milestone.objects.overdue_at(now).filter(pk=ministerial.pk).exists()
    assert in_sql is overdue


def test_completed_and_cancelled_milestones_are_never_overdue(
    ministerial, project_selection, alice
):
    now = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    with time_machine.travel(now, tick=False):
        services.milestone_set_status(
            milestone=ministerial,
            status=Status.COMPLETED,
            by=alice,
            evidence_url="https://example.org/ministerial",
            completed_on=dt.date(2026, 4, 20),
        )
        services.milestone_set_status(
            milestone=project_selection, status=Status.CANCELLED, by=alice, note="Superseded"
        )
    for m in (ministerial, project_selection):
        m.refresh_from_db()
        assert not m.is_overdue_at(now)
    assert (
        not Milestone.objects.overdue_at(now)
        .filter(pk__in=[ministerial.pk, project_selection.pk])
        .exists()
    )


def test_the_admin_and_the_queryset_agree_at_2026_11_21(agreements):
    with time_machine.travel(dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC), tick=False):
        now = timezone.now()
        in_python = {m.key for m in Milestone.objects.all() if m.is_overdue_at(now)}
        in_sql = set(Milestone.objects.overdue_at(now).values_list("key", flat=True))
    # US–Japan's two, US–Australia's money, follow-up and Ministerial, Malaysia's four
    # quarterly meetings (each occurrence on its own; the series itself never).
    assert (
        in_python
        == in_sql
        == {
            "ministerial-convened",
            "projects-selected-and-funded",
            "projects-funded",
            "follow-up-meeting",
            "investment-ministerial-convened",
            "working-level-meeting-2026-01-26",
            "working-level-meeting-2026-04-26",
            "working-level-meeting-2026-07-26",
            "working-level-meeting-2026-10-26",
        }
    )


class TestPredicateAgreement(HypothesisTestCase):
    """The Python predicate and the SQL one, held against each other."""

    @settings(max_examples=60, deadline=None)
    @given(
        days=st.integers(min_value=0, max_value=400),
        zone=st.sampled_from(["Asia/Tokyo", "America/New_York", "Pacific/Kiritimati"]),
        status=st.sampled_from(Status.values),
        offset=st.integers(min_value=-3 * 86400, max_value=3 * 86400),
    )
    def test_python_and_sql_agree(self, days, zone, status, offset):
        m = MilestoneFactory(rule_amount=days, commitment__agreement__time_zone=zone)
        Milestone.objects.filter(pk=m.pk).update(status=status)
        m.refresh_from_db()
        now = m.overdue_from + dt.timedelta(seconds=offset)
        assert m.is_overdue_at(now) == Milestone.objects.overdue_at(now).filter(pk=m.pk).exists()
        assert (
            m.is_overdue_at(now) != Milestone.objects.not_overdue_at(now).filter(pk=m.pk).exists()
        )
