"""The event feed: every change once, oldest first, and a cursor that never passes an
event committed late by a slow concurrent transaction."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time

import pytest
from django.db import connection, connections, transaction
from rest_framework.test import APIClient

from commitments.models import Milestone, Status
from commitments.services import ConflictError, milestone_set_status
from tests.factories import AgreementFactory, CommitmentFactory
from tracker.api.events import decode_cursor, encode_cursor
from tracker.api.models import FeedEvent

# On PostgreSQL the feed shows committed transactions only: these tests commit.
pytestmark = [
    pytest.mark.usefixtures("frozen"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.serial,
]


def follow(client: APIClient, url: str = "/api/v1/events/?limit=50") -> tuple[list[dict], str]:
    """Everything from ``url`` on; (events, the url to poll next)."""
    seen: list[dict] = []
    while True:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert response["Link"] == f'<{body["next"]}>; rel="next"'
        seen += body["events"]
        if not body["events"]:
            return seen, body["next"]
        url = body["next"]


def test_a_status_change_and_an_overdue_flag_are_events(api, ministerial, alice):
    _, url = follow(api)
    milestone_set_status(milestone=ministerial, status=Status.AT_RISK, by=alice)
    Milestone.objects.filter(pk=ministerial.pk).update(overdue_since="2026-11-21T03:00:00Z")
    Milestone.objects.filter(pk=ministerial.pk).update(overdue_since=None)
    events, _ = follow(api, url)
    types = [e["type"] for e in events]
    assert "milestone.status_changed" in types
    assert "status_update.created" in types
    assert types[-2:] == ["milestone.overdue_flagged", "milestone.overdue_cleared"]
    flagged = events[-2]
    assert flagged["id"] == ministerial.pk
    assert flagged["url"] == f"http://testserver/api/v1/milestones/{ministerial.pk}/"


def test_creations_archivals_and_deletions_are_events(api, ministerial):
    _, url = follow(api)
    commitment = ministerial.commitment
    type(commitment).objects.filter(pk=commitment.pk).update(archived_at="2026-11-21T03:00:00Z")
    type(commitment).objects.filter(pk=commitment.pk).update(assessment="on track")
    new = Milestone.objects.create(commitment=commitment, key="new-one", title="New")
    new.delete()
    events, _ = follow(api, url)
    assert [(e["subject"], e["action"]) for e in events] == [
        ("commitment", "archived"),
        ("commitment", "assessed"),
        ("milestone", "created"),
        ("milestone", "deleted"),
    ]
    assert events[-1]["url"] is None  # a tombstone: nothing to fetch


def test_a_no_op_update_is_no_event(api, ministerial):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's per-row triggers do not compare the rows")
    _, url = follow(api)
    Milestone.objects.filter(pk=ministerial.pk).update(title=ministerial.title)
    assert follow(api, url)[0] == []


@pytest.mark.parametrize("after", ["nonsense", "MTIz", "-1"])
def test_a_bad_cursor_is_400_naming_after(api, db, after):
    response = api.get(f"/api/v1/events/?after={after}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "after"


def test_every_event_once_in_order(api, agreements):
    events, _ = follow(api)
    assert len(events) == FeedEvent.objects.count() > 50
    assert len({e["cursor"] for e in events}) == len(events)


# --- Concurrent slow writers ---------------------------------------------------------------

SLOWEST_COMMIT = 0.3


def writer(ids: list[int], rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    try:
        for i in range(rounds):
            try:
                with transaction.atomic():
                    milestone = Milestone.objects.select_related("commitment__agreement").get(
                        pk=rng.choice(ids)
                    )
                    milestone_set_status(
                        milestone=milestone,
                        status=rng.choice(["in_progress", "at_risk"]),
                        by=None,
                        note=f"writer {seed}, round {i}",
                    )
                    time.sleep(rng.uniform(0, SLOWEST_COMMIT))  # the commit lands late
            except ConflictError:
                pass
    finally:
        connections.close_all()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent transactions")
def test_a_follower_gets_every_event_exactly_once_under_slow_writers(settings):
    settings.API_ANON_RATE = settings.API_USER_RATE = "1000000/min"
    commitment = CommitmentFactory(agreement=AgreementFactory(time_zone="UTC"))
    ids = [
        m.pk
        for m in Milestone.objects.bulk_create(
            Milestone(commitment=commitment, key=f"m{i}", title=f"M{i}") for i in range(5)
        )
    ]
    threads = [threading.Thread(target=writer, args=(ids, 15, seed)) for seed in range(4)]
    for thread in threads:
        thread.start()
    client = APIClient()
    seen, url = follow(client)
    while any(t.is_alive() for t in threads):
        time.sleep(0.02)
        more, url = follow(client, url)
        seen += more
    for thread in threads:
        thread.join()
    seen += follow(client, url)[0]

    truth = list(FeedEvent.objects.order_by("txid", "id").values_list("id", flat=True))
    cursors = [e["cursor"] for e in seen]
    assert len(cursors) == len(set(cursors)), "an event came twice"
    assert len(seen) == len(truth), f"{len(truth) - len(seen)} events missed"
    assert sum(e["type"] == "status_update.created" for e in seen) > 20
    connections.close_all()


def test_a_log_entry_is_an_event_pointing_at_its_log(api, ministerial):
    from commitments.models import LogEntry

    _, url = follow(api)
    LogEntry.objects.create(
        key="checked-ministerial",
        milestone=ministerial,
        on="2026-11-21",
        kind="checked_nothing_found",
        text="Nothing found.",
        source_address="https://www.meti.go.jp/",
    )
    events, _ = follow(api, url)
    assert [e["type"] for e in events] == ["log_entry.created"]
    assert events[0]["url"] == f"http://testserver/api/v1/milestones/{ministerial.pk}/log/"


def test_pruning_keeps_the_newer_events_and_an_older_cursor_gets_410(api, ministerial, alice):
    from tracker.api.events import prune
    from tracker.api.models import FeedHorizon

    _, url = follow(api)
    milestone_set_status(milestone=ministerial, status=Status.AT_RISK, by=alice)
    first, after_first = follow(api, url)
    assert len(first) >= 2
    # Events carry the database's clock: cut just after the newest one so far.
    cutoff = FeedEvent.objects.latest("at").at + dt.timedelta(microseconds=1)
    milestone_set_status(milestone=ministerial, status=Status.IN_PROGRESS, by=alice)
    total, newer = FeedEvent.objects.count(), FeedEvent.objects.filter(at__gte=cutoff).count()

    pruned = prune(cutoff, batch=2)  # several batches: the horizon only moves forward

    assert pruned == total - newer > 0
    assert FeedEvent.objects.count() == newer > 0
    horizon = FeedHorizon.objects.get()
    assert (horizon.txid, horizon.event_id) == max(decode_cursor(e["cursor"]) for e in first), (
        "the horizon is the newest pruned event"
    )

    stale = api.get(f"/api/v1/events/?after={first[0]['cursor']}")
    assert stale.status_code == 410, stale.content
    assert stale["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in stale.json()["errors"]] == ["after"]

    # The newest pruned event's cursor missed nothing: the feed goes on from it.
    later, _ = follow(api, after_first)
    assert later
    assert [e["cursor"] for e in later] == [
        encode_cursor(e) for e in FeedEvent.objects.order_by("txid", "id")
    ]


def test_the_retention_task_prunes_after_the_configured_days(settings, ministerial, alice):
    from django.utils import timezone

    from tracker.api.tasks import prune_events

    milestone_set_status(milestone=ministerial, status=Status.AT_RISK, by=alice)
    old = list(FeedEvent.objects.order_by("id").values_list("id", flat=True))
    FeedEvent.objects.filter(id__in=old[:2]).update(at=timezone.now() - dt.timedelta(days=91))
    FeedEvent.objects.filter(id__in=old[2:]).update(at=timezone.now() - dt.timedelta(days=89))

    settings.API_EVENT_RETENTION_DAYS = 0
    assert prune_events() == 0
    assert FeedEvent.objects.count() == len(old)

    settings.API_EVENT_RETENTION_DAYS = 90
    assert prune_events() == 2
    assert set(FeedEvent.objects.values_list("id", flat=True)) == set(old[2:])


def test_beat_runs_the_retention_task_by_its_new_name():
    """The task moved beside the feed; the beat entry keeps its name."""
    from django.conf import settings

    from config.celery import app
    from tracker.api.tasks import prune_events

    entry = settings.CELERY_BEAT_SCHEDULE["prune-events"]
    assert entry["task"] == prune_events.name == "tracker.api.tasks.prune_events"
    assert entry["task"] in app.tasks


def test_the_feed_has_an_etag_and_nothing_new_is_a_304(api, ministerial, alice):
    """Issue 20, item 7: every GET has an ETag, the feed's too (its content's)."""
    _, url = follow(api)
    first = api.get(url)
    assert first.status_code == 200 and first.json()["events"] == []
    again = api.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again["ETag"] == first["ETag"]
    assert again["Cache-Control"] == "no-cache"
    milestone_set_status(milestone=ministerial, status=Status.AT_RISK, by=alice)
    news = api.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert news.status_code == 200 and news.json()["events"]
