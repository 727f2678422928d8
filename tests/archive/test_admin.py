"""Staff see the copies and the link checks in the admin (viewers look, editors may ask
for a failed capture to be tried again); nobody adds or deletes one by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from tracker.archive.models import Capture, LinkCheck

T0 = dt.datetime(2026, 2, 5, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def rows(db):
    ok = Capture.objects.create(
        address="https://example.org/ok", state="archived", fetched_at=T0, next_try=None
    )
    failed = Capture.objects.create(
        address="https://example.org/gone",
        state="failed",
        attempts=8,
        next_try=None,
        error="HTTP 404",
    )
    LinkCheck.objects.create(
        address=failed.address, checked_at=T0, outcome="http_error", status=404, answers=False
    )
    return ok, failed


def test_a_viewer_sees_copies_and_checks(client, bob, rows):
    client.force_login(bob)
    page = client.get(reverse("admin:archive_capture_changelist")).content.decode()
    assert "https://example.org/gone" in page and f"/archive/{rows[0].pk}/" in page
    checks = client.get(reverse("admin:archive_linkcheck_changelist") + "?found=dead")
    assert "https://example.org/gone" in checks.content.decode()
    assert client.get(reverse("admin:archive_capture_add")).status_code == 403


def test_an_editor_tries_a_failed_capture_again(client, alice, rows):
    client.force_login(alice)
    ok, failed = rows
    response = client.post(
        reverse("admin:archive_capture_changelist"),
        {"action": "try_again", "_selected_action": [ok.pk, failed.pk]},
    )
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.attempts == 0 and failed.next_try is not None
    ok.refresh_from_db()
    assert ok.next_try is None  # an archived copy is never fetched again


def test_a_viewer_cannot_try_again(client, bob, rows):
    client.force_login(bob)
    client.post(
        reverse("admin:archive_capture_changelist"),
        {"action": "try_again", "_selected_action": [rows[1].pk]},
    )
    rows[1].refresh_from_db()
    assert rows[1].next_try is None


def test_the_index_counts_pages_that_could_not_be_archived(client, alice, rows):
    client.force_login(alice)
    page = client.get(reverse("admin:index")).content.decode()
    section = page[page.index('id="needs-attention"') :].split("</table>")[0]
    heading = section.split("Cited pages that could not be archived")[1]
    assert heading.split("</strong>")[0].rsplit(">", 1)[1] == "1"
    assert "?state__exact=failed" in section
