"""The sourced log through the API: read-only lists per commitment and milestone, and
``last_checked_on`` in their representations."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Q

from commitments.models import LogEntry

pytestmark = pytest.mark.usefixtures("frozen")


def entry(key: str, on: dt.date, **owner) -> LogEntry:
    return LogEntry.objects.create(
        key=key,
        on=on,
        kind="checked_nothing_found" if key.startswith("checked") else "context",
        text=f"Entry {key}",
        source_address="https://www.meti.go.jp/press/",
        source_passage="The ministers met.",
        **owner,
    )


@pytest.fixture
def logged(ministerial):
    LogEntry.objects.all().delete()  # the shipped log aside: these entries only
    entry("context-1", dt.date(2026, 2, 4), milestone=ministerial)
    entry("checked-1", dt.date(2026, 11, 21), milestone=ministerial)
    entry("context-2", dt.date(2026, 3, 1), commitment=ministerial.commitment)
    archived = entry("context-3", dt.date(2026, 11, 20), commitment=ministerial.commitment)
    LogEntry.objects.filter(pk=archived.pk).update(archived_at=dt.datetime.now(dt.UTC))
    return ministerial


def test_a_milestones_log_newest_first(api, logged):
    response = api.get(f"/api/v1/milestones/{logged.pk}/log/")
    assert response.status_code == 200
    body = response.json()["results"]
    assert [(e["on"], e["kind"]) for e in body] == [
        ("2026-11-21", "checked_nothing_found"),
        ("2026-02-04", "context"),
    ]
    assert body[0]["source"] == {
        "address": "https://www.meti.go.jp/press/",
        "kind": "quote",
        "passage": "The ministers met.",
        "archived_copy": None,  # tests/archive/test_serve.py has one
    }
    assert "Link" in response


def test_a_commitments_log_leaves_archived_entries_out(api, logged):
    body = api.get(f"/api/v1/commitments/{logged.commitment_id}/log/").json()["results"]
    assert [e["on"] for e in body] == ["2026-03-01"]


def test_last_checked_on_everywhere(api, logged):
    milestone = api.get(f"/api/v1/milestones/{logged.pk}/").json()
    assert milestone["last_checked_on"] == "2026-11-21"
    commitment = api.get(f"/api/v1/commitments/{logged.commitment_id}/").json()
    # A check of a milestone is a check of its commitment (issue 21 item 3): the
    # milestone's 2026-11-21, or a later shipped entry, not the commitment's own 03-01.
    newest = max(
        LogEntry.objects.filter(archived_at__isnull=True)
        .filter(
            Q(commitment_id=logged.commitment_id) | Q(milestone__commitment_id=logged.commitment_id)
        )
        .values_list("on", flat=True)
    )
    assert newest >= dt.date(2026, 11, 21)
    assert commitment["last_checked_on"] == newest.isoformat()
    inline = next(m for m in commitment["milestones"] if m["id"] == logged.pk)
    assert inline["last_checked_on"] == "2026-11-21"
    listed = api.get("/api/v1/milestones/?page_size=200").json()["results"]
    assert {m["id"]: m["last_checked_on"] for m in listed}[logged.pk] == "2026-11-21"


def test_a_new_entry_changes_the_etag(api, logged):
    url = f"/api/v1/milestones/{logged.pk}/"
    etag = api.get(url)["ETag"]
    entry("context-9", dt.date(2026, 11, 21), milestone=logged)
    assert api.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_log_of_unknown_item_is_404_and_writes_are_405(api, agreements, alice):
    assert api.get("/api/v1/milestones/999999/log/").status_code == 404
    assert api.get("/api/v1/commitments/999999/log/").status_code == 404
    from .conftest import client_for

    ministerial_log = "/api/v1/milestones/1/log/"
    assert client_for(alice).post(ministerial_log, {}).status_code == 405
