"""Celery tasks: thin wrappers over plain functions that a command and a test can call.

Every task is safe to run twice (acks_late redelivers after a crash), and none depends
on a message arriving: beat runs them on a schedule, and each works from the
database's state.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from . import delivery, digests, sweep

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def sweep_deadlines() -> dict[str, int]:
    result = sweep.run()
    if result.queued:
        kick_delivery()
    return {"flagged": result.flagged, "cleared": result.cleared, "queued": result.queued}


@shared_task(acks_late=True)
def deliver_alerts() -> dict[str, int]:
    """Dispatch new events into alerts, then send them (tracker.delivery)."""
    r = delivery.deliver()
    return {
        "sent": r.sent,
        "emails": r.emails,
        "webhooks": r.webhooks,
        "failed": r.failed,
        "skipped": r.skipped,
        "dispatched": r.dispatched,
    }


@shared_task(acks_late=True)
def send_digests() -> int:
    return digests.send_due_digests()


def kick_delivery() -> None:
    """Ring the doorbell once the news is committed. If the broker is down the events
    wait, and the scheduled delivery picks them up.

    The doorbell is tried once: Kombu's default is to retry the connection (about 0.6 s
    against a stopped Redis), and this runs inside the web request or admin action that
    made the change, once per milestone changed."""

    def publish() -> None:
        try:
            with deliver_alerts.app.producer_or_acquire() as producer:
                producer.connection.ensure_connection(max_retries=0)  # one attempt
                deliver_alerts.apply_async(producer=producer, retry=False)
        except Exception as exc:  # any broker error: the scheduled delivery catches up
            log.warning("could not queue delivery (broker down?): %s", exc)

    transaction.on_commit(publish)
