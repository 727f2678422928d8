"""Archiving a cited page against local servers: the copy kept as WARC and served
back byte for byte, and every way a page can fail ending in a recorded outcome,
none stopping the others."""

from __future__ import annotations

import datetime as dt
import gzip
import threading

import pytest
import time_machine
from django.core.files.storage import storages
from warcio.archiveiterator import ArchiveIterator
from werkzeug import Response

from tracker.archive import services
from tracker.archive.models import Capture

T0 = dt.datetime(2026, 2, 5, 9, 30, tzinfo=dt.UTC)
PAGE = (
    b"<!DOCTYPE html><html><head><title>Joint statement</title></head><body>\n"
    b"<p>The Participants intend to convene a Ministerial "
    b"\xe2\x80\x9cwithin 180 days\xe2\x80\x9d.</p>"
    b"\n</body></html>\n"
)

pytestmark = pytest.mark.django_db


def test_a_page_is_archived_as_warc_and_read_back_byte_for_byte(site, archive_dir):
    site.expect_request("/statement").respond_with_data(
        PAGE, content_type="text/html; charset=utf-8", headers={"ETag": '"s1"'}
    )
    with time_machine.travel(T0, tick=False):
        capture = services.archive_address(site.url_for("/statement"))
    assert capture.state == "archived" and capture.status == 200
    assert capture.fetched_at == T0 and capture.size == len(PAGE)
    assert capture.content_type == "text/html"
    import hashlib

    assert capture.sha256 == hashlib.sha256(PAGE).hexdigest()
    assert (archive_dir / capture.warc).stat().st_size == capture.warc_size > 0
    with storages["archive"].open(capture.warc, "rb") as handle:
        records = [
            (r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read())
            for r in ArchiveIterator(handle)
        ]
    assert [r[0] for r in records] == ["request", "response", "metadata"]
    assert records[1] == ("response", site.url_for("/statement"), PAGE)
    assert b'"sha256": "' + capture.sha256.encode() in records[2][2]


def test_an_archived_copy_is_never_replaced(site):
    site.expect_oneshot_request("/p").respond_with_data("first", content_type="text/plain")
    first = services.archive_address(site.url_for("/p"))
    again = services.archive_address(site.url_for("/p"))
    assert again.warc == first.warc and len(site.log) == 2  # robots.txt and the page, once


def test_a_gzipped_page_is_kept_decoded(site):
    site.expect_request("/z").respond_with_data(
        gzip.compress(PAGE), content_type="text/html", headers={"Content-Encoding": "gzip"}
    )
    capture = services.archive_address(site.url_for("/z"))
    from tracker.archive import warc

    copy = warc.read(capture.warc)
    assert copy.body == PAGE and copy.content_type == "text/html"


def test_every_bad_page_ends_in_a_recorded_outcome_and_none_stops_the_others(sites, settings):
    settings.TRACKER_FETCH_TOTAL_SECONDS = 3
    good, missing, redirect, big, bomb, slow = (sites() for _ in range(6))
    good.expect_request("/ok").respond_with_data(PAGE, content_type="text/html")
    missing.expect_request("/gone").respond_with_data("no", status=404)
    redirect.expect_request("/r").respond_with_data(
        "", status=302, headers={"Location": f"http://127.0.0.1:{redirect.port}/private"}
    )

    def fifty_megabytes():
        for _ in range(50 * 16):
            yield b"x" * 65536

    big.expect_request("/big").respond_with_response(Response(fifty_megabytes()))
    bomb.expect_request("/bomb").respond_with_data(
        gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9),
        headers={"Content-Encoding": "gzip"},
    )
    release = threading.Event()
    slow.expect_request("/slow").respond_with_handler(
        lambda request: (release.wait(10), Response("late"))[1]
    )
    pages = {
        "ok": good.url_for("/ok"),
        "404": missing.url_for("/gone"),
        "redirect": redirect.url_for("/r"),
        "50 MB": big.url_for("/big"),
        "gzip bomb": bomb.url_for("/bomb"),
        "slow": slow.url_for("/slow"),
    }
    for address in pages.values():
        Capture.objects.create(address=address, next_try=T0)
    try:
        states = services.archive_due(T0 + dt.timedelta(seconds=1))
    finally:
        release.set()
    assert states == {"archived": 1, "failed": 5}
    got = {name: Capture.objects.get(address=a) for name, a in pages.items()}
    outcomes = {name: (c.state, c.outcome) for name, c in got.items()}
    assert outcomes == {
        "ok": ("archived", "ok"),
        "404": ("failed", "http_error"),
        "redirect": ("failed", "refused"),
        "50 MB": ("failed", "too_large"),
        "gzip bomb": ("failed", "too_large"),
        "slow": ("failed", "timeout"),
    }
    assert "127.0.0.1" in got["redirect"].error and got["404"].status == 404
    for name, c in got.items():
        if name != "ok":  # each failure waits to be tried again, with its error
            assert c.attempts == 1 and c.error and c.next_try > T0 and not c.warc


def test_a_failed_page_is_tried_again_with_backoff_until_it_is_archived(site, settings):
    settings.TRACKER_ARCHIVE_RETRY_SECONDS = 300
    site.expect_oneshot_request("/later").respond_with_data("busy", status=500)
    site.expect_oneshot_request("/later").respond_with_data("busy", status=500)
    site.expect_oneshot_request("/later").respond_with_data(PAGE, content_type="text/html")
    Capture.objects.create(address=site.url_for("/later"), next_try=T0)
    with time_machine.travel(T0, tick=False) as clock:
        assert services.archive_due(T0) == {"failed": 1}
        first = Capture.objects.get()
        assert first.next_try == T0 + dt.timedelta(seconds=300)
        assert services.archive_due(T0 + dt.timedelta(seconds=299)) == {}  # not yet
        clock.move_to(T0 + dt.timedelta(seconds=300))
        assert services.archive_due(T0 + dt.timedelta(seconds=300)) == {"failed": 1}
        assert Capture.objects.get().next_try == T0 + dt.timedelta(seconds=900)  # doubled
        clock.move_to(T0 + dt.timedelta(seconds=900))
        assert services.archive_due(T0 + dt.timedelta(seconds=900)) == {"archived": 1}
    done = Capture.objects.get()
    assert (done.attempts, done.error, done.next_try) == (3, "", None)


def test_after_the_last_attempt_a_page_waits_for_staff(site, settings):
    settings.TRACKER_ARCHIVE_MAX_ATTEMPTS = 1
    site.expect_request("/never").respond_with_data("no", status=410)
    capture = services.archive_address(site.url_for("/never"))
    assert (capture.state, capture.attempts, capture.next_try) == ("failed", 1, None)


def test_a_copy_kept_meanwhile_by_another_worker_stays_the_copy(site, monkeypatch, archive_dir):
    from tracker import fetch

    site.expect_request("/race").respond_with_data("second", content_type="text/plain")
    address = site.url_for("/race")
    real = fetch.fetch

    def fetch_while_another_keeps_it(url, **kwargs):
        result = real(url, **kwargs)
        Capture.objects.filter(address=url).update(
            state="archived", warc="first.warc.gz", fetched_at=T0
        )
        return result

    monkeypatch.setattr(fetch, "fetch", fetch_while_another_keeps_it)
    capture = services.archive_address(address)
    assert (capture.state, capture.warc) == ("archived", "first.warc.gz")
    assert [p for p in archive_dir.rglob("*.warc.gz")] == []  # ours, written, then removed
