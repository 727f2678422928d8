"""The sweep held to ``Milestone.is_overdue_at`` and ``Milestone.objects.overdue_at``
on generated milestones and instants: the three say the same."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from commitments.models import Milestone, Status
from tests.factories import MilestoneFactory
from tracker.alerts import sweep

BASE = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


class TestSweepPredicate(HypothesisTestCase):
    @settings(max_examples=40, deadline=None)
    @given(
        rows=st.lists(
            st.tuples(
                st.one_of(st.none(), st.integers(-5 * 86400, 5 * 86400)),  # overdue_from
                st.sampled_from(Status.values),
                st.booleans(),  # flagged already
            ),
            min_size=1,
            max_size=8,
        ),
        offset=st.integers(-86400, 86400),
    )
    def test_sql_queryset_and_python_agree(self, rows, offset):
        now = BASE + dt.timedelta(seconds=offset)
        milestones = []
        for seconds, status, flagged in rows:
            m = MilestoneFactory()
            Milestone.objects.filter(pk=m.pk).update(
                overdue_from=None if seconds is None else BASE + dt.timedelta(seconds=seconds),
                status=status,
                overdue_since=BASE if flagged else None,
            )
            m.refresh_from_db()
            milestones.append(m)
        ours = Milestone.objects.filter(pk__in=[m.pk for m in milestones])

        in_python = {m.pk for m in milestones if m.is_overdue_at(now)}
        in_queryset = set(ours.overdue_at(now).values_list("pk", flat=True))
        assert in_python == in_queryset

        to_flag = {m.pk for m in milestones if m.is_overdue_at(now) and not m.overdue_since}
        to_clear = {m.pk for m in milestones if not m.is_overdue_at(now) and m.overdue_since}
        assert set(sweep.to_flag(now).filter(pk__in=ours).values_list("pk", flat=True)) == to_flag
        assert set(sweep.to_clear(now).filter(pk__in=ours).values_list("pk", flat=True)) == to_clear

        # And the sweep itself: afterwards the flag is exactly the Python predicate.
        result = sweep.run(now=now)
        assert (result.flagged, result.cleared) == (len(to_flag), len(to_clear))
        flagged = set(ours.filter(overdue_since__isnull=False).values_list("pk", flat=True))
        assert flagged == in_python
