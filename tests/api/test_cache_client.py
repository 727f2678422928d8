"""The API as a standards-following HTTP cache client sees it (CacheControl over
requests, against a live server): fresh answers come from the client's cache, stale
ones are revalidated and answered 304, and after a change no body older than max-age
is ever shown."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
import time_machine
from cachecontrol import CacheControl
from django.core.signals import request_started

from commitments.models import Milestone, Status
from commitments.services import milestone_set_status

from .conftest import TODAY


@pytest.fixture
def server_requests():
    seen: list[str] = []

    def count(sender, environ, **kwargs):
        seen.append(environ.get("HTTP_IF_NONE_MATCH", ""))

    request_started.connect(count)
    yield seen
    request_started.disconnect(count)


def test_a_cache_client_revalidates_and_gets_304s(live_server, agreements, alice, server_requests):
    with time_machine.travel(TODAY, tick=False) as clock:
        session = CacheControl(requests.Session())
        url = f"{live_server.url}/api/v1/milestones/?overdue=true"

        first = session.get(url)
        assert first.status_code == 200 and not first.from_cache
        assert session.get(url).from_cache  # fresh (max-age=15): no request at all
        assert len(server_requests) == 1

        clock.shift(dt.timedelta(seconds=16))  # stale: revalidated, 304, cached body
        again = session.get(url)
        assert again.status_code == 200 and again.from_cache
        assert server_requests[-1] == first.headers["ETag"]  # it sent If-None-Match
        assert again.content == first.content

        ministerial = Milestone.objects.select_related("commitment__agreement").get(
            key="ministerial-convened"
        )
        milestone_set_status(milestone=ministerial, status=Status.AT_RISK, by=alice)
        clock.shift(dt.timedelta(seconds=16))  # max-age after the change: the new body
        changed = session.get(url)
        assert not changed.from_cache and changed.headers["ETag"] != first.headers["ETag"]
        statuses = {m["key"]: m["status"] for m in changed.json()["results"]}
        assert statuses["ministerial-convened"] == "at_risk"
