"""API benchmark: gunicorn on loopback, wrk with 50 connections, PostgreSQL with
100,000 milestones. Not a test: it prints figures for the README.

    .venv/bin/python bench/api.py [--duration 10] [--pairs 3] [--workers 4]
                                  [--port 8765] [--part all|http|csv]
    (BENCH_DB, BENCH_CACHE_URL: the database and Redis to use)

Creates (or reuses) the database ``tracker_bench``, fills it once, starts gunicorn with
bench.settings (the product plus /bench/bare/, a plain Django view returning a fixed
small JSON: the ceiling; /bench/bare-80k/, the same with a body the size of
/status/'s), and runs wrk against:

    bare view (200) | bare view, 80 KB |
    /api/v1/status/ 200 | ... 304 | /api/v1/milestones/?page_size=100 200 | ... 304

The table also says how many times a worker turned the cache off during a case
(``ratelimit.guarded``: a Redis call that timed out; that worker then counts no rate
limit for API_CACHE_RETRY_SECONDS).

and then, in this process, a CSV export of every milestone (``?format=csv``): its time
and the peak memory Python allocated while streaming it (tracemalloc).

Each figure is also given as a ratio to the bare view of the same run: each case runs
``--pairs`` times right after the bare view, each pair gives a ratio, and the table's
row is the pair with the median ratio (all of them are printed too): this machine's
speed drifts over seconds, so one pair can be off either way. Reads are
anonymous, as pollers are; the rate limit is raised out of the way (its Redis counter
is still read and written on every request).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = os.environ.get("BENCH_DB", "tracker_bench")
PG = "postgres://postgres@127.0.0.1:5432"
MILESTONES = 100_000
AGREEMENTS, COMMITMENTS_EACH = 100, 10  # 1,000 commitments, 100 milestones each

ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "DATABASE_URL": f"{PG}/{DB_NAME}",
    "CACHE_URL": os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/11"),
    "SECRET_KEY": "bench-only-secret",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "API_ANON_RATE": "100000000/min",
    "LOG_LEVEL": "WARNING",
    "TRACKER_VAR_DIR": tempfile.mkdtemp(prefix="tracker-bench-"),
}


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        print("installing wrk (apt-get)...", flush=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL
        )
        wrk = shutil.which("wrk")
    assert wrk, "wrk is needed"
    return wrk


def ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def setup_django() -> None:
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed() -> None:
    """100 agreements signed over two years, 100 milestones per commitment with rules
    due from 2024 to 2028. What is past due is mostly completed (as a kept tracker
    would be); about 1 in 10 of it is still open, so overdue."""
    from django.db import connection, transaction

    from commitments import deadlines
    from commitments.models import Agreement, Commitment, Milestone

    have = Milestone.objects.count()
    if have >= MILESTONES:
        print(f"reusing {DB_NAME}: {have} milestones", flush=True)
        return
    print(f"seeding {DB_NAME} with {MILESTONES} milestones...", flush=True)
    started = time.monotonic()
    rng = random.Random(4)
    zones = ["Asia/Tokyo", "America/New_York", "Asia/Kuala_Lumpur", "Asia/Bangkok", "UTC"]
    today = dt.datetime.now(dt.UTC).date()
    with transaction.atomic():
        Agreement.objects.all().delete()
        agreements = Agreement.objects.bulk_create(
            Agreement(
                slug=f"bench-{i}",
                title=f"Bench agreement {i}",
                short_name=f"B{i}",
                signed_on=dt.date(2024, 1, 1) + dt.timedelta(days=7 * i),
                time_zone=zones[i % len(zones)],
            )
            for i in range(AGREEMENTS)
        )
        commitments = Commitment.objects.bulk_create(
            Commitment(
                agreement=a, key=f"c{j}", number=j, title=f"Commitment {j}", category="investment"
            )
            for a in agreements
            for j in range(COMMITMENTS_EACH)
        )
    per = MILESTONES // len(commitments)
    batch: list[Milestone] = []
    for c in commitments:
        agreement = agreements[(c.agreement_id - agreements[0].pk)]
        for k in range(per):
            days = rng.randrange(30, 1500)
            due = deadlines.add_days(agreement.signed_on, days)
            past = due < today
            status = (
                "completed"
                if past and rng.random() < 0.9
                else rng.choice(["not_started", "in_progress", "at_risk"])
            )
            batch.append(
                Milestone(
                    commitment=c,
                    key=f"m{k}",
                    title=f"Milestone {k} of {c.key}",
                    rule_kind="days_after",
                    rule_amount=days,
                    due_on=due,
                    overdue_from=deadlines.overdue_at(due, agreement.time_zone),
                    status=status,
                    completed_on=min(due, today) if status == "completed" else None,
                )
            )
        if len(batch) >= 10_000:
            Milestone.objects.bulk_create(batch)
            batch = []
    Milestone.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"seeded in {time.monotonic() - started:.0f} s", flush=True)


SERVER_LOG = Path(ENV["TRACKER_VAR_DIR"]) / "gunicorn.log"


def cache_trips() -> int:
    """How many times a worker turned the cache off so far (``ratelimit.guarded``'s log
    line): each costs that worker API_CACHE_RETRY_SECONDS without rate limits."""
    return SERVER_LOG.read_text(errors="replace").count("cache unavailable")


def start_server(port: int, workers: int) -> subprocess.Popen[bytes]:
    cmd = [
        str(ROOT / ".venv/bin/gunicorn"),
        "config.wsgi",
        "--chdir",
        str(ROOT),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--log-level",
        "warning",
    ]
    log = SERVER_LOG.open("ab")
    server = subprocess.Popen(
        cmd, env={**os.environ, **ENV}, start_new_session=True, stdout=log, stderr=log
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/bare/", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("gunicorn did not start")


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], int]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), len(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), 0


def csv_export() -> tuple[int, int, float, float]:
    """(rows, bytes, seconds, peak MiB) of /api/v1/milestones/?format=csv, in process:
    timed in one pass, its peak memory traced (tracemalloc, which slows it) in another."""
    import tracemalloc

    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")

    def export() -> tuple[int, int]:
        response = client.get("/api/v1/milestones/?format=csv")
        assert response.status_code == 200 and response.streaming, response.status_code
        size = lines = 0
        for chunk in response.streaming_content:
            size += len(chunk)
            lines += chunk.count(b"\n")
        return lines - 1, size

    started = time.monotonic()
    rows, size = export()
    seconds = time.monotonic() - started
    tracemalloc.start()
    export()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return rows, size, seconds, peak / 2**20


def cold_time(url: str) -> float:
    """One render with an empty cache (Redis emptied)."""
    import redis

    redis.Redis.from_url(ENV["CACHE_URL"]).flushdb()
    started = time.monotonic()
    fetch(url)
    return (time.monotonic() - started) * 1000


def to_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(wrk: str, url: str, headers: dict[str, str], duration: int) -> dict[str, float]:
    cmd = [wrk, "-t2", "-c50", f"-d{duration}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = to_ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = to_ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "bad": int(errors.group(1)) if errors else 0}


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    mem = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.split("\n")[1]
    return f"{os.cpu_count()} CPUs ({cpu}); memory: {' '.join(mem.split()[1:2])} total"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--pairs", type=int, default=3, help="bare/case runs per case")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--part", choices=["all", "http", "csv"], default="all")
    args = parser.parse_args()
    if args.part == "csv":
        ensure_database()
        setup_django()
        seed()
        csv_figures()
        return

    wrk = ensure_wrk()
    load_before = os.getloadavg()
    ensure_database()
    setup_django()
    seed()
    base = f"http://127.0.0.1:{args.port}"
    server = start_server(args.port, args.workers)
    try:
        status_url = f"{base}/api/v1/status/"
        page_url = f"{base}/api/v1/milestones/?page_size=100"
        cold = {"status": cold_time(status_url), "page": cold_time(page_url)}
        cases = []
        for label, url, expect in [
            ("bare Django view", f"{base}/bench/bare/", 200),
            ("bare Django view, 80 KB body", f"{base}/bench/bare-80k/", 200),
            ("/api/v1/status/", status_url, 200),
            ("/api/v1/milestones/?page_size=100", page_url, 200),
        ]:
            code, headers, size = fetch(url)
            assert code == expect, (url, code)
            cases.append((f"{label} (200, {size} B)", url, {}))
            if not label.startswith("bare Django view"):
                tag = headers["ETag"]
                assert fetch(url, {"If-None-Match": tag})[0] == 304
                cases.append((f"{label} (304)", url, {"If-None-Match": tag}))
        # The bare view runs again just before each API case: background load drifts
        # over a minute, so each ratio is to the bare view measured beside it.
        bare_url = cases[0][1]
        # Each worker imports the URLconf (DRF, drf-spectacular...) on its first
        # request: let that happen outside the measured runs.
        run_wrk(wrk, bare_url, {}, 2)
        results = []
        for label, url, headers in cases[1:]:
            fetch(url, headers)  # warm
            pairs = []
            for _ in range(args.pairs):
                beside = run_wrk(wrk, bare_url, {}, args.duration)
                trips = cache_trips()
                result = run_wrk(wrk, url, headers, args.duration)
                result["trips"] = cache_trips() - trips
                pairs.append((result, beside))
            # Still the answer the case is about: wrk counts 200s and 304s alike.
            code = fetch(url, headers)[0]
            assert code == (304 if headers else 200), (label, code)
            # The machine's speed drifts over seconds: each pair is a ratio on its own,
            # and the row is the pair with the median ratio.
            ratios = [r["rps"] / b["rps"] for r, b in pairs]
            result, beside = sorted(pairs, key=lambda p: p[0]["rps"] / p[1]["rps"])[len(pairs) // 2]
            result["trips"] = sum(r["trips"] for r, _ in pairs)
            results.append((label, result, beside, ratios))
            print(
                f"  {label}: {result['rps']:.0f} req/s, bare beside {beside['rps']:.0f}, "
                f"x bare per pair {' '.join(f'{x:.2f}' for x in ratios)}, "
                f"cache turned off {result['trips']} times",
                flush=True,
            )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    load_after = os.getloadavg()
    print(f"\nMachine: {machine()}")
    print(
        "Load average (1, 5, 15 min) before the run: "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; at its end: "
        + ", ".join(f"{x:.2f}" for x in load_after)
    )
    print(
        f"gunicorn: {args.workers} gthread workers x 4 threads; wrk -t2 -c50 -d{args.duration}s, "
        f"{args.pairs} pairs (bare view, case) per case, the row is the median pair; "
        f"PostgreSQL {DB_NAME} with {MILESTONES} milestones; Redis cache\n"
    )
    print(
        f"| {'answer':<40} | {'req/s':>6} | {'p50 ms':>7} | {'p99 ms':>7} "
        f"| {'bare req/s':>10} | {'bare p50':>8} | {'x bare':>6} | x bare, every pair |"
    )
    print(f"|{'-' * 42}|{'-' * 8}|{'-' * 9}|{'-' * 9}|{'-' * 12}|{'-' * 10}|{'-' * 8}|{'-' * 20}|")
    for label, r, beside, ratios in results:
        flag = f" ({r['bad']} non-2xx/3xx!)" if r["bad"] else ""
        flag += f" (cache off x{r['trips']:.0f})" if r["trips"] else ""
        every = " ".join(f"{x:.2f}" for x in ratios)
        print(
            f"| {label + flag:<40} | {r['rps']:>6.0f} | {r['p50']:>7.2f} | {r['p99']:>7.2f} "
            f"| {beside['rps']:>10.0f} | {beside['p50']:>8.2f} | {r['rps'] / beside['rps']:>6.2f} "
            f"| {every:<18} |"
        )
    print(
        f"\nFirst render with an empty body cache: status {cold['status']:.0f} ms, "
        f"milestones page {cold['page']:.0f} ms"
    )
    if args.part == "all":
        csv_figures()


def csv_figures() -> None:
    load_before = os.getloadavg()
    rows, size, seconds, peak = csv_export()
    print(
        f"CSV export of every milestone: {rows} rows, {size / 2**20:.1f} MiB in {seconds:.1f} s "
        f"({rows / seconds:.0f} rows/s); peak Python memory while streaming: {peak:.1f} MiB"
    )
    print(
        "Load average around the CSV export: "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + " -> "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    )


if __name__ == "__main__":
    main()
