"""The matcher's quality, measured on the labelled set (tests/data/intake): real news
items copied from public pages, each labelled with the commitments it bears on (the
primary one first) or none. A third of the set is held out: it was never used to
choose keywords or the threshold, and its figures are held to the same bar.

The figures (issue 23): of the relevant items, the primary commitment is the first
suggestion for at least 75% and among the first three for at least 95%; at the
threshold where at least 90% of relevant items get a suggestion, at least 80% of
irrelevant items get none. A plain BM25 over the commitments' own text (title and
summary, rank-bm25) is printed beside them for comparison. Run with ``-s`` to see them.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command

from commitments.models import Commitment
from tracker.intake import matching, parsing, seeds
from tracker.intake.matching import Matcher

DATA = Path(__file__).resolve().parents[1] / "data" / "intake"
FEED = DATA / "items.atom"


def labels() -> list[dict]:
    return json.loads((DATA / "labels.json").read_text())["items"]


@dataclass
class Figures:
    relevant: int
    irrelevant: int
    top1: float
    top3: float
    threshold: float
    coverage: float  # relevant items with a suggestion at the threshold
    irrelevant_none: float  # irrelevant items with none at the threshold

    def line(self, name: str) -> str:
        return (
            f"{name:<28} n={self.relevant}+{self.irrelevant}  top-1 {self.top1:6.1%}  "
            f"top-3 {self.top3:6.1%}  at {self.threshold:7.2f}: relevant with a suggestion "
            f"{self.coverage:6.1%}, irrelevant with none {self.irrelevant_none:6.1%}"
        )


def figures(rows: list[dict], ranked: list[list[tuple[str, float]]]) -> Figures:
    """``ranked[i]``: item i's suggestions, best first, as (agreement/commitment, score),
    unthresholded. The threshold is the highest score at which at least 90% of the
    relevant items still get a suggestion."""
    rel = [(r, s) for r, s in zip(rows, ranked, strict=True) if r["commitments"]]
    irr = [s for r, s in zip(rows, ranked, strict=True) if not r["commitments"]]
    top1 = sum(1 for r, s in rel if s and s[0][0] == r["commitments"][0]) / len(rel)
    top3 = sum(1 for r, s in rel if r["commitments"][0] in [k for k, _ in s[:3]]) / len(rel)
    best = sorted((s[0][1] if s else 0.0 for _, s in rel), reverse=True)
    threshold = best[math.ceil(0.9 * len(best)) - 1]
    coverage = sum(1 for b in best if b >= threshold and b > 0) / len(best)
    none = sum(1 for s in irr if not s or s[0][1] < threshold) / len(irr)
    return Figures(len(rel), len(irr), top1, top3, threshold, coverage, none)


@pytest.fixture
def record(agreements):
    seeds.load()


def imported() -> tuple[list[dict], list[dict]]:
    out = io.StringIO()
    call_command("import_items", str(FEED), "--json", stdout=out)
    return labels(), [json.loads(line) for line in out.getvalue().splitlines()]


def matched(rows: list[dict]) -> list[list[tuple[str, float]]]:
    """Every item through the matcher with no floor, to find the threshold."""
    matcher = Matcher.from_db(min_score=0.0)
    entries, _ = parsing.parse_feed(FEED.read_bytes())
    assert [e.address for e in entries] == [r["address"] for r in rows]
    return [
        [(f"{m.agreement}/{m.commitment}", m.score) for m in matcher.match(e.title, e.text)]
        for e in entries
    ]


def bm25_ranked(rows: list[dict]) -> list[list[tuple[str, float]]]:
    from rank_bm25 import BM25Okapi

    commitments = list(Commitment.objects.select_related("agreement").order_by("id"))
    corpus = [matching.stems(f"{c.title} {c.summary}") for c in commitments]
    bm25 = BM25Okapi(corpus)
    entries, _ = parsing.parse_feed(FEED.read_bytes())
    out = []
    for e in entries:
        scores = bm25.get_scores(matching.stems(f"{e.title} {e.text}"))
        order = sorted(range(len(commitments)), key=lambda i: (-scores[i], i))
        out.append(
            [(f"{commitments[i].agreement.slug}/{commitments[i].key}", scores[i]) for i in order]
        )
    return out


def split(rows, ranked, name):
    keep = [i for i, r in enumerate(rows) if r["split"] == name]
    return [rows[i] for i in keep], [ranked[i] for i in keep]


def test_the_labelled_set_is_what_the_issue_asks_for():
    rows = labels()
    relevant = [r for r in rows if r["commitments"]]
    irrelevant = [r for r in rows if not r["commitments"]]
    assert len(relevant) >= 80 and len(irrelevant) >= 40
    assert sum(r["shares_vocabulary"] for r in irrelevant) >= len(irrelevant) / 2
    assert len({r["address"] for r in rows}) == len(rows)
    assert all(r["address"].startswith(("http://", "https://")) for r in rows)
    held_out = [r for r in rows if r["split"] == "held_out"]
    assert sum(1 for r in held_out if r["commitments"]) >= 25
    assert sum(1 for r in held_out if not r["commitments"]) >= 10


def test_the_matcher_reaches_the_figures_and_beats_bm25(record, capsys):
    rows = labels()
    ranked = matched(rows)
    baseline = bm25_ranked(rows)
    report = []
    for name in ("tuning", "held_out"):
        ours = figures(*split(rows, ranked, name))
        theirs = figures(*split(rows, baseline, name))
        report += [ours.line(f"matcher, {name}"), theirs.line(f"BM25 baseline, {name}")]
        assert ours.top1 >= 0.75, ours
        assert ours.top3 >= 0.95, ours
        assert ours.coverage >= 0.90 and ours.irrelevant_none >= 0.80, ours
    everything = figures(rows, ranked)
    report.append(everything.line("matcher, whole set"))
    report.append(figures(rows, baseline).line("BM25 baseline, whole set"))
    with capsys.disabled():
        print("\n" + "\n".join(report))


def test_the_shipped_threshold_keeps_the_figures(record, settings):
    """With TRACKER_INTAKE_MIN_SCORE as shipped, what import_items prints: most relevant
    items get a suggestion, most irrelevant ones none."""
    rows, printed = imported()
    assert [p["address"] for p in printed] == [r["address"] for r in rows]
    rel = [(r, p) for r, p in zip(rows, printed, strict=True) if r["commitments"]]
    irr = [p for r, p in zip(rows, printed, strict=True) if not r["commitments"]]
    covered = sum(1 for _, p in rel if p["suggestions"]) / len(rel)
    quiet = sum(1 for p in irr if not p["suggestions"]) / len(irr)
    first = sum(
        1
        for r, p in rel
        if p["suggestions"]
        and f"{p['suggestions'][0]['agreement']}/{p['suggestions'][0]['commitment']}"
        == r["commitments"][0]
    ) / len(rel)
    assert covered >= 0.90 and quiet >= 0.80 and first >= 0.75, (covered, quiet, first)
