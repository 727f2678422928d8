"""tracker/fetch.py against local servers: every guard, one test each. Time is
frozen with time-machine; the only real waits are the client's own (sub-second)
timeouts against a server that hangs."""

from __future__ import annotations

import datetime as dt
import gzip
import threading

import pytest
import time_machine
from werkzeug import Response

from tracker import fetch

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def test_a_plain_get_returns_status_body_and_validators(site):
    site.expect_request("/feed.xml").respond_with_data(
        "<rss/>", headers={"ETag": '"v1"', "Last-Modified": "Sun, 01 Mar 2026 08:00:00 GMT"}
    )
    result = fetch.fetch(site.url_for("/feed.xml"))
    assert (result.outcome, result.status, result.body) == ("ok", 200, b"<rss/>")
    assert (result.etag, result.last_modified) == ('"v1"', "Sun, 01 Mar 2026 08:00:00 GMT")
    assert result.final_url == site.url_for("/feed.xml")


def test_the_user_agent_names_the_service_and_its_address(site, settings):
    settings.SITE_URL = "https://tracker.example.org"
    site.expect_request(
        "/ua", headers={"User-Agent": "commitment-tracker/1.0 (+https://tracker.example.org)"}
    ).respond_with_data("ok")
    assert fetch.fetch(site.url_for("/ua")).ok


def test_a_conditional_get_reports_304(site):
    site.expect_request("/feed.xml", headers={"If-None-Match": '"v1"'}).respond_with_data(
        "", status=304
    )
    result = fetch.fetch(site.url_for("/feed.xml"), etag='"v1"')
    assert result.outcome == "not_modified" and result.body == b""


def test_a_server_that_hangs_times_out(site):
    release = threading.Event()
    site.expect_request("/hang").respond_with_handler(
        lambda request: (release.wait(10), Response("late"))[1]
    )
    try:
        result = fetch.fetch(site.url_for("/hang"))
    finally:
        release.set()
    assert result.outcome == "timeout"


def test_a_50_mb_body_stops_at_the_limit(site):
    sent = []

    def fifty_megabytes():
        for _ in range(50 * 16):
            sent.append(1)
            yield b"x" * 65536

    site.expect_request("/big").respond_with_response(Response(fifty_megabytes()))
    result = fetch.fetch(site.url_for("/big"))
    assert result.outcome == "too_large" and result.body == b""
    assert len(sent) < 50 * 16  # the client hung up long before the end


def test_a_gzip_bomb_stops_at_the_decoded_limit(site):
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100 * 1024  # small on the wire ...
    site.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    result = fetch.fetch(site.url_for("/bomb"))
    assert result.outcome == "too_large"  # ... refused once decoded past 1 MB


def test_gzip_within_the_limit_is_decoded(site):
    site.expect_request("/gz").respond_with_data(
        gzip.compress(b"<rss>hello</rss>"), headers={"Content-Encoding": "gzip"}
    )
    assert fetch.fetch(site.url_for("/gz")).body == b"<rss>hello</rss>"


@pytest.mark.parametrize(
    "target",
    ["http://127.0.0.1:{port}/secret", "http://169.254.169.254/latest/meta-data/"],
)
def test_a_redirect_to_a_private_address_is_refused_at_that_hop(site, target):
    target = target.format(port=site.port)
    site.expect_request("/moved").respond_with_data("", status=302, headers={"Location": target})
    result = fetch.fetch(site.url_for("/moved"))
    assert result.outcome == "refused" and "non-public" in result.error
    assert "TRACKER_FETCH_ALLOW_PRIVATE" in result.error
    assert result.final_url == target


def test_the_first_hop_is_vetted_too(site):
    result = fetch.fetch(f"http://127.0.0.1:{site.port}/feed.xml")
    assert result.outcome == "refused"


def test_redirects_are_followed_at_most_five_times(site):
    for i in range(6):
        site.expect_request(f"/r{i}").respond_with_data(
            "", status=301, headers={"Location": f"/r{i + 1}"}
        )
    site.expect_request("/r6").respond_with_data("arrived")
    assert fetch.fetch(site.url_for("/r1")).body == b"arrived"  # five redirects
    result = fetch.fetch(site.url_for("/r0"))  # six
    assert result.outcome == "http_error" and "more than 5 redirects" in result.error


def test_robots_txt_is_obeyed_and_cached(site):
    site.clear()
    site.expect_oneshot_request("/robots.txt").respond_with_data(
        "User-agent: *\nDisallow: /private/\n"
    )
    site.expect_request("/private/feed.xml").respond_with_data("no")
    site.expect_request("/public/feed.xml").respond_with_data("yes")
    assert fetch.fetch(site.url_for("/private/feed.xml")).outcome == "robots"
    assert fetch.fetch(site.url_for("/public/feed.xml")).body == b"yes"
    paths = [request.path for request, _ in site.log]
    assert paths.count("/robots.txt") == 1
    assert "/private/feed.xml" not in paths


def test_a_429_is_not_asked_again_before_its_retry_after(site):
    with time_machine.travel(T0, tick=False) as clock:
        site.expect_request("/feed").respond_with_data(
            "slow down", status=429, headers={"Retry-After": "600"}
        )
        first = fetch.fetch(site.url_for("/feed"))
        assert (first.outcome, first.status, first.retry_after) == ("http_error", 429, 600)
        clock.shift(599)
        assert fetch.fetch(site.url_for("/feed")).outcome == "backoff"
        assert len([r for r, _ in site.log if r.path == "/feed"]) == 1
        clock.shift(2)
        site.clear()
        site.expect_request("/robots.txt").respond_with_data("", status=404)
        site.expect_request("/feed").respond_with_data("<rss/>")
        assert fetch.fetch(site.url_for("/feed")).ok


def test_failures_back_off_longer_each_time(site, settings):
    settings.TRACKER_FETCH_BACKOFF_SECONDS = 60
    site.expect_request("/down").respond_with_data("", status=503)
    with time_machine.travel(T0, tick=False) as clock:
        assert fetch.fetch(site.url_for("/down")).outcome == "http_error"
        clock.shift(61)
        assert fetch.fetch(site.url_for("/down")).outcome == "http_error"
        clock.shift(61)  # the second failure asked for 120 s
        assert fetch.fetch(site.url_for("/down")).outcome == "backoff"
        clock.shift(60)
        assert fetch.fetch(site.url_for("/down")).outcome == "http_error"
    assert len([r for r, _ in site.log if r.path == "/down"]) == 3


def test_one_request_at_a_time_per_host(site):
    release, started = threading.Event(), threading.Event()

    def slow(request):
        started.set()
        release.wait(5)
        return Response("done")

    site.expect_request("/slow").respond_with_handler(slow)
    site.expect_request("/other").respond_with_data("other")
    results = {}
    worker = threading.Thread(target=lambda: results.update(a=fetch.fetch(site.url_for("/slow"))))
    worker.start()
    try:
        assert started.wait(5)
        assert fetch.fetch(site.url_for("/other")).outcome == "busy"
    finally:
        release.set()
        worker.join(10)
    assert results["a"].ok
    assert fetch.fetch(site.url_for("/other")).ok  # the lock is released after


def test_retry_after_as_an_http_date():
    now = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC).timestamp()
    assert fetch.parse_retry_after("Sun, 01 Mar 2026 09:02:00 GMT", now=now) == 120
    assert fetch.parse_retry_after("soon", now=now) is None
    assert fetch.parse_retry_after("²", now=now) is None  # a digit to isdigit(), not a number
