"""Public pages benchmark, in two parts (``--part pages|scale|all``, default all).

``pages``: each page type at 500 and 5,000 milestones (median of 5 requests through
Django's test client, no network), today and "as of" a past day, with its queries.

``scale``: an agreement of 1,000 milestones beside one of 10, both in the database at
once, their pages requested in turn (small, large, small, large, ...): the server time
and the bytes of each page, and the ratio large/small of each pair, the row giving the
median pair. The targets are the issue's: the agreement page of 1,000 milestones under
300 KB, and under 100 ms of server time on a quiet machine; this machine is shared, so
the ratio to the 10-milestone page measured in the same run is the figure that holds
whatever the load (a page whose cost does not grow with its milestones is near 1x).

    DATABASE_URL=postgres://…/tracker_x .venv/bin/python bench/public.py \
        [--part scale] [--sizes 500,5000] [--scale-sizes 10,1000] [--runs 5]

It migrates the database DATABASE_URL names and empties it (``flush``) before each
size: point it at a scratch database."""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="500,5000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--part", choices=["pages", "scale", "all"], default="all")
    parser.add_argument("--scale-sizes", default="10,1000")
    args = parser.parse_args()
    os.environ.setdefault("SECRET_KEY", "bench")
    os.environ.setdefault("TRACKER_VAR_DIR", tempfile.mkdtemp(prefix="bench-public-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import time_machine
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tests.tracker.public.conftest import NOW
    from tests.tracker.public.test_queries import build, urls

    call_command("migrate", verbosity=0, interactive=False)
    if args.part in ("scale", "all"):
        small, large = (int(n) for n in args.scale_sizes.split(","))
        scale(small, large, args.runs)
    if args.part == "scale":
        return
    print(f"database: {connection.vendor}; median of {args.runs} requests; ms (queries)")
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[str, dict[int, str]] = {}
    for size in sizes:
        call_command("flush", verbosity=0, interactive=False)
        with time_machine.travel(NOW, tick=False):
            pages = urls(*build(size))
            client = Client(HTTP_HOST="127.0.0.1")
            for url in pages:
                times = []
                for _ in range(args.runs):
                    with CaptureQueriesContext(connection) as queries:
                        start = time.perf_counter()
                        assert client.get(url).status_code == 200, url
                        times.append(1000 * (time.perf_counter() - start))
                name = re.sub(r"agreement-\d+", "A", url)
                name = re.sub(r"commitment-\d+", "C", name)
                name = re.sub(r"/(milestones|commitments)/\d+", r"/\1/N", name)
                results.setdefault(name, {})[size] = (
                    f"{statistics.median(times):.0f} ({len(queries)})"
                )
    call_command("flush", verbosity=0, interactive=False)
    print("| page | " + " | ".join(f"{s:,} milestones" for s in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for name, row in results.items():
        print(f"| `{name}` | " + " | ".join(row.get(s, "") for s in sizes) + " |")


SCALE_PAGES = {
    "agreement page": "/agreements/{a}/",
    "agreement page, as of a day": "/agreements/{a}/?as_of=2026-04-27",
    "commitment page": "/agreements/{a}/commitments/{c}/",
    "timeline.svg": "/agreements/{a}/timeline.svg",
    "timeline.png": "/agreements/{a}/timeline.png",
    "calendar.ics": "/agreements/{a}/calendar.ics",
}
LIMITS = {"agreement page": (100.0, 300.0)}  # ms on a quiet machine, KB


def scale(small: int, large: int, runs: int) -> None:
    """The pages of a large agreement against the same pages of a small one, measured
    in turn in the same run."""
    import time_machine
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tests.tracker.public.conftest import NOW
    from tests.tracker.public.test_queries import build

    call_command("flush", verbosity=0, interactive=False)
    client = Client(HTTP_HOST="127.0.0.1")
    rows = []
    with time_machine.travel(NOW, tick=False):
        built = {n: build(n) for n in (small, large)}
        for name, pattern in SCALE_PAGES.items():
            urls = {n: pattern.format(a=a.slug, c=c.key) for n, (a, c, _) in built.items()}
            for url in urls.values():
                client.get(url)  # warm: templates compiled, connections open
            times: dict[int, list[float]] = {small: [], large: []}
            sizes, queries = {}, {}
            for _ in range(runs):
                for n in (small, large):
                    with CaptureQueriesContext(connection) as captured:
                        start = time.perf_counter()
                        response = client.get(urls[n])
                        times[n].append(1000 * (time.perf_counter() - start))
                    assert response.status_code == 200, urls[n]
                    sizes[n], queries[n] = len(response.content), len(captured)
            pairs = sorted(zip(times[large], times[small], strict=True), key=lambda p: p[0] / p[1])
            big, little = pairs[len(pairs) // 2]
            rows.append((name, little, big, big / little, sizes, queries))
    call_command("flush", verbosity=0, interactive=False)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"scale: {large:,} milestones beside {small:,}, {runs} pairs, the median pair; "
        f"database {connection.vendor}; load average {load}"
    )
    print(
        f"| page | {small:,}: ms | {large:,}: ms | ratio | {small:,}: KB | {large:,}: KB "
        "| queries | target at 1,000 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, little, big, ratio, sizes, queries in rows:
        limit = LIMITS.get(name)
        target = f"< {limit[0]:.0f} ms, < {limit[1]:.0f} KB" if limit else ""
        print(
            f"| {name} | {little:.0f} | {big:.0f} | {ratio:.2f}x | {sizes[small] / 1024:.0f} "
            f"| {sizes[large] / 1024:.0f} | {queries[small]} / {queries[large]} | {target} |"
        )
    for name, (ms, kb) in LIMITS.items():
        _, little, big, ratio, sizes, _ = next(r for r in rows if r[0] == name)
        print(
            f"{name} at {large:,}: {big:.0f} ms ({ratio:.2f}x the {small:,}-milestone page "
            f"of the same run; target {ms:.0f} ms on a quiet machine), "
            f"{sizes[large] / 1024:.0f} KB: {'within' if sizes[large] / 1024 < kb else 'OVER'} "
            f"{kb:.0f} KB"
        )


if __name__ == "__main__":
    main()
