from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine

from tracker.alerts import digests
from tracker.models import DigestSent, Subscription

NY = zoneinfo.ZoneInfo("America/New_York")


@pytest.fixture
def reader(agreements) -> Subscription:
    return Subscription.objects.create(
        email="reader@example.org", time_zone="America/New_York", kinds=["digest"]
    )


def at_ny(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NY)


@pytest.mark.parametrize(
    ("monday", "utc_hour"),
    [
        # 2026-03-09: the Monday after the spring-forward Sunday (EDT, UTC-4).
        (dt.date(2026, 3, 9), 13),
        # 2026-11-02: the Monday after the fall-back Sunday (EST, UTC-5).
        (dt.date(2026, 11, 2), 14),
    ],
)
def test_digest_goes_out_at_nine_new_york_time_across_dst(reader, smtp_server, monday, utc_hour):
    nine = dt.datetime.combine(monday, dt.time(9), tzinfo=NY)
    assert nine.astimezone(dt.UTC).hour == utc_hour
    # Beat runs in UTC every few minutes; only runs from 09:00 local on send.
    moment = nine - dt.timedelta(hours=3)
    sent = []
    while moment < nine + dt.timedelta(hours=3):
        with time_machine.travel(moment, tick=False):
            sent.append((moment, digests.send_due_digests()))
        moment += dt.timedelta(minutes=5)
    sending = [m for m, n in sent if n]
    assert sending == [nine.astimezone(dt.UTC)]
    assert len(smtp_server.messages) == 1
    assert DigestSent.objects.get().week_of == monday


def test_a_missed_monday_is_sent_later_that_week_once(reader, smtp_server):
    with time_machine.travel(at_ny(2026, 11, 17, 12), tick=False):  # a Tuesday
        assert digests.send_due_digests() == 1
        assert digests.send_due_digests() == 0
    with time_machine.travel(at_ny(2026, 11, 23, 8, 59), tick=False):
        assert digests.send_due_digests() == 0
    with time_machine.travel(at_ny(2026, 11, 23, 9, 0), tick=False):
        assert digests.send_due_digests() == 1


def test_the_digest_lists_changes_overdue_and_upcoming(reader, alice, smtp_server):
    from commitments.models import Milestone
    from commitments.services import milestone_set_status

    with time_machine.travel(dt.datetime(2026, 4, 10, tzinfo=dt.UTC), tick=False):
        m = Milestone.objects.get(key="group-established")
        milestone_set_status(milestone=m, status="in_progress", by=alice, note="Announced")
    with time_machine.travel(at_ny(2026, 4, 13, 9, 30), tick=False):  # a Monday
        assert digests.send_due_digests() == 1
    (mail,) = smtp_server.messages
    text = mail.get_body(("plain",)).get_content()
    # Overdue: Malaysia's first quarterly meeting (2026-01-26); due: Australia's three,
    # Japan's two, and Malaysia's second quarterly meeting (2026-04-26).
    assert mail["Subject"] == "Weekly digest: 1 overdue, 6 due in the next 30 days"
    assert "Rapid Response Group established: Not started → In progress" in text
    assert "Mining, Minerals and Metals Investment Ministerial" in text
    assert "Unsubscribe" in text


def test_a_failed_digest_is_retried_next_run(reader, settings, smtp_server):
    from tests.conftest import free_port

    settings.EMAIL_PORT = free_port()
    with time_machine.travel(at_ny(2026, 11, 23, 9, 0), tick=False):
        assert digests.send_due_digests() == 0
    assert not DigestSent.objects.exists()
    settings.EMAIL_PORT = smtp_server.port
    with time_machine.travel(at_ny(2026, 11, 23, 9, 5), tick=False):
        assert digests.send_due_digests() == 1


def test_the_digest_leaves_out_what_was_archived(reader, alice, smtp_server):
    """Nothing for an archived record (audience.py), in the digest as in alerts: a
    subscriber to an archived agreement hears of none of its milestones."""
    from commitments.models import Agreement, Milestone
    from commitments.services import agreement_archive, milestone_set_status

    japan = Agreement.objects.get(slug="us-japan-critical-minerals-2025")
    Subscription.objects.create(
        email="japan@example.org", agreement=japan, kinds=["digest"], time_zone="UTC"
    )
    with time_machine.travel(dt.datetime(2026, 4, 10, tzinfo=dt.UTC), tick=False):
        m = Milestone.objects.get(key="group-established")
        milestone_set_status(milestone=m, status="in_progress", by=alice, note="Announced")
        agreement_archive(agreement=japan, by=alice)
    with time_machine.travel(at_ny(2026, 4, 13, 9, 30), tick=False):  # a Monday
        assert digests.send_due_digests() == 2
    (everything,) = smtp_server.to("reader@example.org")
    (archived,) = smtp_server.to("japan@example.org")
    # Japan's two due milestones and its change are gone; the others' remain.
    assert everything["Subject"] == "Weekly digest: 1 overdue, 4 due in the next 30 days"
    assert archived["Subject"] == "Weekly digest: 0 overdue, 0 due in the next 30 days"
    for mail in (everything, archived):
        text = mail.get_body(("plain",)).get_content()
        assert "US–Japan" not in text and "Not started → In progress" not in text
