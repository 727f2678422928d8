"""Requests an outside client sent by hand (issue 8): each is answered with problem
details and the right status, never a 500 or an HTML page."""

from __future__ import annotations

import json
import logging
import time

import pytest
from django.test import RequestFactory, override_settings

from tests.conftest import SilentListener, free_port
from tracker.api import exceptions

from .conftest import EVIDENCE, client_for, token_for

pytestmark = pytest.mark.usefixtures("frozen")
PROBLEM = "application/problem+json"


def is_problem(response, status: int) -> bool:
    return response.status_code == status and response["Content-Type"] == PROBLEM


def milestone_url(milestone) -> str:
    return f"/api/v1/milestones/{milestone.pk}/"


def test_deep_nesting_is_400_not_a_recursion_error(ministerial, alice):
    """Finding 2: 1,200 levels (2.4 KB) was a 500."""
    body = "[" * 1200 + "]" * 1200
    response = client_for(alice).patch(
        milestone_url(ministerial), body, content_type="application/json"
    )
    assert is_problem(response, 400)
    assert "nested" in response.json()["detail"]


def test_a_little_nesting_is_still_fine(ministerial, alice):
    response = client_for(alice).patch(
        milestone_url(ministerial), {"note": "[[{}]] in a string"}, format="json"
    )
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_options_on_the_docs_pages_is_no_500(api, db, path):
    """Finding 3."""
    response = api.options(path)
    assert response.status_code == 204 and "GET" in response["Allow"]


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/", "/api/redoc/"])
@pytest.mark.parametrize(
    ("method", "extra", "status"),
    [
        ("POST", {}, 405),
        ("GET", {"HTTP_AUTHORIZATION": "Bearer not-a-token"}, 401),
        ("GET", {"QUERY_STRING": "format=xml"}, 400),
    ],
)
def test_errors_of_the_schema_and_the_docs_are_problems_in_json(
    api, db, path, method, extra, status
):
    """They were labelled problem+json, with a body in YAML (the schema), a page of HTML
    or "405 Method Not Allowed" (the docs): each view's own renderer."""
    response = api.generic(method, path, **extra)
    assert is_problem(response, status)
    assert response.json()["status"] == status


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/", "/api/redoc/"])
@pytest.mark.parametrize(
    "header",
    [{"HTTP_IF_MATCH": '"x"'}, {"HTTP_IF_UNMODIFIED_SINCE": "Sat, 01 Jan 2000 00:00:00 GMT"}],
)
def test_a_failed_precondition_on_the_schema_or_the_docs_is_a_problem_412(api, db, path, header):
    """Django's ConditionalGetMiddleware answered an empty text/html 412."""
    assert is_problem(api.get(path, **header), 412)


def test_a_write_to_an_unmatched_path_is_a_problem_404_not_a_csrf_page(ministerial, alice):
    """Finding 6, with a token and with a session."""
    no_slash = milestone_url(ministerial).rstrip("/")
    assert is_problem(client_for(alice).patch(no_slash, {"note": "x"}), 404)
    from rest_framework.test import APIClient

    session = APIClient(enforce_csrf_checks=True)
    session.force_login(alice)
    assert is_problem(session.patch(no_slash, {"note": "x"}), 404)
    # A session write to a real address without its CSRF token: DRF's 403, a problem.
    assert is_problem(session.patch(milestone_url(ministerial), {"note": "x"}), 403)


def test_a_newline_in_the_path_is_a_problem_404(api, db):
    assert is_problem(api.get("/api/v1/commitments/a%0A/"), 404)


def test_a_host_this_site_does_not_serve_is_a_problem_400(api, db):
    """Django refuses it in a middleware (DisallowedHost), before any view: it was
    Django's HTML page under /api/ too. The proxy passes every Host on."""
    response = api.get("/api/v1/status/", HTTP_HOST="tracker.example.net")
    assert is_problem(response, 400)
    assert "tracker.example.net" not in response.content.decode()  # Django's advice, kept
    assert api.get("/", HTTP_HOST="tracker.example.net")["Content-Type"].startswith("text/html")


