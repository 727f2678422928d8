#!/usr/bin/env python
"""Benchmark of the deadline sweep (tracker.alerts.sweep.run) on PostgreSQL.

For each size N it loads N milestones into its own database, then measures, each on
identical fresh data (reloaded, VACUUM ANALYZE, CHECKPOINT before every run):

1. the limit: a bare ``UPDATE`` with the sweep's predicate, in one transaction;
2. the sweep flagging the same rows, with the history rows and due-soon reminder
   events it writes (no alert: the dispatcher expands events into alerts later);
3. a second sweep a minute later, which finds nothing to flag (the everyday case).

Wall times are medians of ``--repeat`` runs and include the COMMIT (the deferred
foreign-key checks run there). Queries are statements sent through Django's cursor (a
server-side cursor's FETCHes are not counted). Peak memory is taken in one more run
under tracemalloc, which slows Python down and so is never timed. The WAL written is
read from pg_current_wal_insert_lsn() around each run.

    .venv/bin/python bench/sweep.py                      # 10k and 100k (2 minutes)
    .venv/bin/python bench/sweep.py --sizes 10000,100000,1000000   # and 1M (15-20 minutes)
    BENCH_SWEEP_SIZES=10000,100000,1000000 scripts/bench sweep   # the same

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth; ``--server`` to
change). The database ``tracker_bench_sweep`` is created if missing and migrated; its
contents are thrown away on every run. The tables are printed and written to
bench/results/sweep.md, every run's figures to bench/results/sweep.json. What the
figures were on the reference machine: README.md ("Sweep benchmark").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = os.environ.get("BENCH_SWEEP_DB", "tracker_bench_sweep")
RESULTS = ROOT / "bench" / "results" / "sweep.md"
HEAD = "unknown"  # the commit measured, taken at start (others may commit meanwhile)
# A fixed moment, so that every run sees the same data. 21:00 in Tokyo.
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
AGREEMENT_TZ = "Asia/Tokyo"
COMMITMENTS = 8
OWNED_COMMITMENTS = 3  # commitments 1..3 have an owner
BARE_UPDATE = (
    "UPDATE commitments_milestone SET overdue_since = %(now)s, updated_at = %(now)s "
    "WHERE overdue_since IS NULL AND overdue_from <= %(now)s "
    "AND status NOT IN ('completed', 'cancelled')"
)

MIX = f"""\
One agreement (time zone {AGREEMENT_TZ}), {COMMITMENTS} commitments ({OWNED_COMMITMENTS} with \
an owner), N milestones spread evenly over them. By milestone number modulo 100:
70% open and past their due date (not started / in progress / at risk; due 1 to 730 days
ago), so they become overdue; 10% completed and 5% cancelled (due in the past); 10% due
in the future (1 to 365 days ahead, so about 0.85% of N fall in the 30-day warning
window); 5% with no deadline. 1% of milestones have an owner of their own. Three
subscriptions on the agreement: two with the default kinds and lead times (30/7/1
days), one for "overdue" only. Judged at {NOW.isoformat()}."""


def milestone_counts(text: str) -> list[int]:
    """``10000,100_000``: milestone counts, each 1 or more."""
    try:
        counts = [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of milestone counts (BENCH_SWEEP_SIZES)"
        )
    return counts


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=milestone_counts,
        default=os.environ.get("BENCH_SWEEP_SIZES") or "10000,100000",
        help="comma-separated milestone counts (env BENCH_SWEEP_SIZES); "
        "1000000 adds about 15 minutes",
    )
    parser.add_argument(
        "--no-memory",
        dest="memory",
        action="store_false",
        help="skip the extra sweep under tracemalloc",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement")
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL, without the database name",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="markdown table")
    parser.add_argument(
        "--api-triggers",
        choices=["off", "on"],
        default="off",
        help="the API's change-counter triggers (tracker/api): off by default, see api_triggers()",
    )
    return parser.parse_args()


# --- Set-up -------------------------------------------------------------------------


def setup_django(server: str) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.common import setup_django as setup

    setup(server, DB_NAME, "bench-sweep-")


def api_triggers(state: str) -> list[str]:
    """Turn the API's change-counter triggers (``tracker_api_bump``, if installed) on or
    off in the benchmark's database; returns the tables that have one.

    They are off by default so that what is measured is the sweep, whatever version of
    the trigger the database has. They fire once per changed row at COMMIT; the first
    version upserted the counter row each time, which costs time quadratic in the rows
    changed in one transaction (see README.md ("Sweep benchmark")): committing a bare
    UPDATE of 14,000 rows took 3 s, and 700,000 would take hours, for the limit and the
    sweep alike.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgrelid::regclass::text FROM pg_trigger "
            "WHERE tgname = 'tracker_api_bump' ORDER BY 1"
        )
        tables = [t for (t,) in cursor.fetchall()]
        verb = "ENABLE" if state == "on" else "DISABLE"
        for table in tables:
            cursor.execute(f"ALTER TABLE {table} {verb} TRIGGER tracker_api_bump")
    return tables


