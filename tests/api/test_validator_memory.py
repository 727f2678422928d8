"""The change counter remembered per process (API_VALIDATOR_TTL_MS): a change is seen
at most the TTL later, never earlier than the database shows it, and a client holding a
newer ETag than the one remembered never gets an older body back."""

from __future__ import annotations

import pytest

from commitments.models import Status
from commitments.services import milestone_set_status
from tracker.api import conditional

from .conftest import client_for

pytestmark = pytest.mark.usefixtures("frozen")

URLS = ["/api/v1/status/", "/api/v1/milestones/", "/api/v1/milestones/?overdue=true"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, ms: float) -> None:
        self.now += ms / 1000


@pytest.fixture
def clock(monkeypatch, settings) -> Clock:
    """A frozen monotonic clock, and a remembered counter for a second."""
    clock = Clock()
    monkeypatch.setattr(conditional, "_clock", clock)
    settings.API_VALIDATOR_TTL_MS = 1000
    conditional.forget()
    return clock


@pytest.mark.parametrize("url", URLS)
def test_a_change_is_seen_after_the_ttl_not_before(api, ministerial, alice, clock, url):
    old = api.get(url)
    assert old.status_code == 200
    milestone_set_status(milestone=ministerial, status=Status.AT_RISK, by=alice)

    clock.advance(999)  # the counter read at 0 ms is still remembered
    assert api.get(url, HTTP_IF_NONE_MATCH=old["ETag"]).status_code == 304
    assert api.get(url)["ETag"] == old["ETag"]

    clock.advance(1)  # 1000 ms: read again
    new = api.get(url, HTTP_IF_NONE_MATCH=old["ETag"])
    assert new.status_code == 200 and new["ETag"] != old["ETag"]
    assert b"at_risk" in new.content
    assert api.get(url, HTTP_IF_NONE_MATCH=new["ETag"]).status_code == 304


def test_a_ttl_of_zero_reads_every_time(api, ministerial, alice, clock, settings):
    settings.API_VALIDATOR_TTL_MS = 0
    old = api.get("/api/v1/status/")["ETag"]
    milestone_set_status(milestone=ministerial, status=Status.AT_RISK, by=alice)
    assert api.get("/api/v1/status/", HTTP_IF_NONE_MATCH=old).status_code == 200


@pytest.mark.parametrize("anonymous", [True, False])
def test_a_newer_etag_than_remembered_gets_a_304_not_an_older_body(
    api, ministerial, alice, clock, settings, anonymous
):
    """Another worker, which read the counter after the change, gave the client the
    new ETag: this one, still remembering the old counter, checks again before it
    would send a body."""
    caller = api if anonymous else client_for(alice)
    url = "/api/v1/milestones/?overdue=true"
    old = caller.get(url)["ETag"]  # remembered here
    milestone_set_status(milestone=ministerial, status=Status.AT_RISK, by=alice)
    settings.API_VALIDATOR_TTL_MS = 0  # "another worker": reads the database
    newer = caller.get(url)["ETag"]
    assert newer != old
    settings.API_VALIDATOR_TTL_MS = 1000  # back here: the old counter is remembered
    assert caller.get(url)["ETag"] == old

    answer = caller.get(url, HTTP_IF_NONE_MATCH=newer)
    assert answer.status_code == 304 and answer["ETag"] == newer
    # ...and this process now remembers the newer counter.
    assert caller.get(url)["ETag"] == newer


def test_a_remembered_304_costs_no_query(api, agreements, clock, django_assert_num_queries):
    for url in URLS:
        etag = api.get(url)["ETag"]
        with django_assert_num_queries(0):
            assert api.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_the_status_as_of_is_remembered_with_the_counter(
    api, agreements, clock, django_assert_num_queries
):
    """/status/ needs as_of too: a reading made without it is not enough."""
    etag = api.get("/api/v1/status/")["ETag"]
    conditional.forget()
    api.get("/api/v1/milestones/")  # remembers the counter without as_of
    with django_assert_num_queries(1):  # the counter and as_of
        assert api.get("/api/v1/status/", HTTP_IF_NONE_MATCH=etag).status_code == 304
    with django_assert_num_queries(0):
        assert api.get("/api/v1/status/", HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_a_patch_refreshes_this_process_memory(ministerial, alice, clock):
    editor = client_for(alice)
    url = f"/api/v1/milestones/{ministerial.pk}/"
    listed = editor.get("/api/v1/milestones/")  # remembered, and its body cached
    before = editor.get(url)
    after = editor.patch(url, {"status": "at_risk"}, HTTP_IF_MATCH=before["ETag"])
    assert after.status_code == 200, after.content
    # Within the TTL, and yet this process's reads show the write at once (not the
    # body cached under the old ETag).
    again = editor.get("/api/v1/milestones/")
    assert again["ETag"] != listed["ETag"]
    assert any(m["status"] == "at_risk" for m in again.json()["results"])
