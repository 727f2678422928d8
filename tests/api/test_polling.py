"""Incremental polling with ``updated_since`` under concurrent writers.

A writer stamps ``updated_at`` with its own clock *before* it commits; a slow commit
therefore lands "in the past" of a poller that has already looked. A poller that asks
for ``updated_since = newest updated_at seen - overlap`` (overlap longer than any write
transaction) and keeps the newest version per id misses nothing."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from commitments.models import Milestone
from commitments.services import ConflictError, milestone_set_status
from tests.factories import AgreementFactory, CommitmentFactory

SLOWEST_COMMIT = 0.3  # seconds a writer may hold its transaction open
OVERLAP = dt.timedelta(seconds=1)


def poll(client: APIClient, since: dt.datetime | None, seen: dict[int, tuple[int, str]]) -> None:
    url = "/api/v1/milestones/?ordering=updated_at&page_size=200"
    params = {"updated_since": since.isoformat()} if since else {}
    while url:
        response = client.get(url, params)
        assert response.status_code == 200, response.content
        body = response.json()
        for m in body["results"]:
            if m["id"] not in seen or seen[m["id"]][0] < m["version"]:
                seen[m["id"]] = (m["version"], m["updated_at"])
        url, params = body["next"], {}


def newest(seen: dict[int, tuple[int, str]]) -> dt.datetime | None:
    if not seen:
        return None
    return max(dt.datetime.fromisoformat(v[1].replace("Z", "+00:00")) for v in seen.values())


def writer(ids: list[int], rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    try:
        for i in range(rounds):
            pk = rng.choice(ids)
            try:
                with transaction.atomic():
                    now = timezone.now()  # the stamp is taken here...
                    time.sleep(rng.uniform(0, SLOWEST_COMMIT))  # ...the commit lands later
                    milestone = Milestone.objects.select_related("commitment__agreement").get(pk=pk)
                    status = rng.choice(["in_progress", "at_risk"])
                    milestone_set_status(
                        milestone=milestone,
                        status=status,
                        by=None,
                        note=f"writer {seed}, round {i}",
                        now=now,
                    )
            except ConflictError:
                pass  # another writer changed it first; that change is what counts
    finally:
        connections.close_all()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent transactions")
@pytest.mark.django_db(transaction=True)
def test_a_poller_with_overlap_misses_no_change(settings):
    settings.API_ANON_RATE = settings.API_USER_RATE = "1000000/min"
    agreement = AgreementFactory(time_zone="UTC")
    commitment = CommitmentFactory(agreement=agreement)
    ids = [
        m.pk
        for m in Milestone.objects.bulk_create(
            Milestone(commitment=commitment, key=f"m{i}", title=f"M{i}") for i in range(30)
        )
    ]

    threads = [threading.Thread(target=writer, args=(ids, 25, seed)) for seed in range(4)]
    for thread in threads:
        thread.start()
    client, seen, naive_client, naive_seen = APIClient(), {}, APIClient(), {}
    poll(client, None, seen)
    poll(naive_client, None, naive_seen)
    while any(t.is_alive() for t in threads):
        time.sleep(0.05)
        last = newest(seen)
        poll(client, last - OVERLAP if last else None, seen)
        poll(naive_client, newest(naive_seen), naive_seen)  # no overlap: for contrast
    for thread in threads:
        thread.join()
    last = newest(seen)
    poll(client, last - OVERLAP if last else None, seen)
    poll(naive_client, newest(naive_seen), naive_seen)

    truth = dict(Milestone.objects.values_list("id", "version"))
    assert {pk: v for pk, (v, _) in seen.items()} == truth
    missed = sum(1 for pk, v in truth.items() if naive_seen.get(pk, (0, ""))[0] != v)
    print(f"\nnaive poller (no overlap) ended with {missed} of {len(truth)} milestones stale")
    connections.close_all()
