"""``manage.py import_items``: the contract a checker uses (issue 23)."""

from __future__ import annotations

import io
import json
import sys

import pytest
from django.core.management import CommandError, call_command

from commitments.models import LogEntry, Milestone
from tracker.intake import seeds
from tracker.intake.models import Finding, Item

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>t</title>
<item><title>Japan and US hold the Investment Ministerial</title>
<link>https://example.org/ministerial</link><pubDate>Tue, 03 Feb 2026 10:00:00 GMT</pubDate>
<description>&lt;p&gt;Ministers of Japan and the United States met for the Mining, Minerals
and Metals Investment Ministerial and set investment priorities.&lt;/p&gt;</description></item>
<item><title>US and China extend their tariff truce</title><link>https://example.org/truce</link>
<description>Washington and Beijing extended their truce on rare earth export controls.
</description></item>
<item><title>Alcoa gallium project at Wagerup gets Australian equity</title>
<link>https://example.org/gallium</link>
<description>Australia will take equity in the Alcoa–Sojitz gallium recovery project.
</description></item>
</channel></rss>"""


@pytest.fixture
def feed(tmp_path, agreements):
    seeds.load()
    path = tmp_path / "feed.xml"
    path.write_text(FEED)
    return path


def run(*args: str) -> list[dict]:
    out = io.StringIO()
    call_command("import_items", *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_one_json_object_per_item_in_input_order(feed):
    rows = run(str(feed), "--json")
    assert [r["address"] for r in rows] == [
        "https://example.org/ministerial",
        "https://example.org/truce",
        "https://example.org/gallium",
    ]
    first = rows[0]
    assert set(first) == {"address", "title", "published", "suggestions"}
    assert first["published"] == "2026-02-03T10:00:00+00:00"
    best = first["suggestions"][0]
    assert set(best) == {"agreement", "commitment", "score", "sentences"}
    assert (best["agreement"], best["commitment"]) == (
        "us-japan-critical-minerals-2025",
        "investment-ministerial",
    )
    scores = [s["score"] for s in first["suggestions"]]
    assert scores == sorted(scores, reverse=True)
    assert rows[1]["suggestions"] == []
    assert rows[2]["suggestions"][0]["commitment"] == "first-projects"


def test_a_second_run_creates_nothing_and_prints_the_same(feed):
    first = run(str(feed), "--json")
    findings = Finding.objects.count()
    assert findings == 3
    assert run(str(feed), "--json") == first
    assert Finding.objects.count() == findings


def test_standard_input(feed, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(FEED.encode())))
    assert len(run("-", "--json")) == 3


def test_it_changes_nothing_but_items_and_findings(feed):
    statuses = list(Milestone.objects.values_list("id", "status", "due_on", "version"))
    entries = LogEntry.objects.count()
    call_command("import_items", str(feed), stdout=io.StringIO())
    assert list(Milestone.objects.values_list("id", "status", "due_on", "version")) == statuses
    assert LogEntry.objects.count() == entries
    assert Item.objects.count() == 3


def test_without_json_it_says_how_many(feed):
    out = io.StringIO()
    call_command("import_items", str(feed), stdout=out)
    assert out.getvalue().strip() == "3 item(s) read, 3 new finding(s)."


def test_a_missing_file_is_a_message_naming_it(db, tmp_path):
    with pytest.raises(CommandError, match=r"cannot read '.*nowhere\.xml'"):
        call_command("import_items", str(tmp_path / "nowhere.xml"))


def test_a_document_with_entities_is_refused_by_name(db, tmp_path):
    path = tmp_path / "bomb.xml"
    path.write_text('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><rss>&a;</rss>')
    with pytest.raises(CommandError, match=r"bomb\.xml: the document declares XML entities"):
        call_command("import_items", str(path))
