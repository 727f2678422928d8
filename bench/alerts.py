#!/usr/bin/env python
"""Deadline to inbox, through the shipped pipeline: a real Celery worker on Redis runs
the sweep, dispatch and delivery tasks; aiosmtpd and an HTTP receiver listen in
processes of their own. PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379.

1. Deadline to inbox: N confirmed subscribers (10,000) to an agreement whose
   milestone's deadline has passed. Measured from queuing the sweep task until the
   SMTP server has accepted the N-th message. The limit, in the same run: the same N
   messages, rendered beforehand, sent by a minimal loop (``get_connection()`` and
   ``send_messages`` in batches of 100). Target: at most 1.3x the limit.
2. Webhooks: 10 endpoints on the same agreement, alone and beside the N subscribers:
   from queuing the sweep until the last webhook arrives. Target: about a second,
   whatever N.
3. An empty sweep (nothing due) at 0, 10,000 and 100,000 subscriptions, in process.
   Target: flat, at most 2x the sweep with no subscription.

    .venv/bin/python bench/alerts.py            # about 3 minutes
    .venv/bin/python bench/alerts.py --emails 2000 --repeat 1

The lines starting SUMMARY are the figures bench/README.md records.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = os.environ.get("BENCH_ALERTS_DB", "tracker_bench_alerts")
BROKER = os.environ.get("BENCH_ALERTS_BROKER", "redis://127.0.0.1:6379/12")
HOOKS = 10

# Each prints "<monotonic time>" on a line per message or request it takes.
SMTP_SINK = """
import socket, sys, time
from aiosmtpd.controller import Controller
class Sink:
    async def handle_DATA(self, server, session, envelope):
        print(time.time(), flush=True)
        return "250 OK"
with socket.socket() as s:  # a free port (aiosmtpd checks its own by connecting)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
c = Controller(Sink(), hostname="127.0.0.1", port=port)
c.start()
print(port, flush=True)
sys.stdin.read()
"""
HTTP_SINK = """
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204)
        self.end_headers()
        print(time.time(), flush=True)
    def log_message(self, *a):
        pass
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


