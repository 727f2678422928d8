"""The public pages as a reader sees them, today and "as of" a past day."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from commitments.models import Agreement, Assessment, LogEntry, Milestone, StaffProfile, Status
from commitments.services import milestone_set_status
from tests.tracker.public.conftest import EVIDENCE
from tracker.alerts import sweep

pytestmark = pytest.mark.usefixtures("frozen")


def text(response) -> str:
    return response.content.decode()


def test_home_shows_every_agreement_as_a_card_with_its_overdue_count(client, agreements):
    page = text(client.get("/"))
    for a in Agreement.objects.all():
        assert f'href="/agreements/{a.slug}/"' in page
        assert f"Signed {a.signed_on.isoformat()}" in page
        overdue = Milestone.objects.filter(commitment__agreement=a).overdue_at(timezone.now())
        if overdue.exists():
            assert f'<strong class="overdue">{overdue.count()} overdue</strong>' in page
    assert "no dated deadline" in page or "Next deadline" in page


def test_home_says_when_the_record_was_last_checked_and_swept(client, agreements):
    a = Agreement.objects.get(slug="us-japan-critical-minerals-2025")
    LogEntry.objects.all().delete()  # the shipped log aside: this entry only
    LogEntry.objects.create(
        key="checked-1",
        agreement=a,
        on=dt.date(2026, 11, 20),
        kind=LogEntry.Kind.CHECKED,
        text="Looked for a Ministerial; found none.",
        source_address="https://www.meti.go.jp/english/",
    )
    sweep.run()
    page = text(client.get("/"))
    assert "<dt>Last checked</dt><dd>2026-11-20</dd>" in page
    assert "2026-11-21 12:00 JST" in page  # the sweep, in the agreement's zone


def test_agreement_page_links_the_day_180_view_and_draws_the_timeline(client, ministerial):
    a = ministerial.commitment.agreement
    page = text(client.get(f"/agreements/{a.slug}/"))
    assert f'href="/agreements/{a.slug}/?as_of=2026-04-26">Day 180 (2026-04-26)' in page
    assert 'role="img"' in page and f'<title id="tl-{a.pk}-title">' in page
    assert "due 2026-04-26 · overdue 209 days" in page
    assert f"/agreements/{a.slug}/timeline.png" in page
    assert f"/agreements/{a.slug}/milestones.csv" in page
    assert f"/api/v1/milestones/?agreement={a.slug}" in page
    assert f'href="/agreements/{a.slug}/commitments/{ministerial.commitment.key}/"' in page


def test_assessment_is_shown_apart_from_progress(client, ministerial):
    c = ministerial.commitment
    c.assessment, c.assessed_on = Assessment.BROKEN, dt.date(2026, 5, 1)
    c.assessment_note = "No Ministerial by day 180."
    c.save()
    page = text(client.get(f"/agreements/{c.agreement.slug}/commitments/{c.key}/"))
    assert '<div class="assessment a-broken">' in page
    assert "<strong>Broken</strong>" in page and "No Ministerial by day 180." in page
    before = text(
        client.get(f"/agreements/{c.agreement.slug}/commitments/{c.key}/?as_of=2026-04-30")
    )
    assert "<strong>Not yet rated</strong>" in before


def test_milestone_page_says_rule_due_date_and_overdue_since_in_the_zone(client, ministerial):
    page = text(client.get(f"/milestones/{ministerial.pk}/"))
    assert "180 days after signature on 2025-10-28 in" in page
    assert (
        f'<dt>Due</dt><dd>2026-04-26 (<a href="/milestones/{ministerial.pk}/?as_of=2026-04-26">'
        in page
    )
    assert "since 2026-04-27 00:00 JST (Asia/Tokyo) (209 days)" in page


def test_history_shows_the_deadline_moment_staff_names_and_no_no_op_rows(
    client, ministerial, alice, frozen
):
    sweep.run()  # flags the Ministerial today, 2026-11-21, 209 days after its deadline
    milestone_set_status(
        milestone=ministerial, status=Status.NOT_STARTED, by=alice, note="Asked METI"
    )
    milestone_set_status(
        milestone=Milestone.objects.get(pk=ministerial.pk),
        status=Status.COMPLETED,
        by=alice,
        evidence_url=EVIDENCE,
        completed_on=dt.date(2026, 11, 20),
    )
    page = text(client.get(f"/milestones/{ministerial.pk}/"))
    assert (
        "2026-04-27 00:00 JST (Asia/Tokyo)</span> <strong>Overdue: the deadline passed</strong>"
        in page
    )
    assert "Not started → Not started" not in page and "<strong>Note</strong>" in page
    assert "Not started → Completed" in page
    assert "alice" not in page and "by staff" in page
    assert '2026-11-20, <span class="late">208 days late</span>' in page
    assert f'<a href="{EVIDENCE}">' in page
    StaffProfile.objects.create(user=alice, public_name="The minerals desk")
    assert "by The minerals desk" in text(client.get(f"/milestones/{ministerial.pk}/"))


def test_as_of_shows_the_record_of_that_day_with_a_banner(client, ministerial, alice, frozen):
    milestone_set_status(
        milestone=ministerial,
        status=Status.COMPLETED,
        by=alice,
        evidence_url=EVIDENCE,
        completed_on=dt.date(2026, 11, 20),
    )
    day180 = text(client.get(f"/milestones/{ministerial.pk}/?as_of=2026-04-26"))
    assert "As of 2026-04-26." in day180
    assert "overdue" not in day180.split("<main")[1].split("</dl>")[0]
    assert "Not started" in day180
    day181 = text(client.get(f"/milestones/{ministerial.pk}/?as_of=2026-04-27"))
    assert "since 2026-04-27 00:00 JST (Asia/Tokyo) (1 day)" in day181
    today = text(client.get(f"/milestones/{ministerial.pk}/"))
    assert "As of" not in today and "208 days late" in today
    # Links keep the reader on the same day.
    assert f'href="/agreements/{ministerial.commitment.agreement.slug}/?as_of=2026-04-27"' in day181


@pytest.mark.parametrize("value", ["2026-13-01", "yesterday", "2099-01-01", "2026-02-30"])
def test_a_bad_as_of_is_a_400_page_naming_the_value(client, ministerial, value):
    slug = ministerial.commitment.agreement.slug
    key = ministerial.commitment.key
    for url in (
        "/",
        f"/agreements/{slug}/",
        f"/agreements/{slug}/commitments/{key}/",
        f"/milestones/{ministerial.pk}/",
    ):
        response = client.get(url, {"as_of": value})
        assert response.status_code == 400, url
        assert f"<code>{value}</code>" in text(response)
    assert client.get(f"/agreements/{slug}/timeline.svg", {"as_of": value}).status_code == 400


def test_archived_records_are_marked(client, ministerial):
    Milestone.objects.filter(pk=ministerial.pk).update(archived_at=timezone.now())
    page = text(client.get(f"/milestones/{ministerial.pk}/"))
    assert '<p class="tag">Archived</p>' in page


def test_unknown_records_are_404(client, db):
    assert client.get("/milestones/999999/").status_code == 404
    assert client.get("/agreements/nope/").status_code == 404
    assert client.get("/agreements/nope/commitments/nope/").status_code == 404


def test_completed_on_time_is_said_so(client, ministerial, alice):
    with time_machine.travel(dt.datetime(2026, 4, 25, 3, tzinfo=dt.UTC), tick=False):
        milestone_set_status(
            milestone=ministerial,
            status=Status.COMPLETED,
            by=alice,
            evidence_url=EVIDENCE,
            completed_on=dt.date(2026, 4, 24),
        )
    page = text(client.get(f"/milestones/{ministerial.pk}/"))
    assert '2026-04-24, <span class="ok">on time</span>' in page
