#!/usr/bin/env python
"""Benchmark of alert delivery (tracker.alerts.delivery.deliver) on PostgreSQL.

1. Email: N alerts (one milestone gone overdue, N readers subscribed to it, so N
   messages) delivered by ``deliver()`` to an aiosmtpd server on loopback, against the
   limit: raw ``smtplib`` sending the very same messages (rendered beforehand) over
   one connection. Target: ours ≥ 0.8× the limit's rate.
2. Webhooks: M alerts to M endpoints of a loopback HTTP receiver (204, no checking),
   signed and logged as in production: deliveries per second.

The SMTP server and the HTTP receiver run in processes of their own, so that they do
not share the sender's interpreter lock. Wall times are medians of ``--repeat`` runs.

    .venv/bin/python bench/delivery.py                 # 10,000 emails, 1,000 webhooks
    .venv/bin/python bench/delivery.py --webhooks 0 --port 19200   # email only

The last line printed is a one-line summary with the ratio.

Needs PostgreSQL on 127.0.0.1:5432; the database (BENCH_DELIVERY_DB, default
tracker_bench_delivery) is created if missing and migrated; its contents are thrown
away. Figures: bench/README.md ("Alerts").
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = os.environ.get("BENCH_DELIVERY_DB", "tracker_bench_delivery")
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)

SMTP_SERVER = """
import socket, sys
from aiosmtpd.controller import Controller
class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
port = int(sys.argv[1])
if not port:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
c = Controller(Sink(), hostname="127.0.0.1", port=port)
c.start()
print(port, flush=True)
sys.stdin.read()
"""

HTTP_SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
s = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--webhooks", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="the SMTP server's port (the HTTP receiver's is the next); default: any free",
    )
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432"),
    )
    return parser.parse_args()


def setup_django(server: str) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.common import setup_django as setup

    setup(server, DB_NAME, "bench-delivery-")


def start(code: str, port: int) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def fresh(readers: int, endpoints: int, hook_port: int) -> None:
    """One overdue milestone; ``readers`` subscribers and ``endpoints`` webhook
    endpoints; swept and dispatched, so that ``readers + endpoints`` alerts wait."""
    from django.conf import settings
    from django.db import connection

    from commitments.models import Agreement, Commitment, Milestone
    from commitments.services import refresh_deadlines
    from tracker.alerts import dispatch, sweep, webhooks
    from tracker.models import Subscription, WebhookEndpoint

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE commitments_statusupdate, tracker_alert, tracker_event, "
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
        rule_fixed_date=dt.date(2026, 5, 1),
    )
    refresh_deadlines(agreement)
    Subscription.objects.bulk_create(
        Subscription(
            email=f"reader{i:05}@example.org", milestone=Milestone.objects.get(), kinds=["overdue"]
        )
        for i in range(readers)
    )
    settings.TRACKER_WEBHOOK_ALLOW_PRIVATE = True
    WebhookEndpoint.objects.bulk_create(
        WebhookEndpoint(
            name=f"hook {i}",
            url=f"http://127.0.0.1:{hook_port}/h{i}",
            secret=webhooks.new_secret(),
            kinds=["overdue"],
        )
        for i in range(endpoints)
    )
    sweep.run(now=NOW)
    dispatch.run(now=NOW)


def ours(channel: str) -> tuple[float, int]:
    from tracker.alerts import delivery
    from tracker.models import Alert

    other = "webhook" if channel == "email" else "email"
    Alert.objects.filter(channel=other).update(skipped=True)  # measure one channel
    start = time.perf_counter()
    result = delivery.deliver(batch_size=500)
    seconds = time.perf_counter() - start
    return seconds, result.emails if channel == "email" else result.webhooks


def raw_smtplib(port: int) -> tuple[float, int]:
    """The limit: the same messages, rendered beforehand, over one SMTP connection."""
    import smtplib
    from collections import defaultdict

    from django.utils import timezone

    from tracker.alerts import emails
    from tracker.models import Alert

    by_recipient = defaultdict(list)
    for a in Alert.objects.filter(channel="email").select_related(
        "event", "milestone__commitment__agreement"
    ):
        by_recipient[a.recipient].append(a)
    messages = [
        emails.alerts_message(r, items, now=timezone.now()).message().as_bytes(linesep="\r\n")
        for r, items in by_recipient.items()
    ]
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for recipient, message in zip(by_recipient, messages, strict=True):
            smtp.sendmail("tracker@localhost", [recipient], message)
    return time.perf_counter() - start, len(messages)


def main() -> None:
    args = parse_args()
    setup_django(args.server)
    from django.conf import settings

    print(f"load average before: {os.getloadavg()}", flush=True)
    smtp, smtp_port = start(SMTP_SERVER, args.port)
    http, http_port = start(HTTP_SERVER, args.port + 1 if args.port else 0)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    runs: dict[str, list[float]] = {"ours": [], "raw": [], "hooks": []}
    counts: dict[str, int] = {}
    try:
        for _ in range(args.repeat):
            fresh(args.emails, 0, http_port)
            seconds, n = raw_smtplib(smtp_port)
            runs["raw"].append(seconds)
            counts["raw"] = n
            seconds, n = ours("email")
            runs["ours"].append(seconds)
            counts["ours"] = n
            if args.webhooks:
                fresh(0, args.webhooks, http_port)
                seconds, n = ours("webhook")
                runs["hooks"].append(seconds)
                counts["hooks"] = n
    finally:
        smtp.terminate()
        http.terminate()
    raw, our = statistics.median(runs["raw"]), statistics.median(runs["ours"])
    print(f"load average after: {os.getloadavg()}")
    print("| messages | raw smtplib, one connection | deliver() | ours ÷ limit (rate) |")
    print("|---:|---:|---:|---:|")
    print(
        f"| {counts['ours']:,} | {raw:.2f} s ({counts['raw'] / raw:,.0f}/s) "
        f"| {our:.2f} s ({counts['ours'] / our:,.0f}/s) | **{raw / our:.2f}x** |"
    )
    print(f"runs: raw {runs['raw']}, ours {runs['ours']}")
    if args.webhooks:
        hooks = statistics.median(runs["hooks"])
        print(
            f"webhooks: {counts['hooks']:,} deliveries in {hooks:.2f} s = "
            f"{counts['hooks'] / hooks:,.0f} deliveries/s (runs {runs['hooks']})"
        )
    print(
        f"SUMMARY delivery: {counts['ours']:,} emails, deliver() {counts['ours'] / our:,.0f}/s, "
        f"raw smtplib {counts['raw'] / raw:,.0f}/s, ratio {raw / our:.2f}x (target >= 0.80x), "
        f"medians of {args.repeat}; load {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
