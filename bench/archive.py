#!/usr/bin/env python
"""Benchmark of the archive (tracker/archive): 1,000 cited pages fetched and kept as WARC.

A local server (a thread of this process, ``http.server``) serves 1,000 different HTML
pages of about 40 KB each (the size of a government press release; ``--kb``), gzipped
as most servers send them. They are archived as the worker does (``archive_due``: the
claim, the guarded client with robots.txt and the host lock, warcio, Django's storage,
the row's update), and the same pages are then fetched by a minimal loop that does what
archiving cannot do without (each page got through one ``httpx.Client`` that keeps its
connection, its SHA-256, the body written to a file): the limit, measured in the same
run on the same machine. Printed: wall time of each, the ratio, and the disk used per
page (WARC, gzip) beside the body's size.

    .venv/bin/python bench/archive.py                  # about a minute
    .venv/bin/python bench/archive.py --pages 200

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust; ``--server`` to change). The
database (``--db``, default tracker_archive) is created if missing and migrated; its
captures are thrown away on every run. Figures of the reference machine: bench/README.md.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import random
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import setup_django

WORDS = [
    "critical",
    "minerals",
    "rare",
    "earths",
    "supply",
    "chain",
    "framework",
    "participants",
    "ministerial",
    "investment",
    "processing",
    "stockpile",
    "recycling",
    "permitting",
    "financing",
    "projects",
    "Japan",
    "United",
    "States",
    "cooperation",
    "security",
    "resilience",
    "within",
    "days",
    "signature",
    "government",
    "agency",
]


def make_pages(n: int, kb: int) -> list[bytes]:
    rng = random.Random(1)
    pages = []
    for i in range(n):
        paragraphs, size = [], 0
        while size < kb * 1024:
            p = " ".join(rng.choice(WORDS) for _ in range(60))
            paragraphs.append(f"<p>{p}.</p>")
            size += len(p) + 8
        body = f"<!DOCTYPE html><html><head><title>Release {i}</title></head><body>"
        pages.append((body + "\n".join(paragraphs) + "</body></html>").encode())
    return pages


def serve(pages: list[bytes]) -> ThreadingHTTPServer:
    zipped = [gzip.compress(p, 6) for p in pages]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if not self.path.startswith("/release/"):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = zipped[int(self.path.rsplit("/", 1)[1])]
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def archive(urls: list[str]) -> tuple[float, int, int]:
    from django.utils import timezone

    from tracker.archive import services
    from tracker.archive.models import Capture

    Capture.objects.all().delete()
    now = timezone.now()
    Capture.objects.bulk_create([Capture(address=u, next_try=now) for u in urls])
    started = time.perf_counter()
    states = services.archive_due(now, limit=len(urls))
    elapsed = time.perf_counter() - started
    assert states == {"archived": len(urls)}, states
    sizes = list(Capture.objects.values_list("warc_size", "size"))
    return elapsed, sum(s[0] for s in sizes), sum(s[1] for s in sizes)


def minimal(urls: list[str], out: Path) -> float:
    import httpx

    started = time.perf_counter()
    with httpx.Client() as client:  # one client, its connection kept: the best case
        for i, url in enumerate(urls):
            body = client.get(url).content
            hashlib.sha256(body).hexdigest()
            (out / f"{i}.html").write_bytes(body)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--kb", type=int, default=40)
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--db", default="tracker_archive")
    args = parser.parse_args()
    os.environ["TRACKER_FETCH_ALLOW_PRIVATE"] = "true"
    os.environ["TRACKER_ARCHIVE_ON_SAVE"] = "false"
    setup_django(args.server, args.db, "bench-archive-")
    pages = make_pages(args.pages, args.kb)
    server = serve(pages)
    base = f"http://127.0.0.1:{server.server_address[1]}/release/"
    urls = [f"{base}{i}" for i in range(args.pages)]
    archived, warc_bytes, body_bytes = archive(urls)
    with tempfile.TemporaryDirectory() as out:
        limit = minimal(urls, Path(out))
    server.shutdown()
    n = args.pages
    print(
        json.dumps(
            {
                "machine": f"{platform.node()} ({os.cpu_count()} cores)",
                "load": os.getloadavg()[0],
                "pages": n,
                "archive_s": round(archived, 2),
                "archive_ms_per_page": round(archived / n * 1000, 2),
                "minimal_loop_s": round(limit, 2),
                "ratio": round(archived / limit, 2),
                "body_kib_per_page": round(body_bytes / n / 1024, 1),
                "warc_kib_per_page": round(warc_bytes / n / 1024, 1),
                "disk_per_1000_pages_mib": round(warc_bytes / n * 1000 / 2**20, 1),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
