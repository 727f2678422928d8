"""Sources as a reader reads them: a seed is the article it copies (headline or opening
words, site, date) linked to where it was published; the tracker's own search links to
the page that says what was searched; no page shows a seed file name or a docs/ path
as a source. The catalogue (fixtures/sources.json) is held against the seeds' text."""

from __future__ import annotations

import json
import re

import pytest

from commitments.models import LogEntry, Source
from commitments.references import SEED_NAME
from tests.commitments.test_fixtures import REPO, normalise, seed_text, sources
from tracker.public.citations import CATALOGUE, cite, web_address

pytestmark = pytest.mark.usefixtures("frozen")
CATALOGUED = json.loads(CATALOGUE.read_text(encoding="utf-8"))
RAW = re.compile(r"\d{3}_[0-9a-f]{16}\.txt|docs/sources\.md")


def test_every_seed_and_search_the_record_names_is_catalogued():
    named = {s["reference"] for _, s in sources() if not web_address(s["reference"])}
    assert named, "the fixture names no seed"
    assert named <= set(CATALOGUED["seeds"]) | set(CATALOGUED["searches"])
    assert all(SEED_NAME.match(n) for n in CATALOGUED["seeds"])


@pytest.mark.parametrize("name", sorted(CATALOGUED["seeds"]))
def test_a_seeds_headline_dateline_and_opening_are_its_own_words(name):
    entry, text = CATALOGUED["seeds"][name], seed_text(name)
    for field in ("title", "dateline", "opening"):
        if entry[field]:
            assert normalise(entry[field]) in text, f"{name}: {field} not in the seed"
    assert web_address(entry["address"]), name


def test_the_searches_page_says_what_docs_sources_md_says():
    notes = normalise((REPO / "docs" / "sources.md").read_text(encoding="utf-8"))
    for search in CATALOGUED["searches"].values():
        assert f"### Checked {search['on']}" in (REPO / "docs" / "sources.md").read_text()
        for query in search["queries"]:
            assert f'"{normalise(query)}"' in notes, query


def test_a_seed_reads_as_the_article_it_copies():
    headline = cite("000_49fbe5e2163977c7.txt")
    assert headline.label == "US and Japan Seal Rare Earths Pact to Cut China Dependence"
    assert headline.url.startswith("https://www.gktoday.in/") and headline.site == "gktoday.in"
    dated = cite("001_5784b343f4c800ef.txt")
    assert dated.opening and dated.dated is not None and dated.dated.isoformat() == "2025-10-28"
    assert cite("999_0000000000000000.txt").url == ""  # not catalogued: named, not guessed
    assert cite("javascript:alert(1)").url == ""
    assert cite("https://example.org/a").url == "https://example.org/a"


def test_no_page_shows_a_seed_file_name_or_a_docs_path_as_a_source(client, ministerial):
    a, c = ministerial.commitment.agreement, ministerial.commitment
    assert Source.objects.filter(reference__startswith="00").exists()
    assert LogEntry.objects.filter(source_address__startswith="docs/").exists()
    pages = [f"/agreements/{a.slug}/", f"/agreements/{a.slug}/commitments/{c.key}/"]
    pages.append(f"/milestones/{ministerial.pk}/")
    bodies = {url: client.get(url).content.decode() for url in pages}
    for url, body in bodies.items():
        assert not RAW.findall(body.split("<main")[1]), url
    agreement = bodies[pages[0]]
    assert (
        '<cite><a href="https://www.gktoday.in/us-and-japan-seal-rare-earths-pact-to-cut-china'
        '-dependence">“US and Japan Seal Rare Earths Pact to Cut China Dependence”</a></cite>'
        ", gktoday.in" in agreement
    )
    milestone = bodies[pages[2]]
    assert '<a href="/sources/#checked-2026-11-21">' in milestone
    listed = client.get("/sources/").content.decode()
    assert 'id="checked-2026-11-21"' in listed and "000_49fbe5e2163977c7.txt" in listed