def test_django_level_errors_under_api_are_problems(db):
    request = RequestFactory().get("/api/v1/anything/")
    assert is_problem(exceptions.server_error(request), 500)
    assert is_problem(exceptions.csrf_failure(request, "no token"), 403)
    elsewhere = RequestFactory().get("/agreements/")
    assert exceptions.server_error(elsewhere)["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("category=", "category"),
        ("overdue=", "status"),
        ("agreement=", "agreement"),
        ("status=not_started&status=", "status"),
        ("agreement=a&agreement=b", "agreement"),
        ("page=1&page=2", "page"),
        ("page_size=%EF%BC%95", "page_size"),  # fullwidth 5
        ("updated_since=x", "updated_since"),
        ("bogus=1", "bogus"),
    ],
)
def test_parameters_are_checked_evenly(api, agreements, query, field):
    """Finding 9 (commitments: category, agreement, status; milestones share the
    rules, see test_reads)."""
    url = "/api/v1/milestones/" if field == "page_size" else "/api/v1/commitments/"
    if query.startswith("overdue"):
        url, field = "/api/v1/milestones/", "overdue"
    response = api.get(f"{url}?{query}")
    assert is_problem(response, 400)
    assert field in [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize(
    ("path", "formats"),
    [
        ("/api/v1/milestones/?format=xml", "json, csv"),
        ("/api/v1/agreements/?format=csv", "json"),  # no CSV for agreements
        ("/api/v1/status/?format=api", "json"),
        ("/api/schema/?format=xml", "yaml, json"),
    ],
)
def test_a_format_no_renderer_has_is_400_naming_format(api, agreements, path, formats):
    """It was DRF's 404 "Not found." for an address that exists."""
    response = api.get(path)
    assert is_problem(response, 400)
    assert response.json()["errors"] == [{"field": "format", "reason": f"Give one of {formats}."}]


def test_updated_since_on_every_list(api, ministerial, alice, frozen):
    import datetime as dt

    from commitments.services import milestone_set_status

    later = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
    frozen.move_to(later)
    milestone_set_status(milestone=ministerial, status="at_risk", by=alice)
    since = "2026-11-21T12:00:00Z"
    for kind, expected in [
        ("milestones", {ministerial.pk}),
        ("commitments", {ministerial.commitment_id}),
        ("agreements", {ministerial.commitment.agreement.slug}),
    ]:
        response = api.get(f"/api/v1/{kind}/?updated_since={since}")
        assert response.status_code == 200
        key = "slug" if kind == "agreements" else "id"
        assert {item[key] for item in response.json()["results"]} == expected, kind


@pytest.mark.parametrize("who", ["anonymous", "viewer", "editor"])
def test_a_method_a_path_does_not_have_is_405_for_everyone(request, api, agreements, who):
    """Finding 10: it was 401, 403 or 405 by caller."""
    caller = (
        api
        if who == "anonymous"
        else client_for(request.getfixturevalue({"viewer": "bob", "editor": "alice"}[who]))
    )
    response = caller.post("/api/v1/status/", {})
    assert is_problem(response, 405)
    assert response["Allow"] == "GET, HEAD, OPTIONS"


def test_options_on_a_missing_milestone_is_404(api, agreements):
    assert is_problem(api.options("/api/v1/milestones/999999/"), 404)


def test_a_chunked_body_is_411(ministerial, alice):
    """Finding 11: read as empty before."""
    response = client_for(alice).generic(
        "PATCH",
        milestone_url(ministerial),
        b"",
        content_type="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert is_problem(response, 411)


@pytest.mark.parametrize(
    "accept", ["application/json;q=0", "application/json;q=0.0, text/html", "image/png"]
)
def test_nothing_acceptable_is_406(api, agreements, accept):
    """Finding 12."""
    assert is_problem(api.get("/api/v1/agreements/", HTTP_ACCEPT=accept), 406)


def test_duplicate_json_keys_are_400(ministerial, alice):
    """Finding 13: the last one won."""
    response = client_for(alice).patch(
        milestone_url(ministerial),
        '{"status": "bogus", "status": "in_progress"}',
        content_type="application/json",
    )
    assert is_problem(response, 400)
    assert "twice" in response.json()["detail"]


def test_bearer_is_accepted(api, ministerial, alice, settings):
    """Finding 15: Bearer was anonymous on GET and 401 on PATCH."""
    settings.API_USER_RATE = "77/min"
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}")
    assert api.get("/api/v1/status/")["X-RateLimit-Limit"] == "77"  # the user's limit
    response = api.patch(milestone_url(ministerial), {"status": "in_progress"})
    assert response.status_code == 200, response.content


def test_the_index_lists_the_endpoints(api, db):
    """Finding 21: /api/v1/ was a 404."""
    response = api.get("/api/v1/")
    assert response.status_code == 200
    body = response.json()
    assert body["milestones"] == "http://testserver/api/v1/milestones/"
    assert body["schema"] == "http://testserver/api/schema/"
    assert api.get("/api/v1/", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


# --- Finding 16: the cache's Redis down or hanging -----------------------------------------


def _redis_cache(port: int) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.1, "socket_timeout": 0.1},
        }
    }


