from __future__ import annotations

import datetime as dt
import os

import pytest
import redis
from django.core.cache import caches
from django.test import override_settings

from tests.conftest import require_service

from .conftest import client_for

pytestmark = pytest.mark.usefixtures("frozen")


def test_anonymous_reads_are_limited_with_a_problem_and_retry_after(api, agreements, settings):
    settings.API_ANON_RATE = "3/min"
    for _ in range(3):
        assert api.get("/api/v1/agreements/").status_code == 200
    response = api.get("/api/v1/agreements/")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert int(response["Retry-After"]) > 0


def test_token_holders_have_their_own_higher_limit(api, agreements, alice, settings):
    settings.API_ANON_RATE = "1/min"
    settings.API_USER_RATE = "5/min"
    assert api.get("/api/v1/agreements/").status_code == 200
    assert api.get("/api/v1/agreements/").status_code == 429
    editor = client_for(alice)
    assert all(editor.get("/api/v1/agreements/").status_code == 200 for _ in range(5))
    assert editor.get("/api/v1/agreements/").status_code == 429


def test_304s_are_free_but_a_flood_of_them_is_bounded(api, agreements, settings):
    """A 304 does not count against the limit (GitHub's rule); 304s count in a bucket
    of their own, API_REVALIDATION_FACTOR times the limit."""
    settings.API_ANON_RATE = "2/min"
    settings.API_REVALIDATION_FACTOR = 3
    first = api.get("/api/v1/status/")
    assert first["X-RateLimit-Remaining"] == "1"
    for _ in range(6):
        response = api.get("/api/v1/status/", HTTP_IF_NONE_MATCH=first["ETag"])
        assert response.status_code == 304
        assert response["X-RateLimit-Remaining"] == "1"  # unchanged: free
    flood = api.get("/api/v1/status/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert flood.status_code == 429 and int(flood["Retry-After"]) > 0
    assert api.get("/api/v1/status/").status_code == 200  # the main budget is intact
    assert api.get("/api/v1/status/").status_code == 429


@pytest.mark.parametrize(
    "url", ["/api/v1/status/", "/api/v1/milestones/", "/api/v1/milestones/?page=abc", "/api/v1/"]
)
def test_every_answer_has_rate_limit_headers(api, agreements, settings, url, frozen):
    settings.API_ANON_RATE = "10/min"
    response = api.get(url)
    assert response["X-RateLimit-Limit"] == "10"
    assert response["X-RateLimit-Used"] == "1"
    assert response["X-RateLimit-Remaining"] == "9"
    assert int(response["X-RateLimit-Reset"]) % 60 == 0
    assert response["X-RateLimit-Resource"] == "core"


def test_invalid_tokens_count_against_the_address(api, agreements, settings):
    """Finding 20: 200 random tokens were 200 x 401, never 429."""
    settings.API_ANON_RATE = "3/min"
    statuses = []
    for i in range(5):
        api.credentials(HTTP_AUTHORIZATION=f"Bearer not-a-token-{i}")
        statuses.append(api.get("/api/v1/status/").status_code)
    assert statuses == [401, 401, 401, 429, 429]
    api.credentials()
    assert api.get("/api/v1/status/").status_code == 429  # the same address


def _redis_url() -> str:
    return os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/12")


def _redis_up(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:
        return False


def test_counters_live_in_redis_shared_by_every_worker(api, agreements, settings):
    """Two workers are two processes with their own memory; what they share is Redis.
    The counter written by this "worker" is read back through a second, independent
    connection, as another worker would."""
    url = _redis_url()
    require_service(_redis_up(url), f"Redis at {url}")
    redis_cache = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    }
    with override_settings(CACHES=redis_cache):
        caches["default"].clear()
        try:
            settings.API_ANON_RATE = "2/min"
            assert api.get("/api/v1/agreements/").status_code == 200
            other_worker = redis.Redis.from_url(url)
            keys = other_worker.keys("*ratelimit:api:anon:*")
            assert len(keys) == 1, "the throttle's counter is not in Redis"
            other_worker.incr(keys[0])  # a request counted by another worker
            assert api.get("/api/v1/agreements/").status_code == 429
        finally:
            caches["default"].clear()


@pytest.mark.skipif(not os.environ.get("CACHE_URL"), reason="CACHE_URL not set")
def test_with_cache_url_the_default_cache_is_djangos_redis():
    from django.conf import settings

    backend = settings.CACHES["default"]["BACKEND"]
    assert backend == "django.core.cache.backends.redis.RedisCache"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/",
        "/api/v1/status/",
        "/api/v1/agreements/",
        "/api/v1/commitments/",
        "/api/v1/milestones/",
        "/api/v1/milestones/?format=csv",
        "/api/v1/events/",
    ],
)
def test_a_conditional_get_that_is_not_a_304_counts_and_is_refused(api, agreements, settings, url):
    """A conditional GET is charged in full once its answer is known: when that answer
    is a 200, it is charged, and refused past the limit, as a plain GET is."""
    settings.API_ANON_RATE = "2/min"
    answers = [api.get(url, HTTP_IF_NONE_MATCH='"not-the-etag"') for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429], url


def test_an_error_counts_against_the_limit(api, agreements, settings):
    settings.API_ANON_RATE = "1/min"
    error = api.get("/api/v1/milestones/?page=abc")
    assert error.status_code == 400 and error["X-RateLimit-Used"] == "1"
    assert error["X-RateLimit-Remaining"] == "0"
    assert api.get("/api/v1/milestones/").status_code == 429


def test_a_new_window_starts_afresh(api, agreements, settings, frozen):
    settings.API_ANON_RATE = "1/min"
    first = api.get("/api/v1/status/")
    assert api.get("/api/v1/status/").status_code == 429
    frozen.move_to(dt.datetime.fromtimestamp(int(first["X-RateLimit-Reset"]), dt.UTC))
    again = api.get("/api/v1/status/")
    assert again.status_code == 200 and again["X-RateLimit-Used"] == "1"


def test_the_api_and_the_public_forms_count_with_the_one_counter(api, agreements, settings):
    """tracker.ops.ratelimit: the API's throttle and the follow form's limit both count
    there (issue 20, item 5)."""
    from tracker.ops import ratelimit, throttle

    settings.API_ANON_RATE = "5/min"
    api.get("/api/v1/status/")
    assert ratelimit.peek("api:anon:127.0.0.1", 60).count == 1
    assert throttle.allowed("follow", "address:a@example.test", 1)
    assert not throttle.allowed("follow", "address:a@example.test", 1)
