"""The shipped record, read as a fact-checker would: every quotation is its source's
own words, every source can be found, every dated rule gives the date its
arithmetic gives, and nothing the log says is taken as done."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from commitments import deadlines
from commitments.loader import DEFAULT_PATH
from commitments.models import Agreement, LogEntry, Milestone, Status
from commitments.references import SEED_NAME
from tests.conftest import require_service

REPO = Path(__file__).resolve().parents[2]
SEEDS = Path(os.environ.get("SEEDS_DIR", REPO.parent / "shared" / "seeds"))
DATA = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "\u00a0": " "})


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.translate(QUOTES)).strip()


def sources(data: dict = DATA) -> list[tuple[str, dict]]:
    """Every source of the fixture, log entries' included, with where it sits."""
    found = []

    def visit(row: dict, where: str) -> None:
        found.extend((where, s) for s in row.get("sources", []))
        found.extend((f"log {e['key']}", e["source"]) for e in row.get("log", []))

    for a in data["agreements"]:
        visit(a, a["slug"])
        for c in a["commitments"]:
            visit(c, f"{a['slug']}/{c['key']}")
            for m in c["milestones"]:
                visit(m, f"{a['slug']}/{c['key']}/{m['key']}")
    return found


def seed_text(name: str) -> str:
    require_service(SEEDS.is_dir(), f"the seed files are not at {SEEDS} (set SEEDS_DIR)")
    path = SEEDS / name
    assert path.exists(), f"a source names a seed that is not there: {name}"
    return normalise(path.read_text(encoding="utf-8"))


def test_every_passage_attributed_to_a_seed_occurs_in_that_seed():
    checked = 0
    for where, src in sources():
        if SEED_NAME.match(src["reference"]) and src.get("passage"):
            text = seed_text(src["reference"])
            assert normalise(src["passage"]) in text, f"{where}: not in {src['reference']}"
            checked += 1
    assert checked >= 20


def test_the_invented_quotations_are_gone():
    facts = " ".join(s.get("fact", "") + s.get("passage", "") for _, s in sources())
    for invented in (
        "The framework outlines stockpiling cooperation among its initiatives.",
        "The framework includes cooperation on recycling technologies.",
        "The framework includes cooperation on geological mapping.",
        "No date is stated for the group.",
    ):
        assert invented not in facts


def test_every_source_has_a_page_address_or_a_seed_name_never_a_bare_domain():
    for where, src in sources():
        ref = src["reference"]
        if SEED_NAME.match(ref) or ref.startswith("docs/sources.md#"):
            continue
        parts = urlsplit(ref)
        assert parts.scheme == "https" and parts.netloc, f"{where}: {ref!r} is not an address"
        assert parts.path.strip("/") or parts.query, f"{where}: {ref!r} is a bare domain"


def test_every_quotation_has_its_words_and_every_summary_says_so():
    for where, src in sources():
        assert src.get("kind") in ("quote", "summary"), where
        if src["kind"] == "quote":
            assert src.get("passage", "").strip(), f"{where}: a quotation without its words"


def test_every_page_quoted_is_listed_in_docs_sources_with_the_day_it_was_read():
    listed = (REPO / "docs" / "sources.md").read_text(encoding="utf-8")
    for where, src in sources():
        ref = src["reference"]
        if ref.startswith("https://"):
            assert ref in listed, f"{where}: {ref} is not in docs/sources.md"


def test_the_corrected_titles_and_zones():
    by_slug = {a["slug"]: a for a in DATA["agreements"]}
    for slug, country in (
        ("us-malaysia-critical-minerals-2025", "Malaysia"),
        ("us-thailand-critical-minerals-2025", "the Kingdom of Thailand"),
    ):
        a = by_slug[slug]
        assert a["title"] == (
            "Memorandum of Understanding Between the Government of the United States of "
            f"America and the Government of {country} Concerning Cooperation to Diversify "
            "Global Critical Minerals Supply Chains and Promote Investments"
        )
        assert (a["signed_on"], a["time_zone"]) == ("2025-10-26", "Asia/Kuala_Lumpur")


def test_the_over_statements_are_corrected():
    japan = {c["key"]: c for c in DATA["agreements"][0]["commitments"]}
    assert "harmonise" not in json.dumps(japan["streamlined-permitting"]).lower()
    assert "Quad" not in japan["like-minded-partners"]["summary"]
    assert "replicate" not in japan["like-minded-partners"]["title"].lower()
    block = [s for s in japan["asset-sale-review"]["sources"] if "block" in s.get("passage", "")]
    assert [s["reference"] for s in block] == [
        "https://qazinform.com/news/us-and-japan-forge-new-framework-to-secure-supply-of-critical-minerals-b39287"
    ]
    australia = DATA["agreements"][1]["commitments"][0]
    assert "8.5" not in australia["title"] and "US$1 billion" in australia["title"]


@pytest.mark.parametrize(
    ("slug", "key", "due"),
    [
        ("us-japan-critical-minerals-2025", "ministerial-convened", dt.date(2026, 4, 26)),
        ("us-japan-critical-minerals-2025", "projects-selected-and-funded", dt.date(2026, 4, 28)),
        ("us-australia-critical-minerals-2025", "projects-funded", dt.date(2026, 4, 20)),
        ("us-australia-critical-minerals-2025", "follow-up-meeting", dt.date(2026, 4, 18)),
        (
            "us-australia-critical-minerals-2025",
            "investment-ministerial-convened",
            dt.date(2026, 4, 18),
        ),
        # The recurring obligation's first occurrence (the series has no date itself).
        (
            "us-malaysia-critical-minerals-2025",
            "working-level-meeting-2026-01-26",
            dt.date(2026, 1, 26),
        ),
    ],
)
def test_every_dated_rule_gives_the_date_its_arithmetic_gives(agreements, slug, key, due):
    milestone = Milestone.objects.get(commitment__agreement__slug=slug, key=key)
    assert milestone.due_on == due


