from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest
import redis
from django.core.cache import caches
from django.test import override_settings

from tests.conftest import require_service
from tracker.api import throttling

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
            keys = other_worker.keys("*throttle:anon:*")
            assert len(keys) == 1, "the throttle's counter is not in Redis"
            other_worker.incr(keys[0])  # a request counted by another worker
            assert api.get("/api/v1/agreements/").status_code == 429
        finally:
            caches["default"].clear()


@pytest.mark.skipif(not os.environ.get("CACHE_URL"), reason="CACHE_URL not set")
def test_with_cache_url_the_default_cache_is_redis():
    from django.conf import settings

    assert settings.CACHES["default"]["BACKEND"] == "tracker.api.cache.RedisCache"


@pytest.mark.skipif(not os.environ.get("CACHE_URL"), reason="CACHE_URL not set")
def test_a_request_costs_one_redis_round_trip_and_the_counter_expires(api, agreements):
    """INCR and, on a window's first request, EXPIRE: one script, one round trip."""
    from tracker.api.cache import RedisCache

    default = caches["default"]
    assert isinstance(default, RedisCache)
    for expected in (1, 2):
        with redis_round_trips() as trips:
            assert default.count("round-trips", timeout=61) == expected
        assert trips == [("EVALSHA",)], trips
    key = default.make_and_validate_key("round-trips")
    assert 0 < redis.Redis.from_url(os.environ["CACHE_URL"]).ttl(key) <= 61


@contextlib.contextmanager
def redis_round_trips() -> Iterator[list[tuple[str, ...]]]:
    """The round trips the default cache makes to Redis meanwhile, each as the names of
    its commands (a pipeline's commands travel together)."""
    client = caches["default"]._cache.get_client(write=True)
    trips: list[tuple[str, ...]] = []
    original_command, original_pipeline = client.execute_command, client.pipeline

    def command(*args, **kwargs):
        trips.append((args[0],))
        return original_command(*args, **kwargs)

    def pipeline(*args, **kwargs):
        pipe = original_pipeline(*args, **kwargs)
        execute = pipe.execute

        def spy(*a, **k):
            trips.append(tuple(str(c[0][0]) for c in pipe.command_stack))
            return execute(*a, **k)

        pipe.execute = spy
        return pipe

    client.execute_command, client.pipeline = command, pipeline
    try:
        yield trips
    finally:
        del client.execute_command, client.pipeline


def _revalidate(api, times: int) -> list:
    first = api.get("/api/v1/status/")
    answers = [api.get("/api/v1/status/", HTTP_IF_NONE_MATCH=first["ETag"]) for _ in range(times)]
    return [first, *answers]


def _rate_headers(response) -> dict[str, str]:
    return {k: v for k, v in response.items() if k.startswith("X-RateLimit")}


@pytest.mark.skipif(not os.environ.get("CACHE_URL"), reason="CACHE_URL not set")
def test_a_304_costs_no_redis_round_trip_and_shows_the_same_headers(api, agreements, settings):
    """304s count in this process; the main bucket, for their headers, is read at most
    once per API_VALIDATOR_TTL_MS. With nothing remembered (0) it is read on every 304:
    the answers are the same either way."""
    settings.API_ANON_RATE = "5/min"
    exact = _revalidate(api, 3)
    caches["default"].clear()
    throttling.process_counts.clear()
    settings.API_VALIDATOR_TTL_MS = 60_000
    with redis_round_trips() as trips:
        remembered = _revalidate(api, 3)
    assert [r.status_code for r in remembered] == [r.status_code for r in exact]
    assert [r.status_code for r in exact] == [200, 304, 304, 304]
    assert [_rate_headers(r) for r in remembered] == [_rate_headers(r) for r in exact]
    assert _rate_headers(exact[-1])["X-RateLimit-Remaining"] == "4"
    # The 200's: its count with the body cache's read, then the body stored; none for
    # the 304s.
    assert trips == [("EVALSHA", "GET"), ("SET",)], trips


