"""A recurring obligation as readers see it (issue 21, item 1): Malaysia's quarterly
working-level meetings, first due 2026-01-26, on 2026-12-07. The series reads as a
series (met, missed, next due, the rule in words); it is never "overdue 315 days",
and no page or calendar shows the rule's RRULE text."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from icalendar import Calendar

from commitments.deadlines import DeadlineRule, RuleKind
from commitments.models import LogEntry, Milestone, Status
from commitments.series import series_extend
from commitments.services import (
    logentry_create,
    milestone_revise_deadline,
    milestone_set_status,
)
from tests.conftest import MEETINGS_AT as NOW
from tests.factories import MilestoneFactory

SLUG = "us-malaysia-critical-minerals-2025"
MISSED = ["2026-01-26", "2026-04-26", "2026-07-26", "2026-10-26"]
EVIDENCE = "https://www.miti.gov.my/index.php/pages/view/working-level-meeting-q2-2026"


@pytest.fixture(autouse=True)
def frozen(meetings):
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def text(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def hold_second_quarter(meetings: Milestone, alice) -> Milestone:
    april = meetings.occurrences.get(due_on=dt.date(2026, 4, 26))
    milestone_set_status(
        milestone=april,
        status=Status.COMPLETED,
        by=alice,
        note="Q2 2026 meeting held in Kuala Lumpur",
        evidence_url=EVIDENCE,
        completed_on=dt.date(2026, 4, 24),
    )
    return april


def test_the_agreement_counts_the_occurrences_and_names_the_next_one(client, meetings):
    page = text(client.get(f"/agreements/{SLUG}/"))
    assert "overdue 315 days" not in page
    assert "none ahead: every dated deadline has passed" not in page
    assert "<dt>Next deadline</dt><dd>2027-01-26</dd>" in page
    assert '<strong class="overdue">4 overdue</strong>' in page
    # Listed once, in words, with its occurrences in brief.
    assert page.count(f'href="/milestones/{meetings.pk}/"') == 1
    assert "Recurring: every 3 months from 26 January 2026" in page
    assert "next 2027-01-26" in page and "0 met, 4 missed; next due 2027-01-26" in page
    assert "FREQ=" not in page and "RRULE" not in page


def test_the_home_card_counts_the_occurrences(client, meetings):
    page = text(client.get("/"))
    card = page[page.index(f'href="/agreements/{SLUG}/"') :]
    card = card[: card.index("</article>")]
    assert '<strong class="overdue">4 overdue</strong>' in card
    assert "<dt>Next deadline</dt><dd>2027-01-26</dd>" in card


def test_the_series_page_lists_each_occurrence_missed_or_met_with_its_evidence(
    client, meetings, alice
):
    april = hold_second_quarter(meetings, alice)
    page = text(client.get(f"/milestones/{meetings.pk}/"))
    assert "Every 3 months from 26 January 2026, counted from signature on 2025-10-26" in page
    assert "<dt>Next due</dt><dd>2027-01-26</dd>" in page
    verdict = page[page.index('<p class="verdict">') :]
    verdict = verdict[: verdict.index("</p>")]
    assert "1 met, 3 missed; next due 2027-01-26" in verdict  # the series, not a meeting
    assert "FREQ=" not in page
    table = page[page.index('id="occurrences-h"') : page.index('id="history-h"')]
    rows = table.split("<tr>")[2:]
    due = [re.search(r'">(\d{4}-\d\d-\d\d)</a></th>', r).group(1) for r in rows]
    assert due == [*MISSED, "2027-01-26"]
    january, held, *_, ahead = rows
    assert "overdue 315 days" in january and "no evidence" in january
    assert f'href="/milestones/{april.pk}/"' in held and "completed on time" in held
    assert f'<a href="{EVIDENCE}">' in held
    assert "next due" in ahead


def test_an_occurrence_page_links_its_series(client, meetings):
    first = meetings.occurrences.get(due_on=dt.date(2026, 1, 26))
    page = text(client.get(f"/milestones/{first.pk}/"))
    assert f'One occurrence of <a href="/milestones/{meetings.pk}/">' in page
    assert "One occurrence (26 January 2026) of a recurring obligation: every 3 months" in page
    assert "overdue 315 days" in page  # this meeting, not the obligation


def test_the_series_page_as_of_a_past_day(client, meetings):
    page = text(client.get(f"/milestones/{meetings.pk}/?as_of=2026-05-01"))
    assert "0 met, 2 missed; next due 2026-07-26" in page


def test_the_calendar_has_one_event_per_occurrence_and_no_rrule(client, meetings, alice):
    hold_second_quarter(meetings, alice)
    body = client.get(f"/agreements/{SLUG}/calendar.ics").content
    assert b"RRULE" not in body and b"FREQ=" not in body
    found = {
        e.decoded("dtstart"): e
        for e in Calendar.from_ical(body).walk("VEVENT")
        if "working-level" in str(e["summary"])
    }
    assert sorted(found) == [dt.date.fromisoformat(d) for d in [*MISSED, "2027-01-26"]]
    april = found[dt.date(2026, 4, 26)]
    assert "Status: Completed" in str(april["description"])
    assert "every 3 months from 26 January 2026" in str(april["description"])
    assert len({str(e["uid"]) for e in found.values()}) == 5


def test_the_timeline_draws_the_series_in_one_lane(client, meetings):
    svg = text(client.get(f"/agreements/{SLUG}/timeline.svg"))
    assert svg.count(">Quarterly working-level meeting held<") == 2  # text and its halo
    assert "0 met, 4 missed; next due 2027-01-26" in svg
    assert "every 3 months from 26 January 2026" in svg  # the description
    assert "overdue 315 days" not in svg


def test_the_badge_of_the_series_counts_its_occurrences(client, meetings):
    badge = client.get(f"/badges/milestones/{meetings.pk}.json").json()
    assert badge["message"] == "0 met, 4 missed; next due 2027-01-26"


def test_the_commitment_page_lists_the_series_once(client, meetings):
    c = meetings.commitment
    page = text(client.get(f"/agreements/{SLUG}/commitments/{c.key}/"))
    table = page.split('<table class="milestones"')[1].split("</table>")[0]
    assert table.count('href="/milestones/') == 1
    # Elsewhere (the record's dated check) the page links the series, never an occurrence.
    assert set(re.findall(r'href="/milestones/(\d+)/"', page)) == {str(meetings.pk)}
    assert "0 met, 4 missed; next due 2027-01-26" in page


def test_a_series_page_reads_as_many_queries_for_40_occurrences_as_for_5(client, meetings):
    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    def urls(m: Milestone) -> list[str]:
        slug = m.commitment.agreement.slug
        pages = [f"/milestones/{m.pk}/", f"/agreements/{slug}/", f"/badges/milestones/{m.pk}.svg"]
        pages += [f"{u}?as_of=2026-11-01" for u in pages[:2]]
        return [*pages, f"/agreements/{slug}/calendar.ics", f"/agreements/{slug}/timeline.svg"]

    few = [count(u) for u in urls(meetings)]
    weekly = MilestoneFactory(rule_kind="days_after", rule_amount=1)
    milestone_revise_deadline(
        milestone=weekly,
        rule=DeadlineRule(kind=RuleKind.RECURRING, rrule="FREQ=WEEKLY"),
        reason="Weekly",
        source="https://example.org/weekly",
        by=None,
    )
    series_extend(now=NOW)
    assert weekly.occurrences.count() == 58  # 2025-11-04 … 2026-12-08
    # Like the shipped series, one dated check in its log (its entries are read in a
    # query of their own, only when there are some).
    logentry_create(
        by=None,
        on=dt.date(2026, 12, 7),
        kind=LogEntry.Kind.CHECKED,
        text="Searched for this week's meeting; none was found.",
        source_address="https://example.org/weekly-check",
        source_kind="summary",
        milestone=weekly,
    )
    assert [count(u) for u in urls(weekly)] == few