LOAD_SQL = [
    """TRUNCATE commitments_statusupdate, tracker_alert, tracker_event, tracker_sweeprun,
       tracker_subscription, tracker_optout, tracker_digestsent, commitments_milestone,
       commitments_commitment, commitments_agreement, auth_user CASCADE""",
    """INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name,
           email, is_staff, is_active, date_joined)
       VALUES (1, '!', false, 'ana', 'Ana', '', 'Ana@Example.org', true, true, %(now)s),
              (2, '!', false, 'ben', 'Ben', '', 'ben@example.org', true, true, %(now)s),
              (3, '!', false, 'chloe', 'Chloe', '', 'chloe@example.org', true, true, %(now)s)""",
    """INSERT INTO commitments_agreement (id, slug, title, title_en, short_name,
           short_name_en, signed_on, signed_at, time_zone, binding, summary, summary_en,
           updated_at, version, ja_is_translation)
       VALUES (1, 'bench', 'Benchmark agreement', 'Benchmark agreement', 'Bench', 'Bench',
               '2023-01-01', '', %(tz)s, false, '', '', %(now)s, 1, true)""",
    f"""INSERT INTO commitments_commitment (id, key, number, title, summary, category,
           assessment, assessment_note, assessment_evidence_url, updated_at, agreement_id,
           owner_id, section, version, title_en, summary_en, assessment_note_en,
           ja_is_translation)
       SELECT c, 'c' || c, c, 'Commitment ' || c, '', 'investment', 'not_yet_rated', '', '',
              %(now)s, 1, CASE WHEN c <= {OWNED_COMMITMENTS} THEN 1 + c %% 2 END, '', 1,
              'Commitment ' || c, '', '', true
       FROM generate_series(1, {COMMITMENTS}) AS c""",
    # One row per milestone, computed in the database: bucket b = i %% 100 picks the kind.
    f"""INSERT INTO commitments_milestone (id, key, title, rule_kind, rule_anchor,
           rule_fixed_date, rule_rrule, due_on, original_due_on, overdue_from, status,
           completed_on, evidence_url, last_note, version, updated_at, commitment_id,
           owner_id, title_en, ja_is_translation)
       SELECT i, 'm' || i, 'Milestone ' || i,
              CASE WHEN due IS NULL THEN 'none' ELSE 'fixed' END, 'signature', due, '',
              due, due, ((due + 1)::timestamp AT TIME ZONE %(tz)s), status,
              CASE WHEN status = 'completed' THEN due END, '', '', 1, %(now)s,
              1 + i %% {COMMITMENTS}, CASE WHEN i %% 100 = 42 THEN 3 END,
              'Milestone ' || i, true
       FROM (
           SELECT i, b,
                  CASE WHEN b < 85 THEN %(today)s::date - (1 + (i * 7919) %% 730)::int
                       WHEN b < 95 THEN %(today)s::date + (1 + (i * 7919) %% 365)::int
                  END AS due,
                  CASE WHEN b < 70 THEN (ARRAY['not_started', 'in_progress',
                                               'at_risk'])[1 + i %% 3]
                       WHEN b < 80 THEN 'completed'
                       WHEN b < 85 THEN 'cancelled'
                       ELSE 'not_started' END AS status
           FROM (SELECT i, i %% 100 AS b FROM generate_series(1, %(n)s::bigint) AS i) AS s
       ) AS t""",
    """INSERT INTO tracker_subscription (email, kinds, lead_days, time_zone, active,
           created_at, agreement_id, last_error, language)
       VALUES ('newsroom@example.org', '["due_soon", "overdue", "completed", "digest"]',
               '[30, 7, 1]', '', true, %(now)s, 1, '', 'en'),
              ('ministry@example.org', '["due_soon", "overdue", "completed", "digest"]',
               '[30, 7, 1]', '', true, %(now)s, 1, '', 'en'),
              ('analyst@example.org', '["overdue"]', '[]', '', true, %(now)s, 1, '', 'en')""",
]


