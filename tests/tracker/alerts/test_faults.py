"""Faults, each with the real thing: PostgreSQL, Redis, an SMTP server, worker processes.

Every test prints what it counted (run pytest with -s to see it) and asserts on the
same numbers, so a failure names them too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import time_machine
from celery.signals import before_task_publish
from django.contrib.auth.models import User
from django.db import connection, connections, transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from commitments.models import Agreement, Commitment, LogEntry, Milestone, Status, StatusUpdate
from commitments.services import milestone_set_status, refresh_deadlines
from tests.conftest import Inbox, free_port
from tests.factories import AgreementFactory, CommitmentFactory
from tests.tracker.conftest import (
    CELERY,
    database_url_for_subprocess,
    forget_queue,
    process_env,
    wait_until,
    worker_in_thread,
)
from tests.tracker.receiver import Receiver
from tracker.alerts import delivery, dispatch, sweep, tasks
from tracker.alerts.webhooks import new_secret
from tracker.models import Alert, Subscription, SweepRun, WebhookEndpoint

AFTER = dt.datetime(2026, 4, 27, 0, 0, tzinfo=dt.UTC)  # the ministerial is a day overdue
EVIDENCE = "https://example.org/evidence"
OVERDUE_FLAGGED = StatusUpdate.Kind.OVERDUE_FLAGGED


def require_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("about PostgreSQL's row locks and concurrent writers; the suite is on SQLite")


def duplicates(queryset, *fields: str) -> int:
    """Rows beyond the first for each value of ``fields``."""
    groups = queryset.values(*fields).annotate(n=Count("id")).filter(n__gt=1)
    return sum(g["n"] - 1 for g in groups)


# --- a. A status change whose transaction rolls back -----------------------------


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_status_change_queues_and_sends_nothing(
    ministerial, alice, smtp_server, django_capture_on_commit_callbacks
):
    Subscription.objects.create(email="newsroom@example.org", milestone=ministerial)
    rung: list[str] = []

    def count_publish(sender=None, **kwargs) -> None:
        rung.append(sender)

    before_task_publish.connect(count_publish, weak=False)
    try:
        # A real (outermost) transaction: the test database is not wrapped in one.
        with pytest.raises(RuntimeError), transaction.atomic():
            with django_capture_on_commit_callbacks() as waiting:
                milestone_set_status(
                    milestone=ministerial, status=Status.COMPLETED, by=alice, evidence_url=EVIDENCE
                )
            # The history row (the outbox) written, and the doorbell waiting for the
            # commit; then all undone.
            assert dispatch.undispatched() == 1 and len(waiting) == 1
            raise RuntimeError("the request fails after the change")
    finally:
        before_task_publish.disconnect(count_publish)
    result = delivery.deliver()
    ministerial.refresh_from_db()
    counts = (Alert.objects.count(), len(rung), result.emails, len(smtp_server.messages))
    print(
        f"\n[rollback] inside the transaction: 1 history row, {len(waiting)} doorbell waiting; "
        f"after the rollback: alert rows {counts[0]}, deliveries queued {counts[1]}, "
        f"emails sent {counts[2]}, messages at the SMTP server {counts[3]}"
    )
    assert counts == (0, 0, 0, 0), counts
    assert ministerial.status == Status.NOT_STARTED and not StatusUpdate.objects.exists()


# --- b. Staff completing a milestone while the sweep flags it, 500 times ----------

RACES = 500


def _race(
    rounds: int,
    prepare: Callable[[int], Any],
    act: Callable[[int, Any], None],
    barrier: threading.Barrier,
    errors: list[BaseException],
) -> None:
    """For each round: ``prepare(i)``, wait for the other thread, ``act(i, prepared)``,
    wait again. The first error is kept and breaks the barrier for both."""
    try:
        for i in range(rounds):
            prepared = prepare(i)
            barrier.wait()
            act(i, prepared)
            barrier.wait()
    except BaseException as exc:  # reported by the test
        errors.append(exc)
        barrier.abort()
    finally:
        connections.close_all()


def milestones_due_daily(count: int, first: dt.date) -> list[Milestone]:
    """One milestone per agreement (a completion recomputes its agreement's deadlines),
    in UTC, due on consecutive days from ``first``."""
    agreements = Agreement.objects.bulk_create(
        Agreement(
            slug=f"race-{i}",
            title=f"Race {i}",
            short_name=f"R{i}",
            time_zone="UTC",
            signed_on=first - dt.timedelta(days=30),
        )
        for i in range(count)
    )
    commitments = Commitment.objects.bulk_create(
        Commitment(agreement=a, key="c", title=f"Commitment {a.slug}", category="investment")
        for a in agreements
    )
    Milestone.objects.bulk_create(
        Milestone(
            commitment=c,
            key="m",
            title=f"Milestone {i}",
            rule_kind="fixed",
            rule_fixed_date=first + dt.timedelta(days=i),
        )
        for i, c in enumerate(commitments)
    )
    for agreement in agreements:
        refresh_deadlines(agreement)
    return list(Milestone.objects.filter(commitment__in=commitments).order_by("due_on"))


@pytest.mark.django_db(transaction=True)
def test_completing_while_the_sweep_flags_never_leaves_a_completed_milestone_flagged(
    alice, smtp_server
):
    require_postgresql()
    # Round i judges the moment milestone i becomes overdue, when every earlier one has
    # been completed; staff complete it at that same moment. All in the past, so that
    # delivery (on the real clock) finds every alert due.
    milestones = milestones_due_daily(RACES, timezone.now().date() - dt.timedelta(days=600))
    moments = [m.overdue_from for m in milestones]
    Subscription.objects.create(email="newsroom@example.org", kinds=["overdue", "completed"])
    staff = User.objects.get(pk=alice.pk)  # its own permission cache, for its own thread

    def load(i: int) -> Milestone:  # before the start line, as a form would have
        return Milestone.objects.select_related("commitment__agreement").get(pk=milestones[i].pk)

    def complete(i: int, milestone: Milestone) -> None:
        milestone_set_status(
            milestone=milestone,
            status=Status.COMPLETED,
            by=staff,
            evidence_url=EVIDENCE,
            now=moments[i],
        )

    def sweep_once(i: int, _: None) -> None:
        sweep.run(now=moments[i])

    barrier = threading.Barrier(2, timeout=60)
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_race, args=(RACES, load, complete, barrier, errors)),
        threading.Thread(target=_race, args=(RACES, lambda i: None, sweep_once, barrier, errors)),
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    took = time.monotonic() - started
    forget_queue()  # the doorbells rung by the completions, with no worker listening
    assert not errors, errors
    assert not any(t.is_alive() for t in threads), "a racing thread is stuck"

    sweep.run(now=moments[-1] + dt.timedelta(days=1))  # the final sweep
    flagged = set(
        StatusUpdate.objects.filter(kind=OVERDUE_FLAGGED).values_list("milestone_id", flat=True)
    )
    sweep_won, staff_won = len(flagged), RACES - len(flagged)
    ours = Milestone.objects.filter(pk__in=[m.pk for m in milestones])
    not_completed = ours.exclude(status=Status.COMPLETED).count()
    completed_and_flagged = ours.filter(
        status=Status.COMPLETED, overdue_since__isnull=False
    ).count()
    cleared = StatusUpdate.objects.filter(kind=StatusUpdate.Kind.OVERDUE_CLEARED).count()
    double_flags = duplicates(StatusUpdate.objects.filter(kind=OVERDUE_FLAGGED), "milestone_id")

    # Delivery (which dispatches first) runs after every completion: no "overdue" email
    # may go out.
    result = delivery.deliver()
    overdue_alerts = set(
        Alert.objects.filter(kind="overdue").values_list("milestone_id", flat=True)
    )
    overdue_mails = [
        m for m in smtp_server.messages if "[OVERDUE]" in m.get_body(("plain",)).get_content()
    ]
    sent = Counter(Alert.objects.filter(sent_at__isnull=False).values_list("kind", flat=True))
    print(
        f"\n[race] {RACES} rounds in {took:.1f} s: the sweep flagged first {sweep_won} times, "
        f"the completion committed first {staff_won} times; after the final sweep: "
        f"{completed_and_flagged} completed-and-flagged, {not_completed} not completed, "
        f"{double_flags} double flags, {cleared} flags cleared; delivery: {result.emails} "
        f"emails, sent {dict(sent)}, skipped {result.skipped} stale, "
        f"{len(overdue_mails)} overdue emails"
    )
    assert (completed_and_flagged, not_completed, double_flags) == (0, 0, 0)
    assert cleared == sweep_won and overdue_alerts == flagged
    assert overdue_mails == [] and sent == {"completed": RACES}, sent
    assert result.skipped == sweep_won


@pytest.mark.django_db(transaction=True)
def test_a_history_row_written_while_the_sweep_holds_its_lock_does_not_wait(ministerial):
    """The sweep locks the rows it flags FOR NO KEY UPDATE (as its UPDATE would): a row
    that merely points at the milestone, whose foreign key check takes FOR KEY SHARE,
    goes in while the sweep's transaction is still open."""
    require_postgresql()
    locked, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def sweep_and_hold() -> None:
        try:
            with transaction.atomic():  # the sweep's own, held open
                assert sweep.run(now=AFTER).flagged >= 1
                locked.set()
                release.wait(timeout=30)
        except BaseException as exc:  # reported by the test
            errors.append(exc)
            locked.set()
        finally:
            connections.close_all()

    holder = threading.Thread(target=sweep_and_hold)
    holder.start()
    try:
        assert locked.wait(timeout=30) and not errors, errors
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the key check, now
            # An editor logs what she found on the milestone.
            LogEntry.objects.create(
                key="checked-during-the-sweep",
                milestone=ministerial,
                on=AFTER.date(),
                kind="context",
                text="Checked while the sweep ran",
                source_address="https://www.meti.go.jp/press/",
                source_passage="The ministers met.",
            )
    finally:
        release.set()
        holder.join(timeout=30)
    assert not errors, errors
    assert ministerial.log.filter(key="checked-during-the-sweep").exists()
    assert StatusUpdate.objects.filter(milestone=ministerial, kind=OVERDUE_FLAGGED).count() == 1


# --- c. SMTP down while alerts are due, then back, through the real worker ---------


@pytest.mark.django_db(transaction=True)
def test_smtp_down_then_back_through_the_worker(celery_worker, agreements, smtp_server, settings):
    us_japan = Agreement.objects.get(slug="us-japan-critical-minerals-2025")
    for email in ("newsroom@example.org", "analyst@example.org"):
        Subscription.objects.create(email=email, agreement=us_japan)
    settings.EMAIL_PORT = free_port()  # nothing listens there
    with time_machine.travel(AFTER, tick=True):
        tasks.sweep_deadlines.delay()
        celery_worker.wait("deliver_alerts", 1)
        celery_worker.wait("deliver_emails", 1)
    pending = list(Alert.objects.filter(sent_at__isnull=True))
    down = (len(pending), sorted({a.attempts for a in pending}))
    assert down == (4, [1]) and all("ConnectionRefused" in a.last_error for a in pending)

    settings.EMAIL_PORT = smtp_server.port
    with time_machine.travel(AFTER + dt.timedelta(seconds=30), tick=True):
        tasks.deliver_alerts.delay()  # within the backoff: nothing due, no email task
        celery_worker.wait("deliver_alerts", 2)
    assert Alert.objects.filter(sent_at__isnull=True).count() == 4
    assert smtp_server.messages == []
    with time_machine.travel(AFTER + dt.timedelta(minutes=2), tick=True):
        tasks.deliver_alerts.delay()
        celery_worker.wait("deliver_alerts", 3)
        celery_worker.wait("deliver_emails", 2)
    lost = Alert.objects.filter(sent_at__isnull=True).count()
    print(
        f"\n[smtp down, worker] {down[0]} alerts failed once and stayed pending; after the "
        f"server came back {len(smtp_server.messages)} emails carried "
        f"{Alert.objects.filter(sent_at__isnull=False).count()} alerts; lost {lost}"
    )
    assert lost == 0 and len(smtp_server.messages) == 2


# --- d. The worker killed with SIGKILL during delivery ----------------------------

BATCH = 8
LEASE_SECONDS = 3


class SlowInbox(Inbox):
    """Takes each message, then pauses before saying so: a worker killed in the pause
    has had its email delivered without learning it (the classic duplicate)."""

    def __init__(self, pause: float) -> None:
        super().__init__()
        self.pause = pause

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.pause)
        return reply


