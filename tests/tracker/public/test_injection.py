"""Staff text is text wherever the public reads it: the Atom feeds, the pages, the
calendar, the timeline picture and the badges. Each output is parsed back with a
library no one here wrote (feedparser, icalendar, an XML parser)."""

from __future__ import annotations

import datetime as dt
from xml.etree import ElementTree

import feedparser
import pytest
from icalendar import Calendar

from commitments.deadlines import DeadlineRule, RuleKind
from commitments.models import Assessment, LogEntry, Milestone, Status
from commitments.services import milestone_revise_deadline, milestone_set_status

pytestmark = pytest.mark.usefixtures("frozen")

IMG = "<img src=x onerror=alert(2)>"
ESCAPED = "&lt;img src=x onerror=alert(2)&gt;"


@pytest.fixture
def hostile(ministerial, alice):
    """Every kind of staff text that reaches a feed, each carrying markup."""
    c = ministerial.commitment
    milestone_set_status(
        milestone=ministerial, status=Status.IN_PROGRESS, by=alice, note=f"Asked METI {IMG}"
    )
    milestone_revise_deadline(
        milestone=Milestone.objects.get(pk=ministerial.pk),
        rule=DeadlineRule(kind=RuleKind.FIXED, fixed_date=dt.date(2026, 12, 15)),
        reason=f"Rescheduled {IMG}",
        source="https://example.org/rescheduled",
        by=alice,
    )
    c.assessment, c.assessed_on = Assessment.PARTLY_KEPT, dt.date(2026, 11, 20)
    c.assessment_note = f"Half done {IMG}"
    c.save()
    LogEntry.objects.create(
        key="log-hostile",
        commitment=c,
        on=dt.date(2026, 11, 19),
        kind=LogEntry.Kind.PROGRESS,
        text=f"Announced {IMG}",
        source_address="javascript:alert(3)",
    )
    return ministerial


def test_staff_text_in_the_feeds_is_text_not_markup(client, hostile):
    slug = hostile.commitment.agreement.slug
    for url in (f"/agreements/{slug}/feed.atom", "/feed.atom"):
        feed = feedparser.parse(client.get(url).content)
        assert feed.bozo == 0, feed.get("bozo_exception")
        summaries = [e.summary for e in feed.entries]
        carrying = [s for s in summaries if "onerror" in s]
        # The note, the deadline's reason, the assessment's note and the log entry.
        assert len(carrying) == 4, summaries
        for summary in carrying:
            assert "<img" not in summary and ESCAPED in summary, summary
        log = next(s for s in summaries if "Announced" in s)
        assert "javascript:" in log and "href" not in log  # named, never linked


def test_a_web_source_is_a_link_in_the_feed(client, ministerial):
    LogEntry.objects.create(
        key="log-linked",
        commitment=ministerial.commitment,
        on=dt.date(2026, 11, 19),
        kind=LogEntry.Kind.PROGRESS,
        text="Date announced.\nSecond line.",
        source_address="https://example.org/announced?a=1&b=2",
    )
    feed = feedparser.parse(client.get("/feed.atom").content)
    (entry,) = [e for e in feed.entries if "Date announced" in e.summary]
    assert '<a href="https://example.org/announced?a=1&amp;b=2">' in entry.summary
    assert "Date announced.<br />Second line." in entry.summary


def test_a_title_with_markup_is_plain_text_in_the_feed(client, ministerial, alice):
    Milestone.objects.filter(pk=ministerial.pk).update(title=f"Ministerial {IMG}")
    milestone_set_status(
        milestone=Milestone.objects.get(pk=ministerial.pk), status=Status.AT_RISK, by=alice
    )
    feed = feedparser.parse(client.get("/feed.atom").content)
    (entry,) = [e for e in feed.entries if "onerror" in e.title]
    assert entry.title_detail.type == "text/plain"
    assert IMG in entry.title


def test_staff_text_and_addresses_on_the_pages_are_escaped_and_never_javascript(client, hostile):
    Milestone.objects.filter(pk=hostile.pk).update(evidence_url="javascript:alert(4)")
    pages = [
        f"/milestones/{hostile.pk}/",
        f"/agreements/{hostile.commitment.agreement.slug}/commitments/{hostile.commitment.key}/",
    ]
    for url in pages:
        body = client.get(url).content.decode()
        assert IMG not in body and ESCAPED in body, url
        assert 'href="javascript:' not in body, url


def test_a_title_cannot_break_the_calendar_or_the_picture(client, ministerial):
    evil = '</text><script>alert(1)</script>&" X\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil'
    Milestone.objects.filter(pk=ministerial.pk).update(title=evil)
    slug = ministerial.commitment.agreement.slug
    calendar = Calendar.from_ical(client.get(f"/agreements/{slug}/calendar.ics").content)
    uids = [str(e["uid"]) for e in calendar.walk("VEVENT")]
    assert "evil" not in uids and len(uids) == len(set(uids))
    (event,) = [e for e in calendar.walk("VEVENT") if "END:VEVENT" in str(e["summary"])]
    assert str(event["summary"]).startswith('Due: </text><script>alert(1)</script>&" X\nEND:')
    for url in (f"/agreements/{slug}/timeline.svg", f"/badges/milestones/{ministerial.pk}.svg"):
        root = ElementTree.fromstring(client.get(url).content)
        assert not [el for el in root.iter() if el.tag.endswith("script")], url
        words = " ".join(el.text or "" for el in root.iter())
        assert "</text><script>" in words, url


# Characters XML 1.0 cannot carry, as a paste from a word processor leaves them.
CONTROLS = "Convened\x0bin Tokyo\x0c\x1b\x08"


def test_control_characters_in_the_record_leave_the_feeds_readable(client, ministerial, alice):
    Milestone.objects.filter(pk=ministerial.pk).update(title=f"Ministerial {CONTROLS}")
    milestone_set_status(
        milestone=Milestone.objects.get(pk=ministerial.pk),
        status=Status.IN_PROGRESS,
        by=alice,
        note=f"Asked METI {CONTROLS}",
    )
    slug = ministerial.commitment.agreement.slug
    for url in (f"/agreements/{slug}/feed.atom", "/feed.atom"):
        response = client.get(url)
        assert response.status_code == 200, url
        feed = feedparser.parse(response.content)
        assert feed.bozo == 0, feed.get("bozo_exception")
        (entry,) = [e for e in feed.entries if "Asked METI" in e.summary]
        assert "Ministerial Convened in Tokyo" in entry.title
        assert "Asked METI Convened in Tokyo" in entry.summary


def test_control_characters_in_the_record_leave_the_picture_and_the_badges_readable(
    client, ministerial
):
    Milestone.objects.filter(pk=ministerial.pk).update(title=f"Ministerial {CONTROLS}")
    slug = ministerial.commitment.agreement.slug
    for url in (f"/agreements/{slug}/timeline.svg", f"/badges/milestones/{ministerial.pk}.svg"):
        root = ElementTree.fromstring(client.get(url).content)
        words = " ".join(el.text or "" for el in root.iter())
        assert "Ministerial Convened in Tokyo" in words, url
    png = client.get(f"/agreements/{slug}/timeline.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
