"""Public pages benchmark: time each page type at 500 and 5,000 milestones (median of
5 requests through Django's test client, no network), today and "as of" a past day.

    DATABASE_URL=postgres://…/tracker_x .venv/bin/python bench/public.py [--sizes 500,5000]

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


if __name__ == "__main__":
    main()
