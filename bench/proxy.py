"""Proxy benchmark: nginx's micro-cache (deploy/nginx/tracker.conf) beside nginx serving
the same bytes as a static file, and beside a bare Django view. Not a test: it prints
figures for bench/README.md.

    .venv/bin/python bench/proxy.py [--duration 10] [--workers 2] [--port-base 19400]

Uses the PostgreSQL database ``tracker_bench_proxy`` (``BENCH_DATABASE`` names another;
created, migrated and loaded with the shipped agreements), Redis db 11 for the cache
(``BENCH_CACHE_URL``), ports the system picks (``--port-base N``: N, N+1, N+2),
gunicorn with deploy/gunicorn.conf.py and bench.settings (the product plus /bench/bare/),
nginx on loopback with the deploy/ configuration over TLS, and wrk (-t2 -c50). Cases, run
one after the other in one run:

    through nginx: /api/v1/status/ 200 and 304, /api/v1/milestones/?page_size=100 200
    and 304 (anonymous, so served by the micro-cache)
    the same bytes as static files from nginx (200 and 304): the limit
    the bare Django view, gunicorn directly: what one uncached Django answer costs

and the time a change takes to be seen through the cache (a PATCH, then polls).

Throughput ratios on a shared 2-core machine move by +-0.15 between rounds, so nginx's
own work per answer is also counted in instructions (``--instructions N``, default
2,000; 0 skips it): a second nginx with the same configuration, one process under
``valgrind --tool=callgrind``, N requests of each case on one keep-alive connection
after a warm-up, its counters zeroed before and dumped after (``callgrind_control``).
Instructions do not depend on the load; they leave out the kernel and the TLS records'
sizes, which are the same on both sides but for the headers.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import PG, ensure_wrk, machine, run_wrk  # noqa: E402
from tests.deploy.stack import (  # noqa: E402
    Nginx,
    get,
    gunicorn_command,
    https,
    nginx_binary,
    wait_for,
)

DB_NAME = os.environ.get("BENCH_DATABASE", "tracker_bench_proxy")
VAR = Path(tempfile.mkdtemp(prefix="tracker-bench-proxy-"))
ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "DATABASE_URL": f"{PG}/{DB_NAME}",
    "CACHE_URL": os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/11"),
    "SECRET_KEY": "bench-only-secret-0123456789-0123456789-0123456789",
    "ALLOWED_HOSTS": "tracker.test,127.0.0.1,localhost",
    "API_ANON_RATE": "100000000/min",
    "API_NUM_PROXIES": "1",
    "TRUSTED_PROXIES": "127.0.0.1",
    "HTTPS_ONLY": "true",
    "LOG_LEVEL": "WARNING",
    "TRACKER_VAR_DIR": str(VAR),
}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(master_pid: int) -> float:
    """CPU time (user + system) nginx's worker processes have used so far: per request,
    what an answer costs nginx itself, which the load of other jobs on a shared machine
    disturbs less than the throughput does."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == master_pid and b"worker process" in cmdline:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def count_instructions(
    binary: str, upstream: str, static_root: Path, cases: list, requests: int
) -> dict[str, float]:
    """nginx's instructions per answer for each case (see the module's docstring)."""
    vg = Nginx(VAR / "nginx-callgrind", free_port(), free_port(), [upstream], static_root)
    out = VAR / "callgrind.out"
    vg.start(
        binary,
        prefix=["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"],
        directives="master_process off;",
    )
    assert vg.proc
    counted: dict[str, float] = {}
    try:
        wait_for(lambda: get(https("127.0.0.1", vg.https_port, 5), "/healthz")[0] == 200,
                 120, "nginx under callgrind")  # fmt: skip
        conn = https("127.0.0.1", vg.https_port, 60)
        for number, (label, url, headers) in enumerate(cases, 1):
            path = path_of(url)
            expected = {304 if "If-None-Match" in headers else 200}
            warm = {get(conn, path, headers)[0] for _ in range(50)}
            assert warm == expected, (label, warm)
            pid = str(vg.proc.pid)
            subprocess.run(["callgrind_control", "--zero", pid], check=True, capture_output=True)
            codes = {get(conn, path, headers)[0] for _ in range(requests)}
            assert codes == expected, (label, codes, expected)
            subprocess.run(["callgrind_control", f"--dump={number}", pid], check=True,
                           capture_output=True)  # fmt: skip
            dump = Path(f"{out}.{number}")
            # "totals:" is the dump's last line: there, the file is whole.
            wait_for(lambda d=dump: "\ntotals:" in d.read_text(), 30, "the callgrind dump")
            summary = next(
                line for line in dump.read_text().splitlines() if line.startswith("summary:")
            )
            counted[label] = int(summary.split()[1]) / requests
    finally:
        vg.stop()
    return counted


