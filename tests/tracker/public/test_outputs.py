"""What readers take away: the calendar, the feed, the badges, the picture and the
CSV, each parsed back with a library no one here wrote."""

from __future__ import annotations

import csv
import datetime as dt
import io

import feedparser
import pytest
from icalendar import Calendar

from commitments.deadlines import DeadlineRule, RuleKind
from commitments.models import Assessment, LogEntry, Milestone, Status
from commitments.services import milestone_revise_deadline, milestone_set_status
from tests.tracker.public.conftest import EVIDENCE
from tracker.alerts import sweep

pytestmark = pytest.mark.usefixtures("frozen")


def events(body: bytes) -> dict[str, object]:
    return {str(e["uid"]): e for e in Calendar.from_ical(body).walk("VEVENT")}


def test_the_ministerial_is_an_all_day_event_on_its_due_date(client, ministerial):
    slug = ministerial.commitment.agreement.slug
    body = client.get(f"/agreements/{slug}/calendar.ics").content
    assert b"DTSTART;VALUE=DATE:20260426" in body
    parsed = events(body)
    (event,) = [e for e in parsed.values() if str(e["summary"]).startswith("Due: Mining")]
    assert event.decoded("dtstart") == dt.date(2026, 4, 26)
    assert "180 days after signature on 2025-10-28" in str(event["description"])
    assert str(event["url"]).endswith(f"/milestones/{ministerial.pk}/")
    dated = Milestone.objects.filter(commitment__agreement__slug=slug, due_on__isnull=False)
    assert len(parsed) == dated.count()
    assert set(events(client.get("/calendar.ics").content)) >= set(parsed)


def test_a_moved_date_changes_the_same_event(client, ministerial):
    slug = ministerial.commitment.agreement.slug
    before = events(client.get(f"/agreements/{slug}/calendar.ics").content)
    milestone_revise_deadline(
        milestone=ministerial,
        rule=DeadlineRule(kind=RuleKind.FIXED, fixed_date=dt.date(2026, 12, 15)),
        reason="Rescheduled",
        source="https://example.org/rescheduled",
        by=None,
    )
    after = events(client.get(f"/agreements/{slug}/calendar.ics").content)
    uid = f"milestone-{ministerial.pk}@127.0.0.1"
    assert set(before) == set(after) and uid in after
    assert after[uid].decoded("dtstart") == dt.date(2026, 12, 15)
    assert int(after[uid]["sequence"]) > int(before[uid]["sequence"])


def test_the_feed_is_valid_atom_with_every_kind_of_change(client, ministerial, alice):
    c = ministerial.commitment
    sweep.run()
    milestone_set_status(
        milestone=ministerial,
        status=Status.COMPLETED,
        by=alice,
        evidence_url=EVIDENCE,
        completed_on=dt.date(2026, 11, 20),
    )
    c.assessment, c.assessed_on = Assessment.PARTLY_KEPT, dt.date(2026, 11, 20)
    c.save()
    LogEntry.objects.create(
        key="log-1",
        commitment=c,
        on=dt.date(2026, 11, 19),
        kind=LogEntry.Kind.PROGRESS,
        text="Date announced for the Ministerial.",
        source_address="https://example.org/announced",
    )
    for url in (f"/agreements/{c.agreement.slug}/feed.atom", "/feed.atom"):
        feed = feedparser.parse(client.get(url).content)
        assert feed.bozo == 0, feed.get("bozo_exception")
        titles = [e.title for e in feed.entries]
        assert any(t.startswith("Overdue: Mining") for t in titles)
        assert any("Not started → Completed" in t for t in titles)
        assert any(t.startswith("Assessed “Partly kept”") for t in titles)
        assert any(t.startswith("Progress: Date announced") for t in titles)
        overdue = next(e for e in feed.entries if e.title.startswith("Overdue: Mining"))
        assert overdue.updated == "2026-04-26T15:00:00+00:00"  # 2026-04-27 00:00 JST


def test_badges_say_overdue_days_and_lateness_with_etag_and_cache_control(client, ministerial):
    response = client.get(f"/badges/milestones/{ministerial.pk}.svg")
    assert response["Content-Type"] == "image/svg+xml"
    assert b"overdue 209 days" in response.content
    assert "max-age=" in response["Cache-Control"] and "public" in response["Cache-Control"]
    again = client.get(
        f"/badges/milestones/{ministerial.pk}.svg", HTTP_IF_NONE_MATCH=response["ETag"]
    )
    assert again.status_code == 304
    data = client.get(f"/badges/milestones/{ministerial.pk}.json").json()
    assert data["schemaVersion"] == 1 and data["message"] == "overdue 209 days"
    assert data["color"] == "b91c1c"


