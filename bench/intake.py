#!/usr/bin/env python
"""Benchmark of the intake (tracker/intake): matching and importing.

1. **Matching**: 1,000 items against 1,000 commitments, in Python (no database): the
   matcher is built from 1,000 commitments (50 agreements of 20, each agreement between
   the United States and Japan, Australia, Malaysia or Thailand in turn, each commitment
   a shipped commitment's title and summary with a word of its own), then asked about
   1,000 items (the labelled set of tests/data/intake, repeated, each copy with its own
   number). Wall time of the build and of the matching; peak memory under tracemalloc
   in a second run (never timed).
2. **Importing**: a backlog of 10,000 feed items through ``manage.py import_items`` into
   PostgreSQL with the shipped agreements and keywords: a first import (10,000 findings),
   then the same file again (nothing new: the idempotent path), each timed; peak memory
   under tracemalloc in a third run on a fresh table.

    .venv/bin/python bench/intake.py                    # about two minutes
    .venv/bin/python bench/intake.py --items 2000       # a smaller backlog

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust; ``--server`` to change). The
database ``tracker_bench_intake`` is created if missing and migrated; its findings are
thrown away on every run. Figures of the reference machine: bench/README.md.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ROOT, setup_django

PARTIES = ["JP", "AU", "MY", "TH"]


def fixture_commitments() -> list[tuple[str, str]]:
    data = json.loads((ROOT / "fixtures" / "agreements.json").read_text())
    return [(c["title"], c["summary"]) for a in data["agreements"] for c in a["commitments"]]


def labelled_items() -> list[tuple[str, str]]:
    from tracker.intake import parsing

    entries, _ = parsing.parse_feed((ROOT / "tests/data/intake/items.atom").read_bytes())
    return [(e.title, e.text) for e in entries]


def build_matcher(n_commitments: int):
    from tracker.intake.matching import Matcher

    base = fixture_commitments()
    agreements = [(a, f"agreement-{a}", ["US", PARTIES[a % 4]]) for a in range(n_commitments // 20)]
    commitments, texts = [], {}
    for i in range(n_commitments):
        title, summary = base[i % len(base)]
        commitments.append((i, i // 20, f"c{i}", f"{title} (variant {i})"))
        texts[i] = [(f"{title} w{i}", 3.0), (summary, 2.0)]
    return Matcher.build(agreements=agreements, commitments=commitments, texts=texts)


def bench_matching(n_items: int, n_commitments: int) -> dict[str, float]:
    items = labelled_items()
    queries = [(f"{t} #{i}", x) for i, (t, x) in enumerate(items * (n_items // len(items) + 1))]
    queries = queries[:n_items]
    started = time.perf_counter()
    matcher = build_matcher(n_commitments)
    built = time.perf_counter()
    suggested = sum(1 for t, x in queries if matcher.match(t, x))
    done = time.perf_counter()
    tracemalloc.start()
    matcher = build_matcher(n_commitments)
    for t, x in queries:
        matcher.match(t, x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "items": n_items,
        "commitments": n_commitments,
        "build_s": built - started,
        "match_s": done - built,
        "items_per_s": n_items / (done - built),
        "with_a_suggestion": suggested,
        "peak_mib": peak / 2**20,
    }


def backlog(n_items: int) -> Path:
    items = labelled_items()
    entries = []
    for i in range(n_items):
        title, text = items[i % len(items)]
        entries.append(
            f"<entry><id>https://example.org/backlog/{i}</id>"
            f"<title>{escape(title)} #{i}</title>"
            f'<link href="https://example.org/backlog/{i}"/>'
            f"<summary>{escape(text)} (item {i})</summary></entry>\n"
        )
    path = Path(tempfile.mkdtemp(prefix="bench-intake-")) / "backlog.atom"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>backlog</title><id>urn:bench</id>\n" + "".join(entries) + "</feed>\n"
    )
    return path


def bench_import(n_items: int) -> dict[str, float]:
    from django.core.management import call_command

    from tracker.intake.models import Finding, Item

    path = backlog(n_items)

    def run() -> tuple[float, str]:
        out = io.StringIO()
        started = time.perf_counter()
        call_command("import_items", str(path), stdout=out)
        return time.perf_counter() - started, out.getvalue().strip()

    Item.objects.all().delete()
    first, said_first = run()
    findings = Finding.objects.count()
    again, said_again = run()
    Item.objects.all().delete()
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "items": n_items,
        "first_s": first,
        "first_items_per_s": n_items / first,
        "first_said": said_first,
        "findings": findings,
        "again_s": again,
        "again_said": said_again,
        "peak_mib": peak / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--items", type=int, default=10_000, help="the backlog to import")
    args = parser.parse_args()
    setup_django(args.server, "tracker_bench_intake", "tracker-bench-intake-")
    from django.core.management import call_command

    from tracker.intake import seeds

    call_command("load_agreements", stdout=io.StringIO())
    seeds.load()
    print(f"Python {platform.python_version()}, {platform.machine()}")
    m = bench_matching(1000, 1000)
    print(
        f"matching {m['items']} items against {m['commitments']} commitments: build "
        f"{m['build_s']:.2f} s, match {m['match_s']:.2f} s ({m['items_per_s']:.0f} items/s), "
        f"{m['with_a_suggestion']} with a suggestion; peak {m['peak_mib']:.1f} MiB"
    )
    i = bench_import(args.items)
    print(
        f"import_items, {i['items']} items: first run {i['first_s']:.1f} s "
        f"({i['first_items_per_s']:.0f} items/s; {i['first_said']}); again "
        f"{i['again_s']:.1f} s ({i['again_said']}); peak {i['peak_mib']:.1f} MiB"
    )


if __name__ == "__main__":
    main()