def prepare_database() -> str:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    os.environ.update(ENV)
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from knox.models import AuthToken

    from commitments.loader import load_agreements
    from commitments.permissions import EDITORS

    call_command("migrate", verbosity=0)
    load_agreements()
    call_command("collectstatic", "--no-input", verbosity=0)
    user, _ = User.objects.get_or_create(username="bench-editor")
    user.groups.add(Group.objects.get(name=EDITORS))
    return AuthToken.objects.create(user=user)[1]


def visible_after(conn, token: str) -> float:
    """Seconds from a PATCH's answer until an anonymous poll through nginx sees it."""
    from commitments.models import Milestone

    _, before, _ = get(conn, "/api/v1/status/")
    m = Milestone.objects.order_by("pk").first()
    status = "at_risk" if m.status != "at_risk" else "in_progress"
    code, _, body = get(
        conn, f"/api/v1/milestones/{m.pk}/",
        {"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="PATCH", body=f'{{"status": "{status}"}}'.encode(),
    )  # fmt: skip
    assert code == 200, body
    start = time.monotonic()
    while time.monotonic() - start < 10:
        _, headers, _ = get(conn, "/api/v1/status/")
        if headers["etag"] != before["etag"]:
            return time.monotonic() - start
        time.sleep(0.02)
    return float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--instructions", type=int, default=2000,
        help="requests per case counted under callgrind (0: skip)",
    )  # fmt: skip
    parser.add_argument(
        "--port-base", type=int, default=0,
        help="gunicorn on this port, nginx on the next two (default: free ports)",
    )  # fmt: skip
    args = parser.parse_args()
    ports = (
        [args.port_base, args.port_base + 1, args.port_base + 2]
        if args.port_base
        else [free_port(), free_port(), free_port()]
    )
    wrk = ensure_wrk()
    binary = nginx_binary()
    assert binary, "nginx is needed (scripts/ensure-nginx)"
    load_before = os.getloadavg()
    (VAR / "broker" / "queue").mkdir(parents=True)  # the embedded broker's folders
    (VAR / "broker" / "processed").mkdir(parents=True)
    token = prepare_database()
    web_port = ports[0]
    env = {
        **os.environ,
        **ENV,
        "GUNICORN_BIND": f"127.0.0.1:{web_port}",
        "WEB_WORKERS": str(args.workers),
        "PROMETHEUS_MULTIPROC_DIR": str(VAR / "prometheus"),
    }
    web = subprocess.Popen(
        gunicorn_command(workers=args.workers), cwd=ROOT, env=env, start_new_session=True
    )
    static_root = VAR / "static"
    nginx = Nginx(VAR / "nginx", ports[1], ports[2], [f"127.0.0.1:{web_port}"], static_root)
    results = []
    try:
        nginx.start(binary)
        wait_for(lambda: get(https("127.0.0.1", nginx.https_port, 2), "/healthz")[0] == 200,
                 30, "nginx and gunicorn")  # fmt: skip
        conn = https("127.0.0.1", nginx.https_port)
        base = f"https://127.0.0.1:{nginx.https_port}"
        host = {"Host": "tracker.test"}
        cases = []
        (static_root / "bench").mkdir(exist_ok=True)
        for name, path in [
            ("status", "/api/v1/status/"),
            ("milestones page", "/api/v1/milestones/?page_size=100"),
        ]:
            code, headers, body = get(conn, path)
            assert code == 200
            static_path = f"/static/bench/{name.replace(' ', '-')}.json"
            (static_root / static_path.removeprefix("/static/")).write_bytes(body)
            _, static_headers, same = get(conn, static_path)
            assert same == body
            cases.append((f"{name} through nginx (200, {len(body)} B)", base + path, {}))
            cases.append((f"  {name}, same bytes, static file (200)", base + static_path, {}))
            etag = headers["etag"]
            assert get(conn, path, {"If-None-Match": etag})[0] == 304
            cases.append((f"{name} through nginx (304)", base + path, {"If-None-Match": etag}))
            cases.append(
                (f"  {name}, same bytes, static file (304)", base + static_path,
                 {"If-None-Match": static_headers["etag"]})
            )  # fmt: skip
        bare = (
            "bare Django view, gunicorn directly",
            f"http://127.0.0.1:{web_port}/bench/bare/",
            {},
        )
        # Each case beside its static file, alternated over --rounds rounds; the best
        # round of each counts (the machine is shared: a burst of someone else's load
        # should not decide a ratio). nginx's CPU time per answer: the least of the rounds.
        best: dict[str, dict[str, float]] = {}
        cpu_us: dict[str, float] = {}
        for _ in range(args.rounds):
            for label, url, headers in cases:
                cpu_before = cpu_seconds(nginx.proc.pid)
                result = run_wrk(wrk, url, {**host, **headers}, args.duration)
                # Still the answer the case is about (a 304 case that got 200s would
                # measure the wrong thing, and wrk counts both as good).
                status = get(conn, path_of(url), headers)[0]
                assert status == (304 if "If-None-Match" in headers else 200), (label, status)
                used = (cpu_seconds(nginx.proc.pid) - cpu_before) * 1e6
                per_answer = used / (result["rps"] * args.duration)
                cpu_us[label] = min(cpu_us.get(label, per_answer), per_answer)
                if label not in best or result["rps"] > best[label]["rps"]:
                    best[label] = result
                print(f"  {label}: {result['rps']:.0f} req/s, nginx {per_answer:.1f} µs CPU "
                      "an answer", flush=True)  # fmt: skip
        results = [(label, best[label]) for label, _, _ in cases]
        bare_result = run_wrk(wrk, bare[1], {"Host": "127.0.0.1"}, args.duration)
        print(f"  {bare[0]}: {bare_result['rps']:.0f} req/s", flush=True)
        instructions = {}
        if args.instructions:
            upstream = f"127.0.0.1:{web_port}"
            instructions = count_instructions(
                binary, upstream, static_root, cases, args.instructions
            )
        seen = [visible_after(https("127.0.0.1", nginx.https_port), token) for _ in range(5)]
    finally:
        nginx.stop()
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)

    load_after = os.getloadavg()
    print(f"\nMachine: {machine()}")
    print("Load average before: " + ", ".join(f"{x:.2f}" for x in load_before)
          + "; after: " + ", ".join(f"{x:.2f}" for x in load_after))  # fmt: skip
    print(f"nginx (1 worker, TLS 1.3, keepalive), gunicorn {args.workers} gthread workers x 4 "
          f"threads; wrk -t2 -c50 -d{args.duration}s; best of {args.rounds} rounds\n")  # fmt: skip
    print(f"| {'answer':<48} | {'req/s':>7} | {'p50 ms':>7} | {'p99 ms':>7} | {'x static':>8} "
          f"| {'x bare view':>11} | {'nginx us':>8} | {'x static':>8} |")  # fmt: skip
    print(f"|{'-' * 50}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 10}|{'-' * 13}|{'-' * 10}|{'-' * 10}|")
    for i, (label, r) in enumerate(results):
        static = results[i + 1][1] if i % 2 == 0 else r
        ratio = f"{r['rps'] / static['rps']:.2f}" if i % 2 == 0 else ""
        cpu = cpu_us[label]
        cpu_ratio = f"{cpu_us[results[i + 1][0]] / cpu:.2f}" if i % 2 == 0 else ""
        flag = f" ({r['bad']} bad)" if r["bad"] else ""
        print(f"| {label + flag:<48} | {r['rps']:>7.0f} | {r['p50']:>7.2f} | {r['p99']:>7.2f} "
              f"| {ratio:>8} | {r['rps'] / bare_result['rps']:>11.2f} | {cpu:>8.1f} "
              f"| {cpu_ratio:>8} |")  # fmt: skip
    print(f"| {bare[0]:<48} | {bare_result['rps']:>7.0f} | {bare_result['p50']:>7.2f} "
          f"| {bare_result['p99']:>7.2f} | {'':>8} | {1:>11.2f} | {'':>8} | {'':>8} |")  # fmt: skip
    print(
        "\n(nginx us: CPU time of nginx's worker per answer, the least of the rounds; "
        "x static: the static file's over the case's, as a throughput ratio)"
    )
    if instructions:
        print(f"\nnginx's instructions per answer (callgrind, {args.instructions} requests a "
              "case, one keep-alive TLS connection):\n")  # fmt: skip
        print(f"| {'answer':<48} | {'instructions':>12} | {'x static':>8} |")
        print(f"|{'-' * 50}|{'-' * 14}|{'-' * 10}|")
        for i, (label, _) in enumerate(results):
            ratio = (
                f"{instructions[results[i + 1][0]] / instructions[label]:.2f}" if i % 2 == 0 else ""
            )
            print(f"| {label:<48} | {instructions[label]:>12,.0f} | {ratio:>8} |")
    print("\nA change seen through the cache after (5 PATCHes): "
          + ", ".join(f"{s:.2f} s" for s in seen))  # fmt: skip


if __name__ == "__main__":
    main()
