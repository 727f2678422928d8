"""One road for every caller (issue 8, findings 1, 7, 8 and 14): the request is
validated first, the preconditions after, by Django's rules, and the answer is the
same whoever asks."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from .conftest import client_for

pytestmark = pytest.mark.usefixtures("frozen")


@pytest.fixture
def callers(api, bob):
    return {"anonymous": api, "viewer": client_for(bob)}


def test_page_2_is_page_2_for_every_caller(callers, agreements):
    """Finding 1: the anonymous fast path answered the unpaginated list."""
    bodies = set()
    for caller in callers.values():
        response = caller.get("/api/v1/agreements/?page=2&page_size=1")
        assert response.status_code == 200
        assert len(response.json()["results"]) == 1
        bodies.add(response.content)
    assert len(bodies) == 1


@pytest.mark.parametrize("query", ["page=0&page_size=0", "page=abc", "page=%EF%BC%92"])
def test_bad_pages_are_400_for_every_caller(callers, agreements, query):
    for name, caller in callers.items():
        response = caller.get(f"/api/v1/agreements/?{query}")
        assert response.status_code == 400, name
        assert response["Content-Type"] == "application/problem+json"


def test_page_1s_etag_is_no_304_for_page_2(api, agreements):
    first = api.get("/api/v1/agreements/?page_size=1")
    second = api.get("/api/v1/agreements/?page=2&page_size=1", HTTP_IF_NONE_MATCH=first["ETag"])
    assert second.status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/milestones/?page=-1&page_size=-5",
        "/api/v1/milestones/?overdue=maybe",
        "/api/v1/milestones/?page=99",
        "/api/v1/milestones/?page_size=1000",
        "/api/v1/milestones/999999/",
        "/api/v1/agreements/?unknown=1",
    ],
)
def test_an_error_is_never_a_304(api, agreements, url):
    """Finding 7: preconditions are evaluated only when the answer would be 2xx."""
    response = api.get(url, HTTP_IF_NONE_MATCH="*")
    assert response.status_code in (400, 404)
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    "url", ["/api/v1/status/", "/api/v1/commitments/?page_size=100", "/api/v1/agreements/"]
)
@pytest.mark.parametrize("encoding", ["gzip", ""])
def test_a_304_sends_the_vary_of_its_200(callers, agreements, url, encoding):
    """Finding 8 (RFC 9110 section 15.4.5)."""
    for caller in callers.values():
        full = caller.get(url, HTTP_ACCEPT_ENCODING=encoding)
        again = caller.get(url, HTTP_ACCEPT_ENCODING=encoding, HTTP_IF_NONE_MATCH=full["ETag"])
        assert again.status_code == 304
        assert _vary(again) == _vary(full), url


def _vary(response) -> set[str]:
    return {v.strip().lower() for v in response["Vary"].split(",")}


def test_an_anonymous_read_varies_as_one_read_with_a_session(api, agreements, alice):
    """The answer names Cookie in its Vary with or without a session cookie."""
    anonymous = api.get("/api/v1/status/")
    session = APIClient()
    session.force_login(alice)
    signed_in = session.get("/api/v1/status/")
    assert signed_in.wsgi_request.user == alice
    assert "cookie" in _vary(anonymous)
    assert _vary(anonymous) == _vary(signed_in)


# --- Finding 14, and issue 21 item 10: If-Match; If-None-Match: * on a PATCH ---------------


def _milestone_url(milestone) -> str:
    return f"/api/v1/milestones/{milestone.pk}/"


def test_if_match_with_the_tag_a_gzip_client_got_passes(ministerial, alice):
    """requests, httpx and browsers send Accept-Encoding: gzip, and the compressed
    answer's ETag is weakened (W/): sent back as it came, it must match (issue 21,
    item 10: it was always 412)."""
    editor = client_for(alice)
    got = editor.get(_milestone_url(ministerial), HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert got["Content-Encoding"] == "gzip" and got["ETag"].startswith('W/"')
    response = editor.patch(
        _milestone_url(ministerial), {"status": "in_progress"}, HTTP_IF_MATCH=got["ETag"]
    )
    assert response.status_code == 200, response.content
    ministerial.refresh_from_db()
    assert ministerial.status == "in_progress"


def test_a_stale_weak_tag_is_still_412(api, ministerial, alice):
    etag = api.get(_milestone_url(ministerial), HTTP_ACCEPT_ENCODING="gzip")["ETag"]
    assert etag.startswith('W/"')
    client_for(alice).patch(_milestone_url(ministerial), {"note": "someone else"})
    response = client_for(alice).patch(
        _milestone_url(ministerial), {"status": "in_progress"}, HTTP_IF_MATCH=etag
    )
    assert response.status_code == 412
    assert response["Content-Type"] == "application/problem+json"
    ministerial.refresh_from_db()
    assert ministerial.status == "not_started"


def test_if_match_with_the_strong_tag_passes(api, ministerial, alice):
    etag = api.get(_milestone_url(ministerial))["ETag"]
    response = client_for(alice).patch(
        _milestone_url(ministerial), {"status": "in_progress"}, HTTP_IF_MATCH=etag
    )
    assert response.status_code == 200, response.content


def test_if_none_match_star_on_a_patch_is_412(ministerial, alice):
    response = client_for(alice).patch(
        _milestone_url(ministerial), {"status": "in_progress"}, HTTP_IF_NONE_MATCH="*"
    )
    assert response.status_code == 412
    ministerial.refresh_from_db()
    assert ministerial.status == "not_started"


def test_a_bad_body_with_a_stale_if_match_is_400_not_412(ministerial, alice):
    response = client_for(alice).patch(
        _milestone_url(ministerial), {"status": "bogus"}, HTTP_IF_MATCH='"stale"'
    )
    assert response.status_code == 400


def test_link_header_pagination(api, agreements):
    response = api.get("/api/v1/milestones/?page_size=2&page=2")
    links = {
        rel.split('"')[1]: target.strip(" <>")
        for target, rel in (part.split(";") for part in response["Link"].split(","))
    }
    assert set(links) == {"first", "prev", "next", "last"}
    body = response.json()
    assert links["next"] == body["next"] and links["prev"] == body["previous"]
    last = api.get(links["last"])
    assert last.status_code == 200 and last.json()["next"] is None
    assert 'rel="next"' not in last["Link"]
    assert api.get(links["first"]).json()["previous"] is None


def test_a_304_for_a_gzipped_copy_sends_the_etag_of_that_copy(api, agreements):
    url = "/api/v1/commitments/?page_size=100"
    gzipped = api.get(url, HTTP_ACCEPT_ENCODING="gzip")
    assert gzipped["Content-Encoding"] == "gzip" and gzipped["ETag"].startswith('W/"')
    again = api.get(url, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=gzipped["ETag"])
    assert again.status_code == 304 and again["ETag"] == gzipped["ETag"]
    plain = api.get(url)
    assert plain["ETag"] == gzipped["ETag"].removeprefix("W/")
    again = api.get(url, HTTP_IF_NONE_MATCH=plain["ETag"])
    assert again.status_code == 304 and again["ETag"] == plain["ETag"]
