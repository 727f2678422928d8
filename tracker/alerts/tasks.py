"""Celery tasks: thin wrappers over plain functions that a command and a test can call.

Every task is safe to run twice (acks_late redelivers after a crash), and none depends
on a message arriving: beat runs them on a schedule, and each works from the
database's state.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import asdict

from celery import Task, shared_task
from celery.signals import task_postrun, task_prerun
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import transaction
from django.utils import timezone

from ..models import Channel
from . import delivery, digests, dispatch, sweep

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def sweep_deadlines() -> dict[str, int]:
    result = sweep.run()
    if result.queued:
        ring(deliver_alerts)
    return {"flagged": result.flagged, "cleared": result.cleared, "queued": result.queued}


@shared_task(acks_late=True)
def deliver_alerts() -> dict[str, int]:
    """Dispatch new events into alerts, then hand each channel that has alerts due to
    its own task: a dashboard's webhook does not wait behind 10,000 emails."""
    rung: set[str] = set()

    def ring_hooks() -> None:  # once per run, as soon as the first are committed
        if "webhooks" not in rung:
            rung.add("webhooks")
            ring(deliver_webhooks)

    r = dispatch.run(on_webhooks=ring_hooks)
    now = timezone.now()
    if delivery.due(Channel.WEBHOOK, now):
        ring_hooks()  # retries due, or webhook alerts written by an earlier run
    # Email batches are claimed with SKIP LOCKED: several senders share a long list.
    batches = math.ceil(delivery.due(Channel.EMAIL, now) / settings.TRACKER_DELIVERY_BATCH)
    for _ in range(min(batches, settings.TRACKER_EMAIL_SENDERS)):
        ring(deliver_emails)
    return {"discovered": r.discovered, "dispatched": r.dispatched, "queued": r.queued}


@shared_task(acks_late=True)
def deliver_emails() -> dict[str, int]:
    return asdict(delivery.deliver(channel=Channel.EMAIL))


@shared_task(acks_late=True)
def deliver_webhooks() -> dict[str, int]:
    return asdict(delivery.deliver(channel=Channel.WEBHOOK))


@shared_task(acks_late=True)
def send_digests() -> int:
    return digests.send_due_digests()


# After the broker failed, later doorbells of the same request or task (in the same
# thread) are not rung for this long; see ring.
DOORBELL_PAUSE = 30.0
_doorbell = threading.local()


def _doorbell_begin(**kwargs: object) -> None:
    _doorbell.failed_at, _doorbell.scoped = None, True


def _doorbell_reset(**kwargs: object) -> None:
    _doorbell.failed_at, _doorbell.scoped = None, False


# The pause lives only inside one request or task (never in a shell or a command).
request_started.connect(_doorbell_begin, dispatch_uid="tracker.doorbell_begin")
request_finished.connect(_doorbell_reset, dispatch_uid="tracker.doorbell_reset")
task_prerun.connect(_doorbell_begin, weak=False)
task_postrun.connect(_doorbell_reset, weak=False)


def ring(task: Task) -> None:
    """Queue ``task`` once the transaction in hand commits. If the broker is down, the
    work waits for the scheduled run, which picks it up.

    The doorbell is tried once: Kombu's default is to retry the connection (about 0.6 s
    against a stopped Redis), and this runs inside the web request or admin action that
    made the change, once per milestone changed.

    Its deadline: each broker command waits at most REDIS_TIMEOUT for a reply (the
    transport's socket timeout, config/settings.py), and after a failure the doorbell
    is not rung again in the same request or task (for up to DOORBELL_PAUSE seconds),
    so an admin action that completes many milestones waits for a silent broker once,
    not once each."""

    def publish() -> None:
        failed_at = getattr(_doorbell, "failed_at", None)
        if failed_at is not None and time.monotonic() - failed_at < DOORBELL_PAUSE:
            log.info("delivery not queued: the broker failed moments ago")
            return
        try:
            with task.app.producer_or_acquire() as producer:
                producer.connection.ensure_connection(max_retries=0)  # one attempt
                task.apply_async(producer=producer, retry=False)
        except Exception as exc:  # any broker error: the scheduled delivery catches up
            if getattr(_doorbell, "scoped", False):
                _doorbell.failed_at = time.monotonic()
            log.warning("could not queue delivery (broker down?): %s", exc)

    transaction.on_commit(publish)