def test_malaysia_meets_every_quarter_from_signature():
    rrule = "FREQ=MONTHLY;INTERVAL=3"
    start, after, found = dt.date(2025, 10, 26), None, []
    for _ in range(5):
        after = deadlines.next_occurrence(rrule, start=start, after=after)
        found.append(after)
    assert found == [
        dt.date(2026, 1, 26),
        dt.date(2026, 4, 26),
        dt.date(2026, 7, 26),
        dt.date(2026, 10, 26),
        dt.date(2027, 1, 26),
    ]


def test_australias_dated_money_is_one_part_per_government(agreements):
    milestone = Milestone.objects.get(key="projects-funded")
    parts = {p.party.code: p.amount for p in milestone.parts.select_related("party")}
    assert parts == {"AU": "at least USD $1 billion", "US": "at least USD $1 billion"}


def test_the_log_is_context_and_completes_nothing(agreements):
    ministerial = Milestone.objects.get(key="ministerial-convened")
    entry = ministerial.log.get(key="multilateral-critical-minerals-ministerial-2026-02-04")
    assert entry.kind == LogEntry.Kind.CONTEXT and "not the bilateral" in entry.text
    assert "54 countries and the European Commission" in entry.text
    assert "54 countries and the European Commission" in entry.source_passage
    assert set(Milestone.objects.values_list("status", flat=True)) == {Status.NOT_STARTED}
    japan = Agreement.objects.get(slug="us-japan-critical-minerals-2025")
    ms = Milestone.objects.filter(commitment__agreement=japan)
    checked = LogEntry.objects.filter(kind=LogEntry.Kind.CHECKED, on=dt.date(2026, 11, 21))
    # The two checks that later events contradict were withdrawn; the others stand.
    contradicted = {"partners-joined", "marketplace-measures"}
    assert set(checked.values_list("milestone", flat=True)) == set(
        ms.exclude(key__in=contradicted).values_list("pk", flat=True)
    )
    keys = set(LogEntry.objects.values_list("key", flat=True))
    assert {
        "project-vault-2026-02-02",
        "malaysia-raw-rare-earth-export-ban-2025-10-29",
        "japan-550bn-first-projects-2026-02-17",
        "ec-us-japan-joint-statement-pricing-2026-02-04",
    } <= keys
    assert not {w["key"] for w in DATA["withdrawn"]} & keys


def test_every_deadline_passed_by_the_check_has_a_dated_check(agreements):
    looked = dt.date(2026, 12, 7)
    passed = Milestone.objects.exclude(due_on=None).filter(due_on__lt=looked)
    assert passed.count() >= 6
    for m in passed.select_related("series"):
        # An occurrence of a recurring obligation is checked on its series, whose
        # entry names each quarter that passed (docs/recurring.md).
        checked = (m.series or m).log.filter(kind=LogEntry.Kind.CHECKED, on=looked)
        assert checked.exists(), m.key
        if m.series is not None:
            assert any(m.due_on.isoformat() in e.text for e in checked), m.key


def test_the_events_since_signature_are_dated_and_sourced():
    events = [
        (e, where)
        for where, row in _owners()
        for e in row.get("log", [])
        if e["kind"] != LogEntry.Kind.CHECKED and e["on"] > "2025-10-19"
    ]
    assert len(events) >= 25
    for e, where in events:
        assert e["source"]["kind"] == "quote" and e["source"]["reference"].startswith("https://")
        assert e["on"] <= "2026-12-07", f"{where}: {e['key']} is dated after the check"


def test_the_joint_statement_names_the_framework():
    statement = [
        e["source"]
        for _, row in _owners()
        for e in row.get("log", [])
        if e["key"].startswith("ec-us-japan-joint-statement")
    ]
    assert len(statement) == 2
    assert all("statement-26-323" in s["reference"] for s in statement)


def test_japanese_quotations_say_they_are_japanese():
    japanese = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    found = 0
    for where, src in sources():
        if japanese.search(src.get("passage", "")):
            assert src.get("lang") == "ja", f"{where}: a Japanese passage not marked ja"
            found += 1
        else:
            assert src.get("lang", "en") == "en", f"{where}: marked {src.get('lang')}"
    assert found >= 5
    text = [s for _, s in sources() if s["reference"].startswith("https://worldjpn.net/")]
    assert "採掘及び加工を通じた重要鉱物及びレアアースの供給確保のための日米枠組み" in {
        s["passage"] for s in text
    }


def test_shipped_assessments_are_dated_sourced_and_claim_no_kept_promise():
    rated = [c for a in DATA["agreements"] for c in a["commitments"] if "assessment" in c]
    assert len(rated) >= 2
    listed = (REPO / "docs" / "sources.md").read_text(encoding="utf-8")
    for c in rated:
        raw = c["assessment"]
        assert raw["value"] in ("on_track", "partly_kept"), c["key"]
        assert dt.date.fromisoformat(raw["on"]) <= dt.date(2026, 12, 7)
        assert raw["note"].startswith("In progress:") and raw["evidence"] in listed


def _owners() -> list[tuple[str, dict]]:
    found = []
    for a in DATA["agreements"]:
        found.append((a["slug"], a))
        for c in a["commitments"]:
            found.append((f"{a['slug']}/{c['key']}", c))
            found.extend((f"{a['slug']}/{c['key']}/{m['key']}", m) for m in c["milestones"])
    return found