def test_a_badge_answers_every_precondition_as_django_does(client, ministerial):
    """RFC 9110 through Django's get_conditional_response: a 304 for any copy
    (If-None-Match: *), a 412 when If-Match names another version."""
    url = f"/badges/milestones/{ministerial.pk}.svg"
    etag = client.get(url)["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH="*").status_code == 304
    assert client.get(url, HTTP_IF_MATCH='"another"').status_code == 412
    assert client.get(url, HTTP_IF_MATCH=etag).status_code == 200


def test_a_badge_says_how_late_a_completion_was(client, ministerial, alice):
    milestone_set_status(
        milestone=ministerial,
        status=Status.COMPLETED,
        by=alice,
        evidence_url=EVIDENCE,
        completed_on=dt.date(2026, 4, 29),
    )
    data = client.get(f"/badges/milestones/{ministerial.pk}.json").json()
    assert data["message"] == "completed 3 days late"
    slug = ministerial.commitment.agreement.slug
    agreement = client.get(f"/badges/agreements/{slug}.json").json()
    assert "done" in agreement["message"]


def test_the_timeline_is_downloadable_as_svg_and_png(client, ministerial, alice):
    slug = ministerial.commitment.agreement.slug
    svg = client.get(f"/agreements/{slug}/timeline.svg")
    assert svg["Content-Type"] == "image/svg+xml"
    body = svg.content.decode()
    assert "<title" in body and "<desc" in body and 'class="tl-overdue"' in body
    png = client.get(f"/agreements/{slug}/timeline.png")
    assert png["Content-Type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    milestone_set_status(
        milestone=ministerial,
        status=Status.COMPLETED,
        by=alice,
        evidence_url=EVIDENCE,
        completed_on=dt.date(2026, 4, 29),
    )
    late = client.get(f"/agreements/{slug}/timeline.svg").content.decode()
    assert 'class="tl-late"' in late and "completed 3 days late" in late
    day180 = client.get(f"/agreements/{slug}/timeline.svg?as_of=2026-04-26").content.decode()
    assert "As of 2026-04-26" in day180 and "tl-overdue" not in day180


def test_the_csv_lists_every_milestone_of_the_agreement(client, ministerial):
    slug = ministerial.commitment.agreement.slug
    response = client.get(f"/agreements/{slug}/milestones.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == Milestone.objects.filter(commitment__agreement__slug=slug).count()
    row = next(r for r in rows if r["milestone_key"] == ministerial.key)
    assert (row["due_on"], row["overdue"], row["days_overdue"]) == ("2026-04-26", "yes", "209")


def test_the_csv_of_a_past_day_shows_the_assessment_of_that_day(client, ministerial):
    c = ministerial.commitment
    c.assessment, c.assessed_on = Assessment.PARTLY_KEPT, dt.date(2026, 11, 20)
    c.save()
    slug = c.agreement.slug
    for query, shown in [
        ("", ("partly_kept", "2026-11-20")),
        ("?as_of=2026-04-26", ("not_yet_rated", "")),
    ]:
        response = client.get(f"/agreements/{slug}/milestones.csv{query}")
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
        row = next(r for r in rows if r["milestone_key"] == ministerial.key)
        assert (row["assessment"], row["assessed_on"]) == shown, query


# Cells that a spreadsheet would run as a formula (OWASP: = + - @ tab and carriage return).
FORMULAS = ["=HYPERLINK(1)", "+1+1", "-2+3", "@SUM(1)", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("title", FORMULAS)
def test_no_cell_of_the_csv_is_a_formula(client, ministerial, title):
    """Issue 21, item 6: the public CSV passed all six through unchanged."""
    Milestone.objects.filter(pk=ministerial.pk).update(title=title)
    slug = ministerial.commitment.agreement.slug
    response = client.get(f"/agreements/{slug}/milestones.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode(), newline="")))
    row = next(r for r in rows if r["milestone_key"] == ministerial.key)
    assert row["milestone"] == "'" + title


@pytest.mark.parametrize(
    "url",
    [
        "/badges/agreements/no-such-agreement.svg",
        "/badges/agreements/no-such-agreement.json",
        "/badges/commitments/999999.svg",
        "/badges/commitments/999999.json",
        "/badges/milestones/999999.svg",
        "/badges/milestones/999999.json",
    ],
)
def test_a_badge_for_an_unknown_id_is_a_problem_404(client, db, url):
    """Issue 21, item 19: it was Django's HTML 404."""
    response = client.get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404 and response.json()["instance"] == url


@pytest.mark.parametrize(
    "path",
    [
        "/badges/agreements/{slug}.svg",
        "/badges/agreements/{slug}.json",
        "/badges/milestones/{pk}.json",
        "/agreements/{slug}/calendar.ics",
        "/calendar.ics",
        "/agreements/{slug}/feed.atom",
        "/feed.atom",
    ],
)
@pytest.mark.parametrize("as_of", ["yesterday", "2026-02-30", "2099-01-01"])
def test_a_bad_as_of_is_a_400_on_badges_calendars_and_feeds(client, ministerial, path, as_of):
    """Issue 21, item 19: they answered 200 as if it were not there; pages say 400."""
    slug = ministerial.commitment.agreement.slug
    url = path.format(slug=slug, pk=ministerial.pk)
    response = client.get(url, {"as_of": as_of})
    assert response.status_code == 400, url
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "as_of"
    assert client.get(url).status_code == 200
