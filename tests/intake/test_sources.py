"""Watched sources end to end against local servers (tests/intake/conftest.py): each
outcome recorded on its source, one source's fault never stopping the others, none
asked again before it may be. Time is frozen with time-machine."""

from __future__ import annotations

import datetime as dt
import gzip
import threading

import pytest
import time_machine
from werkzeug import Response

from tracker import fetch
from tracker.intake import seeds, watch
from tracker.intake.models import Finding, Item, WatchedSource

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Official news</title>
<item><title>Japan and the United States convene the Investment Ministerial</title>
<link>https://news.example.org/ministerial</link>
<pubDate>Tue, 24 Feb 2026 01:00:00 GMT</pubDate>
<description>&lt;p&gt;Ministers of Japan and the United States held the Mining, Minerals and
Metals Investment Ministerial and set investment priorities.&lt;/p&gt;</description></item>
<item><title>Weather for the weekend</title><link>https://news.example.org/weather</link>
<description>Sunny in Tokyo.</description></item>
</channel></rss>"""

PAGE = """<html><head><title>METI news releases</title></head><body><nav>Menu</nav>
<main><article><h1>News releases</h1>{paragraphs}</article></main><footer>Footer</footer>
</body></html>"""


@pytest.fixture
def record(agreements):
    seeds.load()


def source(site, path, kind="feed", **extra) -> WatchedSource:
    return WatchedSource.objects.create(
        name=path, url=site.url_for(path), kind=kind, enabled=True, next_fetch_at=T0, **extra
    )


def test_a_feed_becomes_findings_with_suggestions(site, record):
    site.expect_request("/feed.xml").respond_with_data(
        FEED, content_type="application/rss+xml", headers={"ETag": '"1"'}
    )
    feed = source(site, "/feed.xml")
    with time_machine.travel(T0, tick=False):
        assert watch.run_due() == {"ok": 1}
    feed.refresh_from_db()
    assert (feed.last_outcome, feed.last_status, feed.etag) == ("ok", 200, '"1"')
    assert feed.next_fetch_at == T0 + dt.timedelta(minutes=60)
    ministerial = Finding.objects.get(item__address="https://news.example.org/ministerial")
    assert ministerial.suggestions.first().commitment.key == "investment-ministerial"
    weather = Finding.objects.get(item__address="https://news.example.org/weather")
    assert weather.suggestions.count() == 0


def test_a_second_fetch_is_conditional_and_a_304_changes_nothing(site, record):
    site.expect_oneshot_request("/feed.xml").respond_with_data(FEED, headers={"ETag": '"1"'})
    site.expect_request("/feed.xml", headers={"If-None-Match": '"1"'}).respond_with_data(
        "", status=304
    )
    feed = source(site, "/feed.xml")
    with time_machine.travel(T0, tick=False) as clock:
        watch.run_due()
        clock.shift(dt.timedelta(minutes=61))
        assert watch.run_due() == {"not_modified": 1}
    feed.refresh_from_db()
    assert feed.last_outcome == "not_modified" and feed.consecutive_failures == 0
    assert Item.objects.count() == 2


def test_the_same_item_twice_is_one_finding(site, record):
    site.expect_request("/a.xml").respond_with_data(FEED)
    site.expect_request("/b.xml").respond_with_data(
        FEED.replace("news.example.org", "mirror.example.org")
    )
    source(site, "/a.xml")
    source(site, "/b.xml")
    with time_machine.travel(T0, tick=False):
        watch.run_due()
    # the mirror has other addresses but the same words: de-duplicated by content
    assert Item.objects.count() == 2


def test_a_page_gives_its_new_paragraphs_after_the_first_fetch(site, record):
    first = PAGE.format(paragraphs="<p>Old statement about the weather in Tokyo today.</p>")
    second = PAGE.format(
        paragraphs="<p>Japan and the United States established the Critical Minerals Supply"
        " Security Rapid Response Group, led by the Secretary of Energy and Japan's Minister"
        " of Economy, Trade and Industry.</p>"
        "<p>Old statement about the weather in Tokyo today.</p>"
    )
    site.expect_oneshot_request("/news").respond_with_data(first, content_type="text/html")
    site.expect_oneshot_request("/news").respond_with_data(second, content_type="text/html")
    page = source(site, "/news", kind="page")
    with time_machine.travel(T0, tick=False) as clock:
        watch.run_due()
        assert Item.objects.count() == 0  # the first fetch sets the baseline
        clock.shift(dt.timedelta(minutes=61))
        watch.run_due()
    item = Item.objects.get()
    assert item.address.startswith(page.url + "#:~:text=Japan%20and%20the%20United")
    assert "Rapid Response Group" in item.text and "weather" not in item.text
    assert item.finding.suggestions.first().commitment.key == "rapid-response-group"


def hostile_sources(sites):
    """Every kind of trouble, each on a host of its own, and a good feed."""
    bomb = gzip.compress(b"<rss>" + b" " * (8 * 1024 * 1024), compresslevel=9)
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        "<rss><channel><item><title>&lol3;</title></item></channel></rss>"
    )
    latin1 = FEED.replace("Weather", "Météo").encode("latin-1")  # declared utf-8
    faults = {
        "/big": Response((b"x" * 65536 for _ in range(800)), content_type="application/rss+xml"),
        "/bomb": Response(bomb, headers={"Content-Encoding": "gzip"}),
        "/laughs": Response(laughs),
        "/garbage": Response(b"\x00\x01 not a feed at all <<<"),
        "/latin1": Response(latin1, content_type="text/xml; charset=utf-8"),
        "/meta": Response(
            "", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
        ),
        "/loop": Response("", status=302, headers={"Location": "http://127.0.0.1:9/feed"}),
        "/ok": Response(
            FEED.replace("news.example.org", "good.example.org"),
            content_type="application/rss+xml",
        ),
    }
    made = []
    for path, response in faults.items():
        server = sites()
        server.expect_request(path).respond_with_response(response)
        made.append(source(server, path))
    hanging = sites()
    hanging.expect_request("/hang").respond_with_handler(
        lambda request: (RELEASE.wait(10), Response(FEED))[1]
    )
    made.append(source(hanging, "/hang"))
    return made


RELEASE = threading.Event()


def test_every_fault_is_recorded_on_its_source_and_none_stops_the_others(sites, record):
    sources = hostile_sources(sites)
    RELEASE.clear()
    try:
        with time_machine.travel(T0, tick=False):
            outcomes = watch.run_due()
    finally:
        RELEASE.set()
    assert sum(outcomes.values()) == len(sources)
    seen = {s.name: (s.last_outcome, s.last_error) for s in WatchedSource.objects.all()}
    assert seen["/big"][0] == "too_large"
    assert seen["/bomb"][0] == "too_large"
    assert seen["/laughs"] == (
        "parse_error",
        "the document declares XML entities (refused: entity expansion)",
    )
    assert seen["/garbage"][0] == "parse_error"
    assert seen["/hang"][0] == "timeout"
    assert seen["/meta"][0] == "refused" and "169.254.169.254" in seen["/meta"][1]
    assert seen["/loop"][0] == "refused" and "127.0.0.1" in seen["/loop"][1]
    # a wrong charset is a warning, and the entries are read all the same
    assert seen["/latin1"][0] == "ok"
    assert Item.objects.filter(address="https://news.example.org/ministerial").exists()
    assert seen["/ok"] == ("ok", "")
    # its ministerial item has the latin-1 feed's words: one item, by content
    assert not Item.objects.filter(address="https://good.example.org/ministerial").exists()
    assert Item.objects.filter(address="https://good.example.org/weather").exists()


def test_after_a_failure_the_same_host_waits_and_its_other_sources_are_deferred(site, record):
    site.expect_request("/down").respond_with_data("", status=500)
    site.expect_request("/feed.xml").respond_with_data(FEED)
    source(site, "/down")
    feed = source(site, "/feed.xml")
    with time_machine.travel(T0, tick=False):
        assert watch.run_due() == {"http_error": 1, "backoff": 1}
    feed.refresh_from_db()
    assert feed.consecutive_failures == 0  # deferred, not failed
    assert feed.next_fetch_at == T0 + dt.timedelta(seconds=60)  # the host's wait
    assert [r.path for r, _ in site.log if r.path != "/robots.txt"] == ["/down"]


def test_a_failing_source_waits_longer_each_time(site, record):
    site.expect_request("/down").respond_with_data("", status=500)
    down = source(site, "/down", interval_minutes=10)
    with time_machine.travel(T0, tick=False) as clock:
        watch.run_due()
        down.refresh_from_db()
        assert (down.last_outcome, down.consecutive_failures) == ("http_error", 1)
        assert down.next_fetch_at == T0 + dt.timedelta(minutes=20)
        clock.shift(dt.timedelta(minutes=19))
        assert watch.run_due() == {}  # not due yet
        clock.shift(dt.timedelta(minutes=2))
        watch.run_due()
        down.refresh_from_db()
    assert down.consecutive_failures == 2
    assert down.next_fetch_at == T0 + dt.timedelta(minutes=21 + 40)
    assert len([r for r, _ in site.log if r.path == "/down"]) == 2


def test_a_429_source_is_not_asked_before_its_retry_after(site, record):
    site.expect_request("/slow").respond_with_data("", status=429, headers={"Retry-After": "7200"})
    slow = source(site, "/slow", interval_minutes=5)
    with time_machine.travel(T0, tick=False) as clock:
        watch.run_due()
        slow.refresh_from_db()
        assert slow.next_fetch_at == T0 + dt.timedelta(hours=2)
        for _ in range(23):  # beat's five-minute ticks for the next two hours
            clock.shift(dt.timedelta(minutes=5))
            watch.run_due()
    assert len([r for r, _ in site.log if r.path == "/slow"]) == 1


def test_a_disabled_source_is_never_fetched(site, record):
    site.expect_request("/feed.xml").respond_with_data(FEED)
    feed = source(site, "/feed.xml")
    feed.enabled = False
    feed.save()
    with time_machine.travel(T0, tick=False):
        assert watch.run_due() == {}
    assert not site.log


def test_the_shipped_sources_arrive_disabled(record):
    assert WatchedSource.objects.count() >= 5
    assert not WatchedSource.objects.filter(enabled=True).exists()


def test_the_task_is_on_beat_and_found_by_the_worker(settings, db):
    from config.celery import app
    from tracker.intake.tasks import fetch_due_sources

    app.loader.import_default_modules()
    name = "tracker.intake.tasks.fetch_due_sources"
    assert name in app.tasks
    entry = settings.CELERY_BEAT_SCHEDULE["intake-fetch-due-sources"]
    assert entry["task"] == name
    assert fetch_due_sources() == {}  # nothing enabled, nothing fetched


def test_a_nul_character_in_one_entry_stops_neither_it_nor_the_others(site, record):
    # PostgreSQL keeps no NUL in text; a feed may carry one all the same (&#0;).
    entries = "".join(
        f"<item><title>{title}</title><link>https://news.example.org/{n}</link>"
        f"<description>{text}</description></item>"
        for n, title, text in [
            (1, "Ministerial convened", "Ministers met."),
            (2, "A&#0;B", "Nothing &#0;here"),
            (3, "Rapid Response Group", "It met."),
            ("4&#0;", "Not an address", "Skipped, as an entry with no link is."),
        ]
    )
    site.expect_request("/feed.xml").respond_with_data(
        f'<?xml version="1.0"?><rss><channel>{entries}</channel></rss>'
    )
    source(site, "/feed.xml")
    with time_machine.travel(T0, tick=False):
        watch.run_due()
    assert Item.objects.count() == 3
    assert Item.objects.get(address="https://news.example.org/2").title == "AB"


def test_a_validator_that_is_not_ascii_stops_neither_its_source_nor_the_next(sites, record):
    # An ETag may carry bytes above 0x7F (obs-text), a broken Last-Modified anything.
    odd = sites()
    odd.expect_request("/odd.xml").respond_with_response(
        Response(FEED, headers={"ETag": 'W/"\u00e9"', "Last-Modified": "lundi \u00e9t\u00e9"})
    )
    good = sites()
    good.expect_request("/good.xml").respond_with_data(FEED)
    source(odd, "/odd.xml")
    source(good, "/good.xml", interval_minutes=120)
    with time_machine.travel(T0, tick=False) as clock:
        watch.run_due()
        clock.shift(dt.timedelta(minutes=121))
        assert watch.run_due() == {"ok": 2}  # asked again in full


def test_a_bug_with_one_source_is_recorded_on_it_and_the_next_fetched(sites, record, monkeypatch):
    # Two such bugs were found (a validator beyond ASCII, a port out of range): whatever
    # the next one is, it is named on its source and the sources after it are fetched.
    broken, good = sites(), sites()
    good.expect_request("/good.xml").respond_with_data(FEED)
    first = source(broken, "/broken.xml")
    source(good, "/good.xml")
    real = fetch.fetch

    def fetch_with_a_bug(url, **kwargs):
        if url == first.url:
            raise ValueError("a bug in the fetch")
        return real(url, **kwargs)

    monkeypatch.setattr(fetch, "fetch", fetch_with_a_bug)
    with time_machine.travel(T0, tick=False):
        assert watch.run_due() == {"error": 1, "ok": 1}
    first.refresh_from_db()
    assert (first.last_outcome, first.last_error) == ("error", "ValueError: a bug in the fetch")
    assert first.next_fetch_at == T0 + first.interval  # asked again at its interval


def test_a_port_out_of_range_is_refused_and_the_next_source_fetched(site, record):
    # Django's URLValidator lets a staff save https://example.org:99999/feed.
    WatchedSource.objects.create(
        name="odd", url="http://example.org:99999/feed", enabled=True, next_fetch_at=T0
    )
    site.expect_request("/feed.xml").respond_with_data(FEED)
    source(site, "/feed.xml")
    with time_machine.travel(T0, tick=False):
        assert watch.run_due() == {"refused": 1, "ok": 1}
    odd = WatchedSource.objects.get(name="odd")
    assert "Port out of range" in odd.last_error


def test_a_page_in_shift_jis_gives_its_own_words(site, record):
    # Japanese ministries still publish Shift_JIS pages; read as UTF-8 they were all
    # replacement characters.
    meta = '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
    page = PAGE.replace("<head>", f"<head>{meta}")
    old = "<p>東京の天気についての古いお知らせです。</p>"
    new = "<p>日米両政府は投資閣僚会合を東京で開催し、投資の優先分野について合意しました。</p>"
    for paragraphs in (old, new + old):
        body = page.format(paragraphs=paragraphs).encode("shift_jis")
        site.expect_oneshot_request("/news").respond_with_data(body, content_type="text/html")
    source(site, "/news", kind="page")
    with time_machine.travel(T0, tick=False) as clock:
        watch.run_due()
        clock.shift(dt.timedelta(minutes=61))
        watch.run_due()
    assert (
        Item.objects.get().text
        == "日米両政府は投資閣僚会合を東京で開催し、投資の優先分野について合意しました。"
    )
