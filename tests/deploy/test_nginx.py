"""nginx in front, on loopback, with deploy/nginx/tracker.conf: the micro-cache serves
anonymous polls, revalidates with the ETag, shows a change within 2 s, and lets
credentialed requests through; the proxy sets what Django trusts.

One nginx and one gunicorn (deploy/gunicorn.conf.py) for the module, on the pytest
PostgreSQL database with the agreements loaded (and emptied at the end)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port, require_service
from tests.tracker.conftest import database_url_for_subprocess, forget_queue, process_env

from .stack import ROOT, SERVER_NAME, Nginx, get, gunicorn_command, https, nginx_binary, wait_for

# Each test only talks HTTP; the mark makes pytest-django create the test database,
# which the module's fixture fills and commits (and empties at the end).
pytestmark = pytest.mark.django_db
STATUS = "/api/v1/status/"
EVIDENCE = "https://example.org/evidence"
DASHBOARD = "https://dashboard.example"


@dataclass
class Stack:
    nginx: Nginx
    web_port: int
    token: str
    milestone_ids: list[int]

    def proxy(self):
        return https("127.0.0.1", self.nginx.https_port)

    def upstream(self) -> dict[str, float]:
        """Answers gunicorn gave, by status (its /metrics: loopback, direct, no token)."""
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=10)
        _, _, body = get(conn, "/metrics")
        out: dict[str, float] = {}
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                if sample.name == "tracker_http_requests_total":
                    out[sample.labels["status"]] = sample.value
        return out

    def upstream_requests(self) -> float:
        return sum(self.upstream().values())


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Stack]:
    binary = nginx_binary()
    require_service(binary is not None, "nginx is not installed (scripts/ensure-nginx)")
    from django.contrib.auth.models import Group, User
    from knox.models import AuthToken

    from commitments.loader import load_agreements
    from commitments.models import Milestone
    from commitments.permissions import EDITORS

    with django_db_blocker.unblock():
        database_url = database_url_for_subprocess()
        load_agreements()
        alice = User.objects.create_user("alice", "alice@example.org", "pass-alice-x1")
        alice.groups.add(Group.objects.get(name=EDITORS))
        token = AuthToken.objects.create(user=alice)[1]
        ids = list(Milestone.objects.order_by("pk").values_list("pk", flat=True)[:10])

    directory = tmp_path_factory.mktemp("nginx")
    static_root = directory / "var" / "static"
    web_port = free_port()
    env = process_env(
        DATABASE_URL=database_url,
        SECRET_KEY="test-only-secret-key-for-the-proxy-tests-0123456789",
        DEBUG="false",
        HTTPS_ONLY="true",
        ALLOWED_HOSTS=f"{SERVER_NAME},127.0.0.1",
        API_NUM_PROXIES="1",
        TRUSTED_PROXIES="127.0.0.1",
        API_ANON_RATE="100000/min",
        API_CORS_ORIGINS=DASHBOARD,
        TRACKER_VAR_DIR=str(directory / "var"),
        GUNICORN_BIND=f"127.0.0.1:{web_port}",
        PROMETHEUS_MULTIPROC_DIR=str(directory / "prometheus"),
        LOG_LEVEL="WARNING",
    )
    subprocess.run(
        [str(ROOT / ".venv/bin/python"), "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT, env=env, check=True,
    )  # fmt: skip
    web = subprocess.Popen(
        gunicorn_command(workers=2), cwd=ROOT, env=env, start_new_session=True,
        stdout=(directory / "gunicorn.log").open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    nginx = Nginx(directory, free_port(), free_port(), [f"127.0.0.1:{web_port}"], static_root)
    try:
        nginx.start(binary)
        wait_for(
            lambda: get(https("127.0.0.1", nginx.https_port, 2), "/healthz")[0] == 200,
            30, "nginx and gunicorn",
        )  # fmt: skip
        yield Stack(nginx, web_port, token, ids)
    finally:
        nginx.stop()
        web.kill()
        web.wait(timeout=10)
        forget_queue()
        with django_db_blocker.unblock():
            call_command("flush", "--no-input", verbosity=0)


def test_anonymous_polls_are_served_from_the_cache(stack):
    conn = stack.proxy()
    get(conn, STATUS)  # fill (or refresh) the entry
    before = stack.upstream_requests()
    started = time.monotonic()
    statuses = []
    for _ in range(200):
        status, headers, _ = get(conn, STATUS)
        statuses.append((status, headers.get("x-cache-status")))
    took = time.monotonic() - started
    reached = stack.upstream_requests() - before - 1  # less our own /metrics read
    print(f"\n[micro-cache] 200 polls in {took:.2f} s reached Django {reached:.0f} times")
    assert {s for s, _ in statuses} == {200}, statuses
    assert reached <= took + 2  # about one per second (the entry lives 1 s)
    assert sum(1 for _, c in statuses if c in ("HIT", "UPDATING", "STALE")) >= 150


def test_an_expired_entry_is_revalidated_with_the_etag(stack):
    """While nothing changes, the proxy asks Django with the entry's ETag each second
    and Django answers 304: no body is rendered, the pollers still get their 200s."""
    conn = stack.proxy()
    get(conn, STATUS)
    before = stack.upstream()
    seen = set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status, headers, body = get(conn, STATUS)
        assert status == 200 and body
        seen.add(headers["x-cache-status"])
        time.sleep(0.05)
    after = stack.upstream()
    print(
        f"\n[revalidate] cache statuses {sorted(seen)}; Django answered "
        f"{after.get('304', 0) - before.get('304', 0):.0f} x 304, "
        f"{after.get('200', 0) - before.get('200', 0) - 1:.0f} x 200"
    )
    assert after.get("304", 0) - before.get("304", 0) >= 1
    assert after.get("200", 0) - before.get("200", 0) - 1 == 0  # only our /metrics read


def test_the_clients_etag_gets_a_304_from_the_proxy(stack):
    conn = stack.proxy()
    _, headers, _ = get(conn, STATUS)
    status, again, body = get(conn, STATUS, {"If-None-Match": headers["etag"]})
    assert status == 304 and body == b""
    assert again["etag"] == headers["etag"]


def test_a_change_is_visible_through_the_cache_within_two_seconds(stack):
    """The proxy keeps an answer 1 s by its clock of whole seconds (so less than 2 s),
    then serves it stale while one request through Django brings the new one: a change
    shows within 2 s plus that request and our own poll. Requests are timed in this
    run, so a loaded machine moves the bound with them; bench/proxy.py measures the
    figure on a quiet one."""
    conn = stack.proxy()
    _, before, _ = get(conn, STATUS)
    started = time.monotonic()
    status, _, body = get(
        conn,
        f"/api/v1/milestones/{stack.milestone_ids[0]}/",
        {"Authorization": f"Token {stack.token}", "Content-Type": "application/json"},
        method="PATCH",
        body=b'{"status": "in_progress"}',
    )
    assert status == 200, body
    changed_at = time.monotonic()
    slowest = changed_at - started  # a request through nginx and Django
    while True:
        asked = time.monotonic()
        _, headers, _ = get(conn, STATUS)
        slowest = max(slowest, time.monotonic() - asked)
        seen = time.monotonic() - changed_at
        if headers["etag"] != before["etag"] or seen > 10:
            break
        time.sleep(0.05)
    print(f"\n[micro-cache] the change was visible after {seen:.2f} s")
    assert headers["etag"] != before["etag"]
    # The entry's second, the update in the background, the poll that sees it, its pause.
    assert seen <= 2.0 + slowest + slowest + 0.05


def raw_get(conn, path: str, headers: list[tuple[str, str]]) -> tuple[int, dict[str, str], bytes]:
    """A GET with headers in order, repeated names kept (get() takes a dict)."""
    conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
    for name, value in [("Host", SERVER_NAME), *headers]:
        conn.putheader(name, value)
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def decoded(headers: dict[str, str], body: bytes) -> bytes:
    import gzip

    return gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body


def test_the_cache_key_holds_every_header_django_varies_on():
    """nginx keys the micro-cache on the request headers in Django's Vary instead of
    processing Vary (a second lookup per hit), and sends Django those same values: if
    Django comes to vary on another header, this fails until the key holds it too."""
    from django.test import Client

    conf = (ROOT / "deploy/nginx/tracker.conf").read_text()
    key = next(line for line in conf.splitlines() if "proxy_cache_key" in line)
    assert "Vary" in next(line for line in conf.splitlines() if "proxy_ignore_headers" in line)
    for path in (STATUS, "/api/v1/milestones/?page_size=100"):
        response = Client().get(path, HTTP_ACCEPT_ENCODING="gzip", HTTP_ORIGIN=DASHBOARD)
        varied = {h.strip().lower() for h in response["Vary"].split(",")}
        assert "cookie" in varied  # answered with any cookie: bypasses the cache
        for name in varied - {"cookie"}:
            variable = "$http_" + name.replace("-", "_")
            assert variable in key, (name, key)
            assert f"proxy_set_header {name} {variable};" in conf.lower(), name


def test_a_cache_in_front_of_the_pages_keys_on_what_they_vary_on():
    """A page's language is its address (/ja/…), which every cache key holds. English
    pages also vary on Accept-Language and Cookie (the suggestion to read them in
    Japanese): a proxy_cache in front of them must key on both, or not be there."""
    from django.test import Client

    conf = (ROOT / "deploy/nginx/tracker.conf").read_text()
    key = next(line for line in conf.splitlines() if "proxy_cache_key" in line)
    assert "$request_uri" in key
    varied = {h.strip().lower() for h in Client().get("/")["Vary"].split(",")}
    assert {"accept-language", "cookie"} <= varied
    pages = conf[conf.index("    location / {") :]
    pages = pages[: pages.index("}")]
    if "proxy_cache " in pages:
        assert "$http_accept_language" in pages and "$cookie_django_language" in pages
    api = Client().get(STATUS, HTTP_ACCEPT_LANGUAGE="ja")
    assert "accept-language" not in api["Vary"].lower()


def test_english_and_japanese_are_never_served_for_each_other(stack):
    """Asked in turns, by a Japanese browser and an English one, each address answers
    in its own language through the proxy, and the API answers the same to both."""
    conn = stack.proxy()
    page = "/agreements/us-japan-critical-minerals-2025/"
    for _ in range(2):  # a second round, when anything cached would be served
        for language in ("ja", "en-US,en;q=0.9", "ja-JP,ja;q=0.9"):
            for path, html_lang in (
                (page, "en"),
                (f"/ja{page}", "ja"),
                ("/", "en"),
                ("/ja/", "ja"),
            ):
                status, headers, body = get(conn, path, {"Accept-Language": language})
                assert status == 200, path
                assert f'<html lang="{html_lang}">' in body.decode(), (path, language)
                assert headers["content-language"] == html_lang
                suggested = "lang-suggest" in body.decode()
                assert suggested == (html_lang == "en" and language.startswith("ja")), path
            feed = get(conn, "/ja/feed.atom", {"Accept-Language": language})[2].decode()
            assert 'xml:lang="ja"' in feed
            assert (
                'xml:lang="en"'
                in get(conn, "/feed.atom", {"Accept-Language": language})[2].decode()
            )
    answers = {get(conn, STATUS, {"Accept-Language": lang})[2] for lang in ("ja", "en", "ja")}
    assert len(answers) == 1


@pytest.mark.parametrize("path", [STATUS, "/api/v1/milestones/?page_size=100"])
def test_each_variant_gets_the_answer_django_gives_it(stack, path):
    """The same answer with and without the cache, for each variant the key separates,
    asked in an order that would leak one variant into another if the key merged them
    (a repeated header included: Django sees only the first, as the key does)."""
    variants = [
        [("Accept-Encoding", "gzip")],
        [],
        [("Origin", DASHBOARD)],
        [("Origin", DASHBOARD), ("Accept-Encoding", "gzip")],
        [("Accept-Encoding", "identity"), ("Accept-Encoding", "gzip")],
        [("Accept-Encoding", "identity")],
        [("Accept", "application/json")],
    ]
    conn = stack.proxy()
    for _ in range(2):  # the second round from the cache
        for headers in variants:
            status, cached, body = raw_get(conn, path, headers)
            _, direct, direct_body = raw_get(conn, path, [*headers, ("Cookie", "x=1")])
            assert status == 200 and direct["x-cache-status"] == "BYPASS"
            for name in ("content-encoding", "access-control-allow-origin", "vary", "etag"):
                assert cached.get(name) == direct.get(name), (headers, name)
            assert decoded(cached, body) == decoded(direct, direct_body), headers
    assert cached["x-cache-status"] in ("HIT", "UPDATING", "STALE", "EXPIRED", "REVALIDATED")


def test_credentialed_requests_bypass_the_cache(stack):
    conn = stack.proxy()
    get(conn, STATUS)
    _, with_token, _ = get(conn, STATUS, {"Authorization": f"Token {stack.token}"})
    _, with_cookie, _ = get(conn, STATUS, {"Cookie": "sessionid=abc"})
    _, anonymous, _ = get(conn, STATUS)
    assert with_token["x-cache-status"] == "BYPASS"
    assert with_cookie["x-cache-status"] == "BYPASS"
    assert anonymous["x-cache-status"] in ("HIT", "UPDATING", "STALE", "EXPIRED", "REVALIDATED")


RATE_HEADERS = {
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-used",
    "x-ratelimit-reset",
    "x-ratelimit-resource",
}


def test_rate_limit_headers_come_only_with_answers_that_reached_django(stack):
    """A cached answer must not show the counters of the client that filled the entry."""
    conn = stack.proxy()
    fresh = "/api/v1/milestones/?page_size=37"  # no other test asks for it: a MISS
    status, missed, _ = get(conn, fresh)
    assert status == 200 and missed["x-cache-status"] == "MISS"
    assert missed.keys() >= RATE_HEADERS
    assert int(missed["x-ratelimit-remaining"]) < int(missed["x-ratelimit-limit"])
    served = [get(conn, fresh)[1] for _ in range(20)]
    from_cache = [h for h in served if h["x-cache-status"] in ("HIT", "UPDATING", "STALE")]
    assert from_cache, [h["x-cache-status"] for h in served]
    assert all(not RATE_HEADERS & h.keys() for h in from_cache)
    _, with_token, _ = get(conn, fresh, {"Authorization": f"Token {stack.token}"})
    assert with_token["x-cache-status"] == "BYPASS"
    assert with_token.keys() >= RATE_HEADERS
    assert with_token["x-ratelimit-limit"] != missed["x-ratelimit-limit"]  # the user's


def test_through_the_proxy_django_sees_https_and_sends_its_headers(stack):
    conn = stack.proxy()
    status, headers, _ = get(conn, "/admin/login/")
    assert status == 200  # no redirect: nginx said https, from a trusted address
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["strict-transport-security"].startswith("max-age=31536000")
    assert headers["x-frame-options"] == "DENY"
    assert "server" not in headers or "nginx/" not in headers["server"]  # server_tokens off


def test_plain_http_redirects_to_https_but_answers_the_liveness_probe(stack):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", stack.nginx.http_port, timeout=10)
    status, headers, _ = get(conn, "/api/v1/status/")
    assert status == 301 and headers["location"].startswith("https://")
    assert get(conn, "/healthz")[0] == 200


def test_static_files_come_from_nginx_with_headers_and_gzip(stack):
    conn = stack.proxy()
    status, headers, body = get(conn, "/static/admin/css/base.css", {"Accept-Encoding": "gzip"})
    assert status == 200 and body
    assert headers["content-encoding"] == "gzip"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["strict-transport-security"].startswith("max-age=")


def test_metrics_are_not_served_through_the_proxy(stack):
    assert get(stack.proxy(), "/metrics")[0] == 404


def test_a_body_over_the_limit_is_refused_by_the_proxy(stack):
    status, _, _ = get(
        stack.proxy(),
        f"/api/v1/milestones/{stack.milestone_ids[0]}/",
        {"Authorization": f"Token {stack.token}", "Content-Type": "application/json"},
        method="PATCH",
        body=b"x" * 40_000,
    )
    assert status == 413
