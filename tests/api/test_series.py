"""A recurring obligation in the API (issue 21, item 1): Malaysia's quarterly
working-level meetings, first due 2026-01-26, on 2026-12-07. The series says what it
is (its rule in words, met, missed, next due) and lists its occurrences; each
occurrence names its series; ``?series=<id>`` lists them. Counted by the same rule as
the public pages (``commitments.selectors.SeriesSummary``)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commitments.deadlines import DeadlineRule, RuleKind
from commitments.models import Milestone, Status
from commitments.series import series_extend
from commitments.services import milestone_revise_deadline, milestone_set_status
from tests.api.conftest import client_for
from tests.conftest import MEETINGS_AT as NOW
from tests.factories import MilestoneFactory

QUARTERS = ["2026-01-26", "2026-04-26", "2026-07-26", "2026-10-26", "2027-01-26"]
EVIDENCE = "https://www.miti.gov.my/index.php/pages/view/working-level-meeting-q2-2026"


@pytest.fixture(autouse=True)
def frozen(meetings):
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def get(api, url: str) -> dict:
    response = api.get(url)
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def hold_second_quarter(meetings: Milestone, alice) -> Milestone:
    april = meetings.occurrences.get(due_on=dt.date(2026, 4, 26))
    milestone_set_status(
        milestone=april,
        status=Status.COMPLETED,
        by=alice,
        note="Q2 2026 meeting held in Kuala Lumpur",
        evidence_url=EVIDENCE,
        completed_on=dt.date(2026, 4, 28),
    )
    return april


def test_the_series_says_its_rule_in_words_and_counts_its_occurrences(api, meetings, alice):
    hold_second_quarter(meetings, alice)
    body = get(api, f"/api/v1/milestones/{meetings.pk}/")
    assert body["series"] == {
        "id": meetings.pk,
        "url": f"http://testserver/api/v1/milestones/{meetings.pk}/",
        "rule": "every 3 months from 26 January 2026",
        "met": 1,
        "late": 1,  # held on the 28th, two days after its date
        "missed": 3,
        "cancelled": 0,
        "next_due": "2027-01-26",
        "summary": "1 met (1 late), 3 missed; next due 2027-01-26",
    }
    # The obligation itself has no date, so it is never overdue itself.
    assert (body["due_on"], body["is_overdue"]) == (None, False)


def test_the_series_lists_each_occurrence_met_missed_or_next_due(api, meetings, alice):
    april = hold_second_quarter(meetings, alice)
    occurrences = get(api, f"/api/v1/milestones/{meetings.pk}/")["occurrences"]
    assert [o["due_on"] for o in occurrences] == QUARTERS
    assert [o["outcome"] for o in occurrences] == ["missed", "met", "missed", "missed", "next_due"]
    held = occurrences[1]
    assert held == {
        "id": april.pk,
        "url": f"http://testserver/api/v1/milestones/{april.pk}/",
        "due_on": "2026-04-26",
        "status": "completed",
        "completed_on": "2026-04-28",
        "outcome": "met",
    }
    assert occurrences[0]["status"] == "not_started"


def test_the_words_and_counts_are_the_public_pages(api, client, meetings, alice):
    hold_second_quarter(meetings, alice)
    series = get(api, f"/api/v1/milestones/{meetings.pk}/")["series"]
    page = client.get(f"/milestones/{meetings.pk}/").content.decode()
    assert series["summary"] in page
    assert series["rule"][:1].upper() + series["rule"][1:] in page


def test_an_occurrence_names_its_series_and_lists_none(api, meetings):
    first = meetings.occurrences.get(due_on=dt.date(2026, 1, 26))
    body = get(api, f"/api/v1/milestones/{first.pk}/")
    assert body["series"]["id"] == meetings.pk
    assert body["series"]["rule"] == "every 3 months from 26 January 2026"
    assert body["series"]["summary"] == "0 met, 4 missed; next due 2027-01-26"
    assert body["occurrences"] is None
    # The occurrence is the one overdue, since midnight after its date in Kuala Lumpur.
    assert body["is_overdue"] and body["overdue_from"] == "2026-01-26T16:00:00Z"


def test_any_other_milestone_has_neither(api, meetings):
    other = Milestone.objects.get(key="ministerial-convened")
    body = get(api, f"/api/v1/milestones/{other.pk}/")
    assert (body["series"], body["occurrences"]) == (None, None)


def test_a_commitment_names_the_series_of_its_milestones(api, meetings):
    body = get(api, f"/api/v1/commitments/{meetings.commitment_id}/")
    series = {m["key"]: m["series"] for m in body["milestones"]}
    assert len(series) == 6  # the obligation and its five occurrences
    assert {s["id"] for s in series.values()} == {meetings.pk}
    assert series["working-level-meeting"]["summary"] == "0 met, 4 missed; next due 2027-01-26"
    assert "occurrences" not in body["milestones"][0]  # listed beside it, not again
    other = get(
        api,
        f"/api/v1/commitments/{Milestone.objects.get(key='ministerial-convened').commitment_id}/",
    )
    assert [m["series"] for m in other["milestones"]] == [None]


def test_the_series_filter_lists_its_occurrences_by_due_date(api, meetings):
    body = get(api, f"/api/v1/milestones/?series={meetings.pk}")
    assert [m["due_on"] for m in body["results"]] == QUARTERS
    assert {m["series"]["id"] for m in body["results"]} == {meetings.pk}
    overdue = get(api, f"/api/v1/milestones/?series={meetings.pk}&overdue=true")
    assert [m["due_on"] for m in overdue["results"]] == QUARTERS[:4]
    other = Milestone.objects.get(key="ministerial-convened")
    assert get(api, f"/api/v1/milestones/?series={other.pk}")["count"] == 0


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", "99999999999999999999"])
def test_a_bad_series_is_a_400_naming_it(api, meetings, value):
    response = api.get(f"/api/v1/milestones/?series={value}")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in json.loads(response.content)["errors"]] == ["series"]


def test_an_occurrence_met_through_the_api_changes_its_series(api, meetings, alice):
    """Staff record an occurrence like any milestone; the series' copy a client holds
    is not modified any more (no stale 304)."""
    first = meetings.occurrences.get(due_on=dt.date(2026, 1, 26))
    before = api.get(f"/api/v1/milestones/{meetings.pk}/")
    editor = client_for(alice)
    etag = editor.get(f"/api/v1/milestones/{first.pk}/")["ETag"]
    changed = editor.patch(
        f"/api/v1/milestones/{first.pk}/",
        {"status": "completed", "evidence_url": EVIDENCE, "completed_on": "2026-01-26"},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert changed.status_code == 200, changed.content
    assert json.loads(changed.content)["series"]["summary"] == (
        "1 met, 3 missed; next due 2027-01-26"
    )
    again = api.get(f"/api/v1/milestones/{meetings.pk}/", HTTP_IF_NONE_MATCH=before["ETag"])
    assert again.status_code == 200
    assert json.loads(again.content)["occurrences"][0]["outcome"] == "met"


def weekly_series() -> Milestone:
    weekly = MilestoneFactory(rule_kind="days_after", rule_amount=1)
    milestone_revise_deadline(
        milestone=weekly,
        rule=DeadlineRule(kind=RuleKind.RECURRING, rrule="FREQ=WEEKLY"),
        reason="Weekly",
        source="https://example.org/weekly",
        by=None,
    )
    series_extend(now=NOW)
    return weekly


def test_queries_do_not_grow_with_the_occurrences(api, meetings):
    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get(url).status_code == 200
        return len(queries)

    def urls(series: Milestone) -> list[str]:
        first = series.occurrences.order_by("due_on").first()
        assert first is not None
        return [
            f"/api/v1/milestones/{series.pk}/",
            f"/api/v1/milestones/{first.pk}/",
            f"/api/v1/milestones/?series={series.pk}&page_size=200",
            f"/api/v1/commitments/{series.commitment_id}/",
        ]

    few = [count(u) for u in urls(meetings)]
    weekly = weekly_series()
    assert weekly.occurrences.count() == 58
    assert [count(u) for u in urls(weekly)] == few
    # A page holding both series and their occurrences: one query more than a page
    # without any series (the occurrences of every series on it).
    assert count("/api/v1/milestones/?page_size=200") <= 7
    # counter, time zones, count, page, parties, leads, their parties, sources,
    # milestones, the occurrences of the series among them, counter
    assert count("/api/v1/commitments/?page_size=200") <= 11
    assert few[0] <= 7


def test_a_page_without_a_series_reads_no_occurrences(api, meetings, django_assert_max_num_queries):
    japan = "/api/v1/milestones/?agreement=us-japan-critical-minerals-2025"
    with django_assert_max_num_queries(6):  # as tests/api/test_queries.py
        assert api.get(japan).status_code == 200
