"""The weekly link check: an address that later 404s, a page that later drops the
quoted passage, a page unchanged (asked with a conditional GET); each flagged for
staff (needs attention, /metrics) and readers (the public page), nothing removed."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from commitments.models import LogEntry, Source
from tracker.archive import links, services
from tracker.archive.models import LinkCheck

T0 = dt.datetime(2026, 2, 5, 9, 30, tzinfo=dt.UTC)
LATER = T0 + dt.timedelta(days=7)
WORDS = "The Participants intend to convene a Ministerial within 180 days"
# The quoted words across a line break and a tag, as pages write them.
PAGE = (
    "<html><body><h1>Statement</h1><p>The Participants intend to convene a Ministerial\n"
    "  <em>within</em> 180 days.</p></body></html>"
)
EDITED = (
    "<html><body><h1>Statement</h1><p>The Ministerial will be announced later.</p></body></html>"
)


@pytest.fixture
def cited(sites, ministerial):
    """Three cited pages on three hosts, each archived on T0: one stays, one will be
    gone, one will lose the quoted words (a log entry quotes it)."""
    stays, gone, edited = sites(), sites(), sites()
    for server in (stays, gone, edited):
        server.expect_oneshot_request("/page").respond_with_data(PAGE, content_type="text/html")
    addresses = {
        name: s.url_for("/page")
        for name, s in [("stays", stays), ("gone", gone), ("edited", edited)]
    }
    for name in ("stays", "gone"):
        Source.objects.create(
            milestone=ministerial, reference=addresses[name], passage=WORDS, fact=name
        )
    LogEntry.objects.create(
        key="edited-later",
        milestone=ministerial,
        on=dt.date(2026, 2, 4),
        kind=LogEntry.Kind.CONTEXT,
        text="A statement.",
        source_address=addresses["edited"],
        source_passage=WORDS,
    )
    with time_machine.travel(T0, tick=False):
        for address in addresses.values():
            assert services.archive_address(address).archived
    stays.expect_request("/page", headers={"If-None-Match": '"v1"'}).respond_with_data(
        "", status=304
    )
    stays.expect_request("/page").respond_with_data(
        PAGE, content_type="text/html", headers={"ETag": '"v1"'}
    )
    gone.expect_request("/page").respond_with_data("Not here", status=404)
    edited.expect_request("/page").respond_with_data(EDITED, content_type="text/html")
    return addresses


def test_the_check_finds_what_answers_and_what_still_says_the_words(cited):
    with time_machine.travel(LATER, tick=False):
        run = links.check_all(LATER, addresses=list(cited.values()))
    got = {c.address: (c.outcome, c.answers, c.passages, c.passages_gone) for c in run.checks}
    assert got == {
        cited["stays"]: ("ok", True, 1, 0),  # the words, across tags and line breaks
        cited["gone"]: ("http_error", False, 0, 0),
        cited["edited"]: ("ok", True, 1, 1),
    }


def test_an_unchanged_page_is_asked_with_a_conditional_get(cited):
    with time_machine.travel(LATER, tick=False) as clock:
        links.check_all(LATER, addresses=[cited["stays"]])
        clock.shift(dt.timedelta(days=7))
        run = links.check_all(LATER + dt.timedelta(days=7), addresses=[cited["stays"]])
    [check] = run.checks
    assert (check.outcome, check.answers, check.passages_gone) == ("not_modified", True, 0)


def test_readers_see_the_original_is_gone_and_the_copy_is_kept(cited, client, ministerial):
    with time_machine.travel(LATER, tick=False):
        links.check_all(LATER, addresses=list(cited.values()))
    page = client.get(f"/milestones/{ministerial.pk}/").content.decode()
    assert page.count('the original page no longer answers; <a href="/archive/') == 1
    assert page.count('the original page no longer shows these words; <a href="/archive/') == 1
    assert "archived copy</a> from 2026-02-05" in page
    assert page.count("archived copy</a>, fetched 2026-02-05") == 1  # the one that stays
    assert Source.objects.filter(reference=cited["gone"]).exists()  # nothing removed


def test_staff_see_it_in_needs_attention_and_operators_in_metrics(
    cited, client, admin_user, settings
):
    with time_machine.travel(LATER, tick=False):
        links.check_all(LATER, addresses=list(cited.values()))
    client.force_login(admin_user)
    page = client.get(reverse("admin:index")).content.decode()
    section = page[page.index('id="needs-attention"') :].split("</table>")[0]
    assert "Cited pages that no longer answer" in section and cited["gone"] in section
    assert "Cited pages that no longer show the quoted words" in section
    assert cited["edited"] in section
    settings.METRICS_TOKEN = ""
    metrics = {
        s.name: s.value
        for f in text_string_to_metric_families(client.get("/metrics").content.decode())
        for s in f.samples
        if s.name.startswith("tracker_archive") and s.labels.get("state", "archived") == "archived"
    }
    assert metrics == {
        "tracker_archive_captures": 3,
        "tracker_archive_dead_links": 1,
        "tracker_archive_passages_gone": 1,
    }


def test_check_links_prints_one_line_per_address_and_names_the_dead(cited, capsys):
    with pytest.raises(CommandError, match=cited["gone"]):
        call_command("check_links", *cited.values(), "--json")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["address"] for line in lines] == list(cited.values())
    assert [line["answers"] for line in lines] == [True, False, True]
    assert LinkCheck.objects.count() == 3


def test_check_links_refuses_what_is_not_an_address(db):
    with pytest.raises(CommandError, match="'javascript:alert' is not an http"):
        call_command("check_links", "javascript:alert")


def test_the_hourly_run_checks_each_address_once_a_week_oldest_first(cited, settings, monkeypatch):
    settings.TRACKER_LINK_CHECK_INTERVAL = 7 * 24 * 3600
    # The shipped record's own addresses are cited too: this test asks only its own.
    real, ours = services.cited_addresses, set(cited.values())
    monkeypatch.setattr(services, "cited_addresses", lambda: [a for a in real() if a in ours])
    with time_machine.travel(LATER, tick=False):
        links.check_all(LATER, addresses=[cited["gone"]])
    an_hour_on = LATER + dt.timedelta(hours=1)
    with time_machine.travel(an_hour_on, tick=False):
        run = links.check_due(an_hour_on)  # the two never checked; "gone" is not due
        assert sorted(c.address for c in run.checks) == sorted([cited["stays"], cited["edited"]])
        assert links.check_due(an_hour_on).checks == []  # all checked this week
    a_week_on = LATER + dt.timedelta(days=7)
    with time_machine.travel(a_week_on, tick=False):
        run = links.check_due(a_week_on, budget_seconds=0)  # one, then out of time
    assert [c.address for c in run.checks] == [cited["gone"]]  # the oldest check first


def test_a_text_page_in_a_charset_python_does_not_know_is_checked_all_the_same(site, ministerial):
    address = site.url_for("/notes.txt")
    site.expect_request("/notes.txt").respond_with_data(
        f"{WORDS}.", content_type="text/plain; charset=x-unheard-of"
    )
    Source.objects.create(milestone=ministerial, reference=address, passage=WORDS, fact="f")
    run = links.check_all(LATER, addresses=[address])
    [check] = run.checks
    assert (check.outcome, check.answers, check.passages, check.passages_gone) == ("ok", True, 1, 0)