class Sink:
    """A server in a process of its own, and the times it took things at."""

    def __init__(self, code: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.times: list[float] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.times.append(float(line))

    def wait(self, count: int, timeout: float) -> float:
        """The time the ``count``-th thing arrived (since the last ``reset``)."""
        deadline = time.time() + timeout
        while len(self.times) < count:
            if time.time() > deadline:
                raise TimeoutError(f"{len(self.times)} of {count} arrived in {timeout} s")
            time.sleep(0.01)
        return self.times[count - 1]

    def reset(self) -> None:
        self.times = []

    def stop(self) -> None:
        self.proc.terminate()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--empty-sizes", default="0,10000,100000")
    parser.add_argument(
        "--server", default=os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
    )
    return parser.parse_args()


def setup(server: str, smtp_port: int) -> dict[str, str]:
    """Django in this process, and the environment the worker gets: the same."""
    os.environ.update(
        CELERY_BROKER_URL=BROKER,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        TRACKER_WEBHOOK_ALLOW_PRIVATE="true",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    from bench.common import setup_django

    setup_django(server, DB_NAME, "bench-alerts-")
    return dict(os.environ)


def fresh(readers: int, hooks: int, hook_port: int) -> None:
    """One milestone whose deadline passed two days ago; ``readers`` confirmed
    subscribers to its agreement and ``hooks`` webhook endpoints. Nothing swept."""
    from django.db import connection

    from commitments.models import Agreement, Commitment, Milestone
    from commitments.services import refresh_deadlines
    from tracker.alerts import webhooks
    from tracker.models import Subscription, WebhookEndpoint

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE commitments_statusupdate, tracker_alert, tracker_event, tracker_sweeprun, "
            "tracker_webhookattempt, tracker_webhookendpoint, tracker_subscription, "
            "tracker_optout, tracker_dispatchcursor, commitments_milestone, "
            "commitments_commitment, commitments_agreement CASCADE"
        )
    agreement = Agreement.objects.create(
        slug="bench",
        title="Benchmark",
        short_name="B",
        time_zone="UTC",
        signed_on=dt.date(2026, 1, 1),
    )
    commitment = Commitment.objects.create(
        agreement=agreement, key="c", title="Commitment", category="investment"
    )
    Milestone.objects.create(
        commitment=commitment,
        key="m",
        title="A milestone gone overdue",
        rule_kind="fixed",
        rule_fixed_date=dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2),
    )
    refresh_deadlines(agreement)
    Subscription.objects.bulk_create(
        Subscription(email=f"reader{i:05}@example.org", agreement=agreement, kinds=["overdue"])
        for i in range(readers)
    )
    WebhookEndpoint.objects.bulk_create(
        WebhookEndpoint(
            name=f"hook {i}",
            url=f"http://127.0.0.1:{hook_port}/h{i}",
            secret=webhooks.new_secret(),
            kinds=["overdue"],
        )
        for i in range(hooks)
    )


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    from config.celery import app

    app.control.purge()
    worker = subprocess.Popen(
        [str(ROOT / ".venv/bin/celery"), "-A", "config", "worker", "--concurrency", "2",
         "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 60
    while not app.control.ping(timeout=0.5):
        if time.time() > deadline:
            raise RuntimeError("the Celery worker did not start")
    return worker


def pipeline(readers: int, smtp: Sink, http: Sink) -> tuple[float, float]:
    """Seconds from queuing the sweep to the last email, and to the last webhook."""
    from tracker.alerts.tasks import sweep_deadlines

    fresh(readers, HOOKS, http.port)
    smtp.reset()
    http.reset()
    start = time.time()
    sweep_deadlines.delay()
    hooks = http.wait(HOOKS, timeout=600) - start
    inbox = smtp.wait(readers, timeout=600) - start if readers else 0.0
    return inbox, hooks


def minimal_loop(smtp: Sink) -> float:
    """The limit: the pipeline's messages, rendered beforehand, sent in batches of 100
    with Django's public API and nothing else."""
    from django.core.mail import get_connection
    from django.utils import timezone

    from tracker.alerts import emails
    from tracker.models import Alert

    now, rendered = timezone.now(), {}
    alerts = Alert.objects.filter(channel="email").select_related(
        "event", "milestone__commitment__agreement"
    )
    messages = [emails.alerts_message(a.recipient, [a], now=now, rendered=rendered) for a in alerts]
    smtp.reset()
    start = time.time()
    for i in range(0, len(messages), 100):
        with get_connection() as connection:
            connection.send_messages(messages[i : i + 100])
    return smtp.wait(len(messages), timeout=600) - start


def empty_sweep(sizes: list[int]) -> dict[int, float]:
    from commitments.models import Agreement
    from tracker.alerts import sweep
    from tracker.models import Subscription

    seconds = {}
    for n in sizes:
        fresh(0, 0, 0)
        agreement_id = Agreement.objects.get().pk
        Subscription.objects.bulk_create(
            (
                Subscription(
                    email=f"r{i}@example.org", agreement_id=agreement_id, lead_days=[i % 7 + 1]
                )
                for i in range(n)
            ),
            batch_size=5000,
        )
        sweep.run()  # flags the milestone: later runs find nothing to do
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            sweep.run()
            runs.append(time.perf_counter() - start)
        seconds[n] = statistics.median(runs)
    return seconds


def main() -> None:
    args = parse_args()
    smtp, http = Sink(SMTP_SINK), Sink(HTTP_SINK)
    env = setup(args.server, smtp.port)
    print(f"load average before: {os.getloadavg()}", flush=True)
    worker = start_worker(env)
    runs: dict[str, list[float]] = {"inbox": [], "limit": [], "hooks_beside": [], "hooks_alone": []}
    try:
        for _ in range(args.repeat):
            inbox, hooks = pipeline(args.emails, smtp, http)
            runs["inbox"].append(inbox)
            runs["hooks_beside"].append(hooks)
            runs["limit"].append(minimal_loop(smtp))
            runs["hooks_alone"].append(pipeline(0, smtp, http)[1])
    finally:
        worker.terminate()
        worker.wait()
        smtp.stop()
        http.stop()
    med = {k: statistics.median(v) for k, v in runs.items()}
    for key, values in runs.items():
        print(f"{key}: " + ", ".join(f"{v:.2f} s" for v in values))
    ratio = med["inbox"] / med["limit"]
    print(
        f"SUMMARY deadline to inbox: {args.emails:,} emails in {med['inbox']:.1f} s; the minimal "
        f"loop {med['limit']:.1f} s; ratio {ratio:.2f}x (target <= 1.30x); medians of {args.repeat}"
    )
    print(
        f"SUMMARY webhooks: the last of {HOOKS} endpoints {med['hooks_alone']:.2f} s after the "
        f"sweep alone, {med['hooks_beside']:.2f} s beside {args.emails:,} email subscribers"
    )
    sizes = [int(s) for s in args.empty_sizes.split(",")]
    empty = empty_sweep(sizes)
    base = empty[sizes[0]] or 1e-9
    print(
        "SUMMARY empty sweep: "
        + ", ".join(
            f"{n:,} subscriptions {s * 1000:.0f} ms ({s / base:.2f}x)" for n, s in empty.items()
        )
        + " (target: flat, <= 2x)"
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