def load(n: int) -> None:
    """Fresh data for one run: everything in the database, nothing row by row in Python.
    Triggers are off while loading (session_replication_role): the data is consistent
    by construction, and the API's change counter is not part of what is measured."""
    from django.db import connection, transaction

    params = {"now": NOW, "today": NOW.date(), "tz": AGREEMENT_TZ, "n": n}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        for sql in LOAD_SQL:
            cursor.execute(sql, params)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")


# --- Measuring ----------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    queries: int
    rows: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@contextmanager
def counting() -> Iterator[list[int]]:
    from django.db import connection

    count = [0]

    def wrapper(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        count[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield count


@contextmanager
def phases() -> Iterator[dict[str, float]]:
    """Time the sweep's parts by wrapping them: the flag and clear statements, the
    due-soon reminders, the COMMIT; what is left is the SweepRun row."""
    from django.db import connection

    from tracker.alerts import sweep

    spent: dict[str, float] = {}
    originals = {
        "change": sweep._change,
        "remind": sweep.remind,
        "commit": connection.commit,
    }

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - start

        return wrapped

    sweep._change = timed("flag+clear", originals["change"])
    sweep.remind = timed("reminders", originals["remind"])
    connection.commit = timed("commit", originals["commit"])
    try:
        yield spent
    finally:
        sweep._change = originals["change"]
        sweep.remind = originals["remind"]
        del connection.commit


def wal_lsn() -> int:
    """Where PostgreSQL's write-ahead log is, in bytes: the difference across a run is
    the WAL it wrote (plus any written meanwhile by other sessions on the server)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")
        return int(cursor.fetchone()[0])


def cpu_seconds() -> float:
    """CPU time spent so far by this process and by its PostgreSQL backend (user +
    system). Unlike wall time it hardly grows when other work shares the machine's
    cores, so its ratio is the figure to trust on a busy machine."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    backend = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return backend + time.process_time()


def bare_update() -> Run:
    from django.db import connection, transaction

    wal, cpu = wal_lsn(), cpu_seconds()
    with counting() as count:
        start = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(BARE_UPDATE, {"now": NOW})
            rows = cursor.rowcount
            updated = time.perf_counter()
        seconds = time.perf_counter() - start
    return Run(
        seconds,
        count[0],
        rows,
        {
            "commit": start + seconds - updated,
            "wal": wal_lsn() - wal,
            "cpu": cpu_seconds() - cpu,
        },
    )


def sweep_once(now: dt.datetime, *, breakdown: bool = False) -> Run:
    from tracker.alerts import sweep

    wal, cpu = wal_lsn(), cpu_seconds()
    with counting() as count, phases() if breakdown else _nothing() as spent:
        start = time.perf_counter()
        result = sweep.run(now=now)
        seconds = time.perf_counter() - start
    extra: dict[str, Any] = {
        "flagged": result.flagged,
        "cleared": result.cleared,
        "queued": result.queued,
        "wal": wal_lsn() - wal,
        "cpu": cpu_seconds() - cpu,
    }
    if spent:
        spent["rest"] = seconds - sum(spent.values())
        extra["phases"] = spent
    return Run(seconds, count[0], result.flagged, extra)


@contextmanager
def _nothing() -> Iterator[dict[str, float]]:
    yield {}


def written() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""SELECT (SELECT count(*) FROM commitments_statusupdate),
                                 (SELECT count(*) FROM tracker_alert),
                                 (SELECT count(*) FROM tracker_event)""")
        history, alerts, reminders = cursor.fetchone()
    return {"history": history, "overdue_alerts": alerts, "due_soon_alerts": reminders}


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class SizeResult:
    n: int
    bare: list[Run]
    first: list[Run]
    second: list[Run]
    counts: dict[str, int]
    traced_peak_mib: float
    rss_after_mib: float
    load_seconds: float
    load_average: tuple[float, float]


def measure(n: int, repeat: int, memory: bool) -> SizeResult:
    bare, first, second = [], [], []
    counts: dict[str, int] = {}
    busy = os.getloadavg()[0]
    start = time.perf_counter()
    load(n)
    load_seconds = time.perf_counter() - start
    print(f"  loading {n:,} milestones takes {load_seconds:.1f}s", flush=True)
    for i in range(repeat):
        if i:
            load(n)
        bare.append(bare_update())
        load(n)
        first.append(sweep_once(NOW, breakdown=True))
        counts = written()
        second.append(sweep_once(NOW + dt.timedelta(minutes=1)))
        _progress(n, i, bare[-1], first[-1], second[-1])
        if first[-1].rows != bare[-1].rows:
            raise SystemExit(
                f"N={n}: the sweep flagged {first[-1].rows}, "
                f"the bare UPDATE {bare[-1].rows}: not the same rows"
            )
    peak = float("nan")
    if memory:
        load(n)
        tracemalloc.start()
        sweep_once(NOW)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return SizeResult(
        n,
        bare,
        first,
        second,
        counts,
        peak / 2**20,
        max_rss_mib(),
        load_seconds,
        (busy, os.getloadavg()[0]),
    )


def _progress(n: int, i: int, bare: Run, first: Run, second: Run) -> None:
    print(
        f"  N={n:>9,} run {i + 1}: bare {bare.seconds:7.3f}s  sweep {first.seconds:7.3f}s "
        f"({first.seconds / bare.seconds:4.2f}x; CPU {bare.extra['cpu']:.2f}s/"
        f"{first.extra['cpu']:.2f}s = {first.extra['cpu'] / bare.extra['cpu']:4.2f}x)  "
        f"second sweep {second.seconds:6.3f}s  "
        f"WAL {bare.extra['wal'] / 2**20:,.0f}/{first.extra['wal'] / 2**20:,.0f} MiB  "
        f"phases {_fmt_phases(first.extra.get('phases', {}))}",
        flush=True,
    )


def _fmt_phases(spent: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}s" for k, v in spent.items())


def median(runs: list[Run], key: Callable[[Run], float] = lambda r: r.seconds) -> float:
    return statistics.median(key(r) for r in runs)


# --- Reporting ----------------------------------------------------------------------


def machine() -> dict[str, str]:
    from django.db import connection

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('server_version'), "
            "current_setting('shared_buffers'), current_setting('work_mem'), "
            "current_setting('synchronous_commit')"
        )
        version, buffers, work_mem, sync = cursor.fetchone()
    mem = next(
        line.split()[1]
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "CPU": f"{cpu}, {os.cpu_count()} cores (nproc)",
        "Memory": f"{int(mem) / 2**20:.1f} GiB",
        "PostgreSQL": f"{version} on 127.0.0.1 (shared_buffers {buffers}, work_mem "
        f"{work_mem}, synchronous_commit {sync})",
        "Python": f"{platform.python_version()}, Django {_django_version()}, "
        f"psycopg {_psycopg_version()}",
        "OS": f"{platform.system()} {platform.release()}",
        "Commit": HEAD,
    }


def _django_version() -> str:
    import django

    return django.get_version()


def _psycopg_version() -> str:
    import psycopg

    return psycopg.__version__


def _git_head() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "tracker", "commitments"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out + (" (tracker/ or commitments/ modified)" if dirty else "")


def table(results: list[SizeResult], repeat: int) -> str:
    lines = [
        "| N milestones | bare UPDATE | sweep | sweep ÷ bare | CPU: bare, sweep, ÷ "
        "| queries | peak traced memory | max RSS | second sweep | its queries |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        bare, first = median(r.bare), median(r.first)
        ratios = [f.seconds / b.seconds for b, f in zip(r.bare, r.first, strict=True)]
        cpu = [median(runs, lambda x: x.extra["cpu"]) for runs in (r.bare, r.first)]
        lines.append(
            f"| {r.n:,} | {bare:.3f} s | {first:.3f} s | **{first / bare:.2f}x** "
            f"({min(ratios):.2f}–{max(ratios):.2f}) "
            f"| {cpu[0]:.2f} s, {cpu[1]:.2f} s, **{cpu[1] / cpu[0]:.2f}x** "
            f"| {_median_queries(r.first)} | {_mib(r.traced_peak_mib)} "
            f"| {r.rss_after_mib:.0f} MiB | {median(r.second) * 1000:.0f} ms "
            f"| {_median_queries(r.second)} |"
        )
    lines += [
        "",
        f"Medians of {repeat} runs, each on freshly loaded data; times include the COMMIT. "
        "Sweep ÷ bare: the ratio of the medians (in brackets, the lowest and highest "
        "ratio of a sweep to the bare UPDATE of the same round). CPU: the CPU time of "
        "this process and its PostgreSQL backend (user + system; medians), which other "
        "work on the machine hardly changes, unlike wall time (WAL flushes and waits "
        "for a core are not in it). "
        "Queries: statements sent through Django's cursor. Peak traced memory: "
        "tracemalloc's peak during one more, untimed, sweep. Max RSS: the benchmark "
        "process's high-water mark after this N (sizes run smallest first). Second sweep: "
        "run a minute later on the swept data; it flags nothing and writes no alert.",
        "",
        "What each writes:",
        "",
        "| N milestones | rows flagged (both) | history rows | alerts "
        "| reminder events | rows written: bare, sweep | WAL written: bare, sweep |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        c, flagged = r.counts, r.first[0].rows
        total = flagged + c["history"] + c["overdue_alerts"] + c["due_soon_alerts"] + 1
        wal = [median(runs, lambda x: x.extra["wal"]) / 2**20 for runs in (r.bare, r.first)]
        lines.append(
            f"| {r.n:,} | {flagged:,} | {c['history']:,} | {c['overdue_alerts']:,} "
            f"| {c['due_soon_alerts']:,} | {flagged:,}, {total:,} "
            f"| {wal[0]:,.0f} MiB, {wal[1]:,.0f} MiB |"
        )
    lines += [
        "",
        'Where the sweep\'s time goes (medians, seconds; "flag+clear" is the '
        "chunks, each a locked read, the history rows' INSERT and the UPDATE; "
        '"commit" runs the deferred foreign-key checks and flushes the WAL):',
        "",
    ]
    names = list(results[0].first[0].extra["phases"]) if results else []
    lines.append("| N milestones | bare UPDATE (its commit) | " + " | ".join(names) + " |")
    lines.append("|---:|---:|" + "---:|" * len(names))
    for r in results:
        cells = [f"{statistics.median(x.extra['phases'][k] for x in r.first):.3f}" for k in names]
        bare_commit = median(r.bare, lambda x: x.extra["commit"])
        lines.append(
            f"| {r.n:,} | {median(r.bare):.3f} ({bare_commit:.3f}) | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "| N milestones | loading (INSERT … SELECT, VACUUM ANALYZE) "
        "| load average (1 min) at start, at end |",
        "|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.n:,} | {r.load_seconds:.1f} s "
            f"| {r.load_average[0]:.2f}, {r.load_average[1]:.2f} |"
        )
    return "\n".join(lines)


def _mib(value: float) -> str:
    return "not taken" if math.isnan(value) else f"{value:.2f} MiB"


def _median_queries(runs: list[Run]) -> int:
    return int(median(runs, lambda r: r.queries))


def report(results: list[SizeResult], repeat: int, triggers: str) -> str:
    info = machine()
    info["API change-counter triggers"] = triggers
    parts = [
        "# Sweep benchmark",
        "",
        f"Taken {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC "
        f"with `bench/sweep.py {' '.join(sys.argv[1:])}`.",
        "",
        *[f"- {k}: {v}" for k, v in info.items()],
        "",
        "Data: " + MIX,
        "",
        table(results, repeat),
        "",
    ]
    return "\n".join(parts)


def main() -> None:
    global HEAD
    args = parse_args()
    HEAD = _git_head()
    setup_django(args.server)
    tables = api_triggers(args.api_triggers)
    triggers = f"{args.api_triggers} ({len(tables)} tables)" if tables else "not installed"
    print(MIX, flush=True)
    print(f"API change-counter triggers: {triggers}", flush=True)
    results = []
    for n in args.sizes:
        print(f"N = {n:,}", flush=True)
        results.append(measure(n, args.repeat, args.memory))
    text = report(results, args.repeat, triggers)
    print()
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    raw = args.output.with_suffix(".json")
    raw.write_text(
        json.dumps(
            {"commit": HEAD, "triggers": triggers, "results": [asdict(r) for r in results]},
            indent=1,
        )
    )
    print(f"Written to {args.output} (every run: {raw.name})")


if __name__ == "__main__":
    main()
