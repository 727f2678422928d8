"""PATCH /api/v1/milestones/{id}/: the service's transition, guarded."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone
from knox.models import AuthToken

from commitments.models import Milestone, StatusUpdate
from commitments.services import milestone_set_status

from .conftest import EVIDENCE, client_for, token_for

pytestmark = pytest.mark.usefixtures("frozen")


def url(milestone: Milestone) -> str:
    return f"/api/v1/milestones/{milestone.pk}/"


def test_editor_completes_a_milestone_through_the_service(ministerial, alice):
    version = ministerial.version
    response = client_for(alice).patch(
        url(ministerial),
        {
            "status": "completed",
            "note": "Held in Washington",
            "evidence_url": EVIDENCE,
            "completed_on": "2026-04-24",
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["completed_on"], body["is_overdue"]) == (
        "completed",
        "2026-04-24",
        False,
    )
    assert body["note"] == "Held in Washington" and body["version"] == version + 1
    # A strong ETag, the one a GET now answers with (If-Match compares strongly).
    assert response["ETag"].startswith('"')
    assert response["ETag"] == client_for(alice).get(url(ministerial))["ETag"]
    assert response["Cache-Control"] == "no-store"
    update = StatusUpdate.objects.get(milestone=ministerial)
    assert (update.by, update.from_status, update.to_status) == (alice, "not_started", "completed")


def test_note_alone_keeps_the_status(ministerial, alice):
    response = client_for(alice).patch(url(ministerial), {"note": "Date under discussion"})
    assert response.status_code == 200
    assert response.json()["status"] == "not_started"
    assert StatusUpdate.objects.get(milestone=ministerial).note == "Date under discussion"


def test_anonymous_gets_401_with_a_challenge(api, ministerial):
    response = api.patch(url(ministerial), {"status": "in_progress"})
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("user", ["bob", "charlie"])
def test_viewer_and_staff_without_permission_get_403(request, ministerial, user):
    response = client_for(request.getfixturevalue(user)).patch(
        url(ministerial), {"status": "in_progress"}
    )
    assert response.status_code == 403
    assert response.json()["status"] == 403
    assert not StatusUpdate.objects.exists()


def test_bad_expired_and_revoked_tokens_get_401(api, ministerial, alice, frozen):
    api.credentials(HTTP_AUTHORIZATION="Token nonsense")
    assert api.patch(url(ministerial), {"status": "in_progress"}).status_code == 401
    expiring = token_for(alice, expiry=dt.timedelta(days=1))
    api.credentials(HTTP_AUTHORIZATION=f"Token {expiring}")
    frozen.shift(dt.timedelta(days=2))
    assert api.patch(url(ministerial), {"status": "in_progress"}).status_code == 401
    revoked = token_for(alice)
    AuthToken.objects.filter(user=alice).delete()
    api.credentials(HTTP_AUTHORIZATION=f"Token {revoked}")
    assert api.patch(url(ministerial), {"status": "in_progress"}).status_code == 401


def test_tokens_are_stored_hashed_and_several_per_user(alice):
    first, second = token_for(alice), token_for(alice)
    digests = set(AuthToken.objects.filter(user=alice).values_list("digest", flat=True))
    assert len(digests) == 2 and first not in digests and second not in digests
    assert AuthToken.objects.filter(user=alice, expiry__gt=timezone.now()).count() == 2


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"status": "done"}, "status", "not a valid choice"),
        (
            {"status": "completed", "evidence_url": EVIDENCE, "completed_on": "24/04/2026"},
            "completed_on",
            "Date has wrong format",
        ),
        (
            {"status": "completed", "evidence_url": EVIDENCE, "completed_on": "2026-11-22"},
            "completed_on",
            "is in the future",
        ),
        ({"status": "completed"}, "evidence_url", "evidence address is required"),
        ({"status": "completed", "evidence_url": "ftp://x"}, "evidence_url", "http(s)"),
        (
            {"status": "in_progress", "completed_on": "2026-01-01"},
            "completed_on",
            "only given with status 'completed'",
        ),
        ({"due_on": "2027-01-01"}, "due_on", "cannot be changed here"),
        ({"status": "in_progress", "owner": 1}, "owner", "cannot be changed here"),
        ({"title": "New"}, "title", "cannot be changed here"),
        ({}, None, "Send at least one of"),
        ({"note": "x" * 5001}, "note", "no more than 5000"),
        ({"status": "not_started"}, "status", "already 'not_started'"),
    ],
)
def test_bad_input_is_a_400_naming_field_and_reason(ministerial, alice, body, field, words):
    version = ministerial.version
    response = client_for(alice).patch(url(ministerial), body)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"][0]["field"] == field
    assert words in problem["errors"][0]["reason"]
    ministerial.refresh_from_db()
    assert ministerial.version == version and not StatusUpdate.objects.exists()


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"completed"', b"{not json", b"null"])
def test_a_body_that_is_not_a_json_object_is_400(ministerial, alice, raw):
    response = client_for(alice).patch(url(ministerial), raw, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_wrong_content_type_is_415(ministerial, alice):
    response = client_for(alice).patch(
        url(ministerial), "status=completed", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert response.json()["status"] == 415


def test_oversize_body_is_413(ministerial, alice, settings):
    body = json.dumps({"note": "x" * (settings.API_MAX_BODY_BYTES + 1)})
    response = client_for(alice).patch(url(ministerial), body, content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"


def test_stale_if_match_is_412_and_changes_nothing(api, ministerial, alice, bob):
    etag = api.get(url(ministerial))["ETag"]
    milestone_set_status(milestone=ministerial, status="at_risk", by=alice)  # someone else
    response = client_for(alice).patch(
        url(ministerial), {"status": "in_progress"}, HTTP_IF_MATCH=etag
    )
    assert response.status_code == 412
    assert response["Content-Type"] == "application/problem+json"
    ministerial.refresh_from_db()
    assert ministerial.status == "at_risk" and StatusUpdate.objects.count() == 1


def test_current_if_match_passes_and_the_answers_etag_is_the_next_one(
    api, ministerial, project_selection, alice
):
    etag = api.get(url(ministerial))["ETag"]
    response = client_for(alice).patch(
        url(ministerial), {"status": "in_progress"}, HTTP_IF_MATCH=etag
    )
    assert response.status_code == 200
    # The answer's ETag is the one to send next time.
    again = client_for(alice).patch(
        url(ministerial), {"status": "at_risk"}, HTTP_IF_MATCH=response["ETag"]
    )
    assert again.status_code == 200


def test_if_match_for_another_milestone_is_412(ministerial, project_selection, alice):
    response = client_for(alice).patch(
        url(ministerial),
        {"status": "in_progress"},
        HTTP_IF_MATCH=f'W/"m{project_selection.pk}.v1.x"',
    )
    assert response.status_code == 412


def test_unknown_milestone_is_404(alice, agreements):
    assert client_for(alice).patch("/api/v1/milestones/999999/", {"note": "x"}).status_code == 404


def test_patch_changes_what_readers_see(api, ministerial, alice):
    etag = api.get("/api/v1/status/")["ETag"]
    client_for(alice).patch(url(ministerial), {"status": "cancelled", "note": "Dropped"})
    response = api.get("/api/v1/status/", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert ministerial.pk not in [m["id"] for m in response.json()["overdue"]["milestones"]]


@pytest.mark.parametrize(
    "address",
    [
        'https://example.org/"><script>alert(1)</script>',
        "https://user:pass@example.org/",
        "https://exаmple.org/",  # a Cyrillic "а"
    ],
)
def test_unsafe_evidence_addresses_are_400(ministerial, alice, address):
    """Finding 5."""
    response = client_for(alice).patch(
        url(ministerial), {"status": "completed", "evidence_url": address}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "evidence_url"


def test_same_evidence_on_a_completed_milestone_does_not_move_completed_on(ministerial, alice):
    """Finding 4."""
    editor = client_for(alice)
    done = {"status": "completed", "evidence_url": EVIDENCE, "completed_on": "2026-04-24"}
    assert editor.patch(url(ministerial), done).status_code == 200
    response = editor.patch(url(ministerial), {"evidence_url": EVIDENCE})
    assert response.status_code == 400
    assert editor.get(url(ministerial)).json()["completed_on"] == "2026-04-24"


def test_note_alone_on_a_completed_milestone_keeps_its_evidence(ministerial, alice):
    """It was a 400, 'evidence_url: an evidence address is required to mark a milestone
    completed', for a milestone completed with one: the admin's form sends the current
    address with a note, the API sent none."""
    editor = client_for(alice)
    done = {"status": "completed", "evidence_url": EVIDENCE, "completed_on": "2026-04-24"}
    assert editor.patch(url(ministerial), done).status_code == 200
    response = editor.patch(url(ministerial), {"note": "Minutes published"})
    assert response.status_code == 200, response.content
    shown = response.json()
    assert (shown["status"], shown["evidence_url"]) == ("completed", EVIDENCE)
    assert shown["completed_on"] == "2026-04-24"
    assert StatusUpdate.objects.filter(note="Minutes published").count() == 1
