"""Every page type reads a constant number of queries, whatever the number of
milestones: the same count for 5 as for 500."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commitments import deadlines
from commitments.models import Milestone, MilestonePart, StatusUpdate
from tests.factories import AgreementFactory, CommitmentFactory, PartyFactory

pytestmark = pytest.mark.usefixtures("frozen")


def build(n: int):
    """An agreement of ``n`` milestones over 5 commitments, each with two parties'
    parts and a status change in its history."""
    a = AgreementFactory()
    us, jp = PartyFactory(code="US", name="United States"), PartyFactory(code="JP", name="Japan")
    a.parties.add(us, jp)
    commitments = [CommitmentFactory(agreement=a, number=i) for i in range(5)]
    for c in commitments:
        c.parties.add(us, jp)
    ms = []
    for i in range(n):
        due = a.signed_on + dt.timedelta(days=30 + i)
        ms.append(
            Milestone(
                commitment=commitments[i % 5],
                key=f"m-{i}",
                title=f"Milestone {i}",
                rule_kind="days_after",
                rule_amount=30 + i,
                due_on=due,
                overdue_from=deadlines.overdue_at(due, a.time_zone),
                status="in_progress" if i % 2 else "not_started",
            )
        )
    ms = Milestone.objects.bulk_create(ms)
    MilestonePart.objects.bulk_create(
        [MilestonePart(milestone=m, party=p) for m in ms for p in (us, jp)]
    )
    StatusUpdate.objects.bulk_create(
        [
            StatusUpdate(
                milestone=m,
                at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                from_status="not_started",
                to_status="in_progress",
            )
            for m in ms
            if m.status == "in_progress"
        ]
    )
    return a, commitments[0], ms[0]


def urls(a, c, m) -> list[str]:
    pages = ["/", f"/agreements/{a.slug}/", f"/agreements/{a.slug}/commitments/{c.key}/"]
    pages.append(f"/milestones/{m.pk}/")
    pages += [f"{u}?as_of=2026-04-27" for u in pages]
    pages += [
        f"/agreements/{a.slug}/timeline.svg",
        f"/agreements/{a.slug}/milestones.csv",
        f"/agreements/{a.slug}/calendar.ics",
        f"/agreements/{a.slug}/feed.atom",
        f"/badges/agreements/{a.slug}.svg",
        f"/badges/commitments/{c.pk}.json",
    ]
    return pages


def counts(client, pages: list[str]) -> dict[str, int]:
    found = {}
    for url in pages:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200, url
        found[url.replace("/agreements/agreement-", "/a-")] = len(queries)
    return found


def test_each_page_reads_as_many_queries_for_500_milestones_as_for_5(client, db):
    small = counts(client, urls(*build(5)))
    large = counts(client, urls(*build(500)))
    # Slugs differ; compare page by page in order.
    assert list(small.values()) == list(large.values())
    assert max(large.values()) <= 12, large
    print("queries per page at 500 milestones:", large)


@pytest.mark.parametrize(
    "at",
    [
        dt.datetime(2025, 11, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 4, 27, 14, 59, tzinfo=dt.UTC),  # 23:59 in Tokyo
        dt.datetime(2026, 4, 27, 15, 0, tzinfo=dt.UTC),  # next midnight in Tokyo
        dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.UTC),
    ],
)
def test_progress_counted_in_sql_equals_progress_counted_from_states(db, at):
    """Today's progress is counted in the database (the home page) and from the
    milestones' states (the agreement page, and any past day): the two must agree, to
    the minute of a deadline."""
    from commitments.selectors import agreements_with_progress, progress_from_states, progress_of
    from tracker.public.record import Moment, milestones, rows_for

    a, _, _ = build(200)  # due dates run past 2026-04-26, day 180
    in_sql = progress_of(agreements_with_progress(at).get(pk=a.pk))
    rows = rows_for(list(milestones().filter(commitment__agreement=a)), Moment(now=at))
    assert progress_from_states(r.s for r in rows) == in_sql
    assert in_sql["total"] == 200
