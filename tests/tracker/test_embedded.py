"""The embedded default, end to end: no DATABASE_URL and no CELERY_BROKER_URL, so SQLite
and Kombu's filesystem broker in TRACKER_VAR_DIR, with a worker and beat started as
`make run` starts them. A deadline already past produces the flag and the email by
itself, within a few sweep intervals.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from contextlib import closing

import pytest

from .conftest import CELERY, process_env, wait_until

pytestmark = [pytest.mark.celery, pytest.mark.smtp]

INTERVAL = 2  # seconds, for both the sweep and delivery
# The ministerial's deadline moved to two days ago in Tokyo: past, whatever the date.
SETUP = """
import datetime as dt
from django.utils import timezone
from commitments import deadlines
from commitments.deadlines import DeadlineRule, RuleKind
from commitments.models import Milestone
from commitments.services import milestone_revise_deadline
from tracker.models import Subscription

m = Milestone.objects.select_related("commitment__agreement").get(key="ministerial-convened")
due = deadlines.local_today(timezone.now(), m.time_zone()) - dt.timedelta(days=2)
milestone_revise_deadline(milestone=m, rule=DeadlineRule(kind=RuleKind.FIXED, fixed_date=due),
                          reason="Test: a deadline already past", source="tests", by=None)
Subscription.objects.create(email="newsroom@example.org", milestone=m)
print(due.isoformat())
"""


EVENTS_SQL = (
    "SELECT count(*) FROM commitments_statusupdate u JOIN commitments_milestone m "
    "ON m.id = u.milestone_id WHERE u.kind = 'overdue_flagged' AND m.key = 'ministerial-convened'"
)


def scalar(db: str, sql: str) -> object:
    """One value from the worker's SQLite database, read-only (and closed: sqlite3's own
    context manager only commits)."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        return conn.execute(sql).fetchone()[0]


def test_the_embedded_default_flags_and_emails_by_itself(processes, smtp_server, tmp_path):
    var = tmp_path / "var"
    for folder in ("queue", "processed"):  # as scripts/run makes them
        (var / "broker" / folder).mkdir(parents=True)
    env = process_env(
        TRACKER_VAR_DIR=str(var),
        SECRET_KEY="embedded-test-key",
        TRACKER_SWEEP_INTERVAL=str(INTERVAL),
        TRACKER_DELIVERY_INTERVAL=str(INTERVAL),
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_server.port),
    )
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "EMAIL_BACKEND"):
        env.pop(name, None)
    manage = [sys.executable, "manage.py"]
    processes.run([*manage, "migrate", "--no-input", "-v", "0"], env)
    processes.run([*manage, "load_agreements"], env)
    due = processes.run([*manage, "shell", "-c", SETUP], env).strip().splitlines()[-1]
    db = str(var / "tracker.sqlite3")
    flag_sql = "SELECT overdue_since FROM commitments_milestone WHERE key='ministerial-convened'"
    assert scalar(db, flag_sql) is None

    started = time.monotonic()
    processes.start(
        "worker",
        [CELERY, "-A", "config", "worker", "--concurrency", "1", "--loglevel", "INFO"],
        env,
    )
    processes.start("beat", [CELERY, "-A", "config", "beat", "--loglevel", "INFO"], env)

    def logs() -> str:
        return f"worker:\n{processes.log('worker')}\nbeat:\n{processes.log('beat')}"

    wait_until(lambda: scalar(db, flag_sql), timeout=60, what=f"the flag\n{logs()}")
    flagged_after = time.monotonic() - started
    wait_until(lambda: smtp_server.messages, timeout=30, what=f"the email\n{logs()}")
    emailed_after = time.monotonic() - started
    # Two more sweeps and deliveries: still the one email, and the one event.
    sweeps = scalar(db, "SELECT count(*) FROM tracker_sweeprun")
    wait_until(
        lambda: scalar(db, "SELECT count(*) FROM tracker_sweeprun") >= sweeps + 2,
        timeout=30,
        what=f"two more sweeps\n{logs()}",
    )
    sweeps = scalar(db, "SELECT count(*) FROM tracker_sweeprun")
    events = scalar(db, EVENTS_SQL)
    print(
        f"\n[embedded] flagged {flagged_after:.1f} s and emailed {emailed_after:.1f} s after "
        f"worker and beat started (interval {INTERVAL} s); {sweeps} sweeps, {events} "
        f"overdue_flagged event(s), emails {smtp_server.subjects()}"
    )
    assert smtp_server.subjects() == [
        f"OVERDUE: Mining, Minerals and Metals Investment Ministerial (due {due})"
    ]
    assert events == 1
    assert (var / "broker" / "control").is_dir()  # Kombu's exchange table stays in var/