@pytest.mark.parametrize("failure", ["stopped", "hanging"])
def test_the_api_answers_with_its_cache_down(api, agreements, caplog, failure, settings):
    server = SilentListener() if failure == "hanging" else None
    port = server.port if server else free_port()  # nothing listens: a stopped Redis
    settings.API_ANON_RATE = "2/min"  # would refuse the third request if it counted
    try:
        with override_settings(CACHES=_redis_cache(port)), caplog.at_level(logging.WARNING):
            started = time.monotonic()
            answers = [api.get("/api/v1/status/") for _ in range(5)]
            elapsed = time.monotonic() - started
    finally:
        if server:
            server.close()
    assert [a.status_code for a in answers] == [200] * 5
    assert "X-RateLimit-Limit" not in answers[0]  # no count, no headers: degraded open
    assert elapsed < 2, elapsed  # one short timeout, then the cache is left alone
    assert any("cache unavailable" in r.getMessage() for r in caplog.records)
    assert json.loads(answers[0].content)["agreements"]


def test_the_cache_client_has_short_timeouts():
    from django.conf import settings as django_settings

    if not django_settings.REDIS_CACHE_URL:
        pytest.skip("CACHE_URL not set")
    options = django_settings.CACHES["default"]["OPTIONS"]
    assert 0 < options["socket_connect_timeout"] <= 1
    assert 0 < options["socket_timeout"] <= 1


def test_evidence_is_still_required_for_completed(ministerial, alice):
    response = client_for(alice).patch(
        milestone_url(ministerial), {"status": "completed", "evidence_url": EVIDENCE}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("token", ["\xb2", "\xe9t\xe9", "ab\x00cd"])
def test_a_token_of_odd_bytes_is_401_not_a_500(api, agreements, token):
    """'Authorization: Bearer ²' (a byte knox cannot decode) or a NUL (which PostgreSQL
    refuses in a query) was a 500, on reads as on the PATCH."""
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api.get("/api/v1/status/")
    assert is_problem(response, 401)
    assert response.json()["detail"] == "Invalid token."


def test_more_parameters_than_django_reads_is_400_not_a_500(api, agreements, settings):
    """Over DATA_UPLOAD_MAX_NUMBER_FIELDS, Django's TooManyFieldsSent (a 400 outside a
    view) reached the handler as an unknown error: a 500."""
    query = "&".join(f"p{n}=1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = api.get(f"/api/v1/milestones/?{query}")
    assert is_problem(response, 400)
    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS" in response.json()["detail"]