@pytest.fixture
def slow_smtp() -> Iterator[SlowInbox]:
    from aiosmtpd.controller import Controller

    inbox = SlowInbox(pause=0.2)
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


def worker_command(name: str) -> list[str]:
    return [
        CELERY,
        "-A",
        "config",
        "worker",
        "--pool",
        "solo",
        "--loglevel",
        "INFO",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
        "-n",
        f"{name}@%h",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_delivery_loses_nothing_and_repeats_at_most_a_batch(
    ministerial, redis_url, slow_smtp, processes, tmp_path, settings
):
    env = process_env(
        DATABASE_URL=database_url_for_subprocess(),
        CELERY_BROKER_URL=redis_url,
        SECRET_KEY=settings.SECRET_KEY,
        TRACKER_VAR_DIR=str(tmp_path),
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(slow_smtp.port),
        TRACKER_DELIVERY_BATCH=str(BATCH),
        TRACKER_DELIVERY_LEASE_SECONDS=str(LEASE_SECONDS),
        TRACKER_WEBHOOK_ALLOW_PRIVATE="true",  # the receiver is on loopback
    )
    readers = [f"reader{i:02}@example.org" for i in range(3 * BATCH)]
    Subscription.objects.bulk_create(
        [Subscription(email=e, milestone=ministerial) for e in readers]
    )
    # And webhooks: two endpoints on a receiver that checks every signature.
    secret = new_secret()
    receiver = Receiver(secret).start()
    hooks = [
        WebhookEndpoint.objects.create(
            name=f"hook {i}", url=receiver.url, secret=secret, kinds=["overdue"]
        )
        for i in range(2)
    ]
    for hook in hooks:  # the ministerial's agreement: other agreements are overdue too
        hook.agreements.add(ministerial.commitment.agreement)
    sweep.run(now=AFTER)
    # One "overdue" alert each, by email and by webhook.
    assert dispatch.run(now=AFTER).queued == len(readers) + len(hooks)

    first = processes.start("worker-1", worker_command("first"), env)
    tasks.deliver_alerts.delay()
    wait_until(
        lambda: len(slow_smtp.messages) >= 3,
        timeout=30,
        what=f"the first emails from worker 1:\n{processes.log('worker-1')}",
    )
    processes.kill(first)  # SIGKILL, in the middle of the first batch
    at_kill = len(slow_smtp.messages)
    marked_at_kill = Alert.objects.filter(sent_at__isnull=False).count()
    in_flight = Alert.objects.filter(sent_at__isnull=True, claimed_until__isnull=False).count()

    processes.start("worker-2", worker_command("second"), env)
    started = time.monotonic()
    while Alert.objects.filter(sent_at__isnull=True).exists():
        if time.monotonic() - started > 60:
            pytest.fail(f"alerts still pending after 60 s:\n{processes.log('worker-2')}")
        tasks.deliver_alerts.delay()  # what beat does every TRACKER_DELIVERY_INTERVAL
        time.sleep(1)
    recovered = time.monotonic() - started

    receiver.stop()
    per_reader = Counter(m["To"] for m in slow_smtp.messages)
    per_hook = receiver.ids()  # by webhook-id: one per (event, endpoint)
    repeated = sum(n - 1 for n in per_reader.values()) + sum(n - 1 for n in per_hook.values())
    lost = [r for r in readers if r not in per_reader]
    lost += [h.pk for h in hooks if not Alert.objects.filter(endpoint=h, sent_at__isnull=False)]
    assert len(per_hook) == len(hooks) and receiver.rejected == []
    print(
        f"\n[SIGKILL] {len(readers)} alerts, batch {BATCH}, lease {LEASE_SECONDS} s: killed "
        f"after {at_kill} emails reached the server ({marked_at_kill} marked sent, "
        f"{in_flight} claimed in flight); after restart all sent in {recovered:.1f} s; "
        f"{len(slow_smtp.messages)} emails, {sum(per_hook.values())} webhook deliveries "
        f"(verified), {repeated} duplicate(s), {len(lost)} lost"
    )
    assert lost == [], lost
    # Only the killed batch's claimed, unmarked rows can go out twice.
    assert repeated <= in_flight <= BATCH, (repeated, in_flight, BATCH)


# --- e. The sweep run by two processes at once, 50 times --------------------------

ROUNDS, PER_ROUND = 50, 4
SWEEPER = """
import sys
import django
django.setup()
from django.core.management import call_command
for line in sys.stdin:
    call_command("sweep_deadlines", "--now", line.strip())
    sys.stdout.flush()
"""


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_never_duplicate_an_alert_or_an_event(processes, tmp_path, settings):
    require_postgresql()
    base = dt.date(2026, 1, 1)
    commitment = CommitmentFactory(
        agreement=AgreementFactory(time_zone="UTC", signed_on=dt.date(2025, 1, 1))
    )
    Milestone.objects.bulk_create(
        Milestone(
            commitment=commitment,
            key=f"m-{r}-{k}",
            title=f"Milestone {r}.{k}",
            rule_kind="fixed",
            rule_fixed_date=base + dt.timedelta(days=r),
        )
        for r in range(ROUNDS)
        for k in range(PER_ROUND)
    )
    refresh_deadlines(commitment.agreement)
    for email in ("newsroom@example.org", "analyst@example.org"):
        Subscription.objects.create(email=email, agreement=commitment.agreement)
    WebhookEndpoint.objects.create(name="desk", url="https://hooks.example.org/t", secret="x")

    env = process_env(
        DATABASE_URL=database_url_for_subprocess(),
        TRACKER_VAR_DIR=str(tmp_path),
        SECRET_KEY=settings.SECRET_KEY,
    )
    sweepers = {
        name: processes.start_piped(name, [sys.executable, "-c", SWEEPER], env)
        for name in ("sweeper-a", "sweeper-b")
    }
    outcomes: Counter[str] = Counter()
    for r in range(ROUNDS):
        # Both processes get the same --now at the same moment, then race.
        moment = dt.datetime.combine(base + dt.timedelta(days=r + 1), dt.time(), tzinfo=dt.UTC)
        for proc in sweepers.values():
            assert proc.stdin is not None
            proc.stdin.write(f"{moment.isoformat()}\n".encode())
        flagged = {}
        for name, proc in sweepers.items():
            line = processes.read_line(name, proc, timeout=60 if r == 0 else 30)
            flagged[name] = int(re.search(r"flagged (\d+)", line).group(1))
        assert sum(flagged.values()) == PER_ROUND, (r, flagged)
        winners = [name for name, n in flagged.items() if n]
        outcomes[winners[0] if len(winners) == 1 else "split"] += 1

    events = StatusUpdate.objects.filter(kind=OVERDUE_FLAGGED)
    counts = {
        "overdue_flagged events": events.count(),
        "duplicate events": duplicates(events, "milestone_id"),
        "alerts": Alert.objects.count(),
        "duplicate alerts": duplicates(Alert.objects, "milestone", "kind", "recipient", "due_on"),
        "duplicate deliveries": duplicates(Alert.objects, "event", "recipient", "channel"),
        "webhook overdue alerts": Alert.objects.filter(kind="overdue", channel="webhook").count(),
        "overdue alerts": Alert.objects.filter(kind="overdue").count(),
        "sweep runs": SweepRun.objects.count(),
    }
    print(
        f"\n[two sweeps] {ROUNDS} rounds of {PER_ROUND} milestones coming due: flagged all by "
        f"sweeper-a {outcomes['sweeper-a']}, by sweeper-b {outcomes['sweeper-b']}, split "
        f"{outcomes['split']}; {counts}"
    )
    assert counts["duplicate events"] == counts["duplicate alerts"] == 0, counts
    assert counts["duplicate deliveries"] == 0, counts
    assert counts["webhook overdue alerts"] == ROUNDS * PER_ROUND, counts
    assert counts["overdue_flagged events"] == ROUNDS * PER_ROUND, counts
    assert counts["overdue alerts"] == 3 * ROUNDS * PER_ROUND, counts  # 2 emails, 1 webhook
    assert counts["sweep runs"] == 2 * ROUNDS, counts


# --- f. Redis stopped while the web app serves -------------------------------------


@contextmanager
def celery_app_on(broker_url: str):
    """The Celery app as config/celery.py makes it, on another broker, current for the
    duration (the web code's ``.delay()`` goes through the current app)."""
    from celery import Celery, _state

    previous, previous_default = _state.get_current_app(), _state.default_app
    app = Celery("tracker", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    # Not broker_url: Celery reads CELERY_BROKER_URL from the environment before it.
    app.conf.broker_read_url = app.conf.broker_write_url = broker_url
    app.conf.broker_transport_options = {"visibility_timeout": 3600}
    app.set_current()
    try:
        yield app
    finally:
        app.close()
        previous.set_current()
        _state.set_default_app(previous_default)


@pytest.mark.django_db(transaction=True)
def test_redis_down_the_web_keeps_working_and_the_sweep_catches_up(
    client, alice, agreements, smtp_server, own_redis
):
    us_japan = Agreement.objects.get(slug="us-japan-critical-minerals-2025")
    Subscription.objects.create(email="newsroom@example.org", agreement=us_japan)
    ministerial = Milestone.objects.get(key="ministerial-convened")
    # Five completions in one admin action: five doorbells to ring into a dead broker.
    done = list(
        Milestone.objects.filter(commitment__agreement=us_japan)
        .exclude(pk=ministerial.pk)
        .order_by("pk")
        .values_list("pk", flat=True)[:5]
    )
    changelist = reverse("admin:commitments_milestone_changelist")

    with celery_app_on(own_redis.url) as app, time_machine.travel(AFTER, tick=True):
        tasks.deliver_alerts.delay()  # the web app has a live broker connection…
        own_redis.stop()  # …and then Redis goes away (no persistence: its queue is lost)
        client.force_login(alice)
        pages = {
            url: client.get(url).status_code
            for url in (changelist, "/", f"/milestones/{ministerial.pk}/")
        }
        started = time.perf_counter()
        response = client.post(
            changelist,
            {
                "action": "mark_completed_today",
                "apply": "1",
                "_selected_action": done,
                "evidence": EVIDENCE,
            },
        )
        took = time.perf_counter() - started
        with pytest.raises(OperationalError):  # beat's run of the sweep is lost too
            tasks.sweep_deadlines.apply_async(retry=False)
        completed = Milestone.objects.filter(pk__in=done, status=Status.COMPLETED).count()
        # The news waiting: history rows not yet turned into alerts.
        pending_while_down = dispatch.undispatched()
        flagged_while_down = Milestone.objects.filter(overdue_since__isnull=False).count()

        own_redis.start()
        with worker_in_thread(app) as finished:
            tasks.sweep_deadlines.delay()  # the next scheduled sweep, now that Redis is back
            finished.wait("sweep_deadlines", 1)
            finished.wait("deliver_alerts", 1)

    ministerial.refresh_from_db()
    pending = Alert.objects.filter(sent_at__isnull=True).count()
    print(
        f"\n[redis down] pages {pages}; an admin action completing {len(done)} milestones "
        f"answered {response.status_code} in {took:.2f} s ({completed} committed, "
        f"{pending_while_down} alerts pending, {flagged_while_down} flagged); Redis back: "
        f"sweep flagged the ministerial: {ministerial.overdue_since is not None}, "
        f"{len(smtp_server.messages)} email(s) {smtp_server.subjects()}, {pending} pending"
    )
    assert set(pages.values()) == {200}, pages
    assert response.status_code == 302 and completed == len(done)
    assert (pending_while_down, flagged_while_down) == (len(done), 0)
    assert took < 1.5, f"the request took {took:.2f} s with the broker down"
    assert ministerial.overdue_since is not None and pending == 0
    assert smtp_server.subjects() == [
        "OVERDUE: Mining, Minerals and Metals Investment Ministerial (due 2026-04-26) "
        f"and {len(done)} more"
    ]
