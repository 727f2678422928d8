"""A constant number of queries per request, whatever the page size, with 1,000
milestones in the database."""

from __future__ import annotations

import datetime as dt

import pytest

from commitments import deadlines
from commitments.models import Milestone, MilestonePart, Status, StatusUpdate
from tests.factories import AgreementFactory, CommitmentFactory, PartyFactory

pytestmark = pytest.mark.usefixtures("frozen")


@pytest.fixture
def thousand(db) -> list[Milestone]:
    agreement = AgreementFactory()
    party = PartyFactory()
    commitments = [CommitmentFactory(agreement=agreement) for _ in range(20)]
    statuses = list(Status.values)
    milestones = []
    for i in range(1000):
        due = dt.date(2026, 1, 1) + dt.timedelta(days=i % 700)
        milestones.append(
            Milestone(
                commitment=commitments[i % 20],
                key=f"m-{i}",
                title=f"Milestone {i}",
                rule_kind="fixed",
                rule_fixed_date=due,
                due_on=due,
                overdue_from=deadlines.overdue_at(due, agreement.time_zone),
                status=statuses[i % len(statuses)],
            )
        )
    milestones = Milestone.objects.bulk_create(milestones)
    MilestonePart.objects.bulk_create(MilestonePart(milestone=m, party=party) for m in milestones)
    StatusUpdate.objects.bulk_create(
        StatusUpdate(milestone=milestones[0], from_status="not_started", to_status="in_progress")
        for _ in range(300)
    )
    return milestones


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        # counter, time zones, count, page, parts (prefetch), the counter again (the
        # body's state: conditional.ConditionalMixin.respond)
        ("/api/v1/milestones/?page_size={n}", 6),
        ("/api/v1/milestones/?page_size={n}&overdue=true&ordering=-updated_at", 6),
        # counter, time zones, count, page, parties, leads, sources, milestones, counter
        ("/api/v1/commitments/?page_size={n}", 9),
        # counter, time zones, count, page, parties, sources, counter
        ("/api/v1/agreements/?page_size={n}", 7),
        # counter, time zones, as_of, agreements, overdue, overdue count, next 10, counter
        ("/api/v1/status/", 8),
        # counter, time zones, exists, count, page, counter
        ("/api/v1/milestones/{first}/history/?page_size={n}", 6),
    ],
)
@pytest.mark.parametrize("n", [1, 200])
def test_queries_do_not_grow_with_the_page(
    api, thousand, django_assert_max_num_queries, path, limit, n
):
    with django_assert_max_num_queries(limit):
        response = api.get(path.format(n=n, first=thousand[0].pk))
    assert response.status_code == 200


def test_detail_is_a_handful_of_queries(api, thousand, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        assert api.get(f"/api/v1/milestones/{thousand[0].pk}/").status_code == 200