def test_the_304_bucket_is_per_process_and_bounded_there(api, agreements, settings):
    """Each process counts its own 304s: a client gets at most factor x limit of them
    per window from each web process (docs/api.md)."""
    settings.API_ANON_RATE = "1/min"
    settings.API_REVALIDATION_FACTOR = 2
    answers = _revalidate(api, 3)
    assert [r.status_code for r in answers] == [200, 304, 304, 429]
    throttling.process_counts.clear()  # as another worker would see it: its own count
    tag = answers[0]["ETag"]
    assert api.get("/api/v1/status/", HTTP_IF_NONE_MATCH=tag).status_code == 304


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
    """A conditional GET is charged once its answer is known: when that answer is a
    200, it is charged, and refused past the limit, as a plain GET is."""
    settings.API_ANON_RATE = "2/min"
    answers = [api.get(url, HTTP_IF_NONE_MATCH='"not-the-etag"') for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429], url


# --- A 200's charge rides on the round trip that reads its body ---------------------------

CACHED_READS = ["/api/v1/", "/api/v1/status/", "/api/v1/agreements/", "/api/v1/milestones/"]


@pytest.mark.skipif(not os.environ.get("CACHE_URL"), reason="CACHE_URL not set")
@pytest.mark.parametrize("url", CACHED_READS)
def test_a_cached_200_costs_one_redis_round_trip(api, agreements, url):
    """The count and the cached body travel together (one pipelined round trip)."""
    first = api.get(url)
    with redis_round_trips() as trips:
        again = api.get(url)
    assert again.status_code == 200 and again.content == first.content
    assert trips == [("EVALSHA", "GET")], trips
    assert int(again["X-RateLimit-Used"]) == int(first["X-RateLimit-Used"]) + 1


def _sequence(api, url: str) -> list[tuple[int, bytes, dict[str, str]]]:
    """A poller's minute at 3/min: a miss, a hit, a 304, a bad query, then refused."""
    first = api.get(url)
    answers = [
        first,
        api.get(url),
        api.get(url, HTTP_IF_NONE_MATCH=first["ETag"]),
        api.get(url + "?bogus=1"),
        api.get(url),
    ]
    return [(a.status_code, a.content, _rate_headers(a)) for a in answers]


@pytest.mark.parametrize("url", ["/api/v1/status/", "/api/v1/milestones/"])
def test_the_answers_are_the_same_as_with_the_charge_on_its_own(
    api, agreements, settings, monkeypatch, url
):
    """The shared round trip changes no answer: the same requests give the same
    statuses, bodies and rate-limit headers as when every 200 is charged on its own
    (the previous road: ``on_modified`` counts, then the body is read)."""
    settings.API_ANON_RATE = "3/min"
    together = _sequence(api, url)
    caches["default"].clear()
    throttling.process_counts.clear()
    monkeypatch.setattr(
        throttling.RateLimitMixin,
        "on_modified",
        lambda self: self._charge(self.request, revalidation=False),
    )
    with redis_round_trips() as trips:
        apart = _sequence(api, url)
    assert apart == together
    assert [status for status, _, _ in together] == [200, 200, 304, 400, 429]
    if os.environ.get("CACHE_URL"):  # the patch does take the other road
        assert ("EVALSHA", "GET") not in trips and ("GET",) in trips, trips


def test_an_error_counts_but_is_not_refused_for_the_limit(api, agreements, settings):
    """A read is charged once its answer is known: an error (here a bad parameter) is
    an answer already, so it counts, and the next read is refused."""
    settings.API_ANON_RATE = "1/min"
    assert api.get("/api/v1/milestones/").status_code == 200
    error = api.get("/api/v1/milestones/?page=abc")
    assert error.status_code == 400 and error["X-RateLimit-Used"] == "1"  # capped at limit
    assert error["X-RateLimit-Remaining"] == "0"
    assert api.get("/api/v1/milestones/").status_code == 429


@pytest.mark.skipif(not os.environ.get("CACHE_URL"), reason="CACHE_URL not set")
def test_the_shared_round_trip_survives_redis_forgetting_its_scripts():
    """After SCRIPT FLUSH (a Redis restart does the same) the count is still made."""
    default = caches["default"]
    default.set("body-key", {"body": b"x"}, 60)
    assert default.count_and_get("flushed", 61, "body-key") == (1, {"body": b"x"})
    redis.Redis.from_url(os.environ["CACHE_URL"]).script_flush()
    assert default.count_and_get("flushed", 61, "body-key") == (2, {"body": b"x"})
    assert default.count_and_get("flushed", 61, "missing") == (3, None)
