"""Delivery: send pending alerts, one email per recipient per run.

Claiming is a lease, not a lock held across the SMTP conversation: a short
transaction marks a batch ``claimed_until = now + lease`` (the setting
TRACKER_DELIVERY_LEASE_SECONDS; rows locked with ``SKIP LOCKED`` on PostgreSQL, so two
workers take different batches), the emails are sent outside any transaction, and each
recipient's alerts are marked sent after their email went out. A worker killed
mid-batch leaves its claims to expire; the next run sends them again, so a crash can
duplicate at most the emails of the batch in flight, and never loses one.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from commitments.models import CLOSED_STATUSES

from . import emails
from .models import Alert, AlertKind

log = logging.getLogger(__name__)


@dataclass
class DeliveryResult:
    sent: int = 0
    emails: int = 0
    failed: int = 0
    skipped: int = 0


def pending() -> Q:
    return Q(sent_at__isnull=True, failed=False, skipped=False)


def deliver(*, now: dt.datetime | None = None, batch_size: int | None = None) -> DeliveryResult:
    result = DeliveryResult()
    batch_size = batch_size or settings.TRACKER_DELIVERY_BATCH
    while True:
        now = timezone.now() if now is None else now
        batch = _claim(now, batch_size)
        if not batch:
            return result
        _send(batch, now, result)
        now = None  # later batches are judged at their own time


def _claim(now: dt.datetime, batch_size: int) -> list[Alert]:
    with transaction.atomic():
        ids = list(
            Alert.objects.filter(pending(), next_attempt_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .select_for_update(skip_locked=True)
            .order_by("next_attempt_at", "id")
            .values_list("id", flat=True)[:batch_size]
        )
        lease = dt.timedelta(seconds=settings.TRACKER_DELIVERY_LEASE_SECONDS)
        Alert.objects.filter(id__in=ids).update(claimed_until=now + lease)
    return list(
        Alert.objects.filter(id__in=ids).select_related(
            "milestone__commitment__agreement", "milestone__rule_anchor_milestone"
        )
    )


def _still_true(alert: Alert) -> bool:
    """An alert whose news went stale before its turn is skipped, not sent: no
    "overdue" email for a milestone completed in the meantime."""
    m = alert.milestone
    if alert.kind == AlertKind.COMPLETED:
        return True
    return m.status not in CLOSED_STATUSES and m.due_on == alert.due_on


def _send(batch: list[Alert], now: dt.datetime, result: DeliveryResult) -> None:
    by_recipient: dict[str, list[Alert]] = defaultdict(list)
    stale = []
    for alert in batch:
        (by_recipient[alert.recipient] if _still_true(alert) else stale).append(alert)
    if stale:
        Alert.objects.filter(id__in=[a.id for a in stale]).update(skipped=True, claimed_until=None)
        result.skipped += len(stale)
    for recipient, items in by_recipient.items():
        ids = [a.id for a in items]
        try:
            emails.send_alerts(recipient, items, now=timezone.now())
        except (smtplib.SMTPException, OSError) as exc:
            _record_failure(ids, exc, result)
            continue
        Alert.objects.filter(id__in=ids).update(
            sent_at=timezone.now(), claimed_until=None, attempts=F("attempts") + 1, last_error=""
        )
        result.sent += len(ids)
        result.emails += 1


def _record_failure(ids: list[int], exc: Exception, result: DeliveryResult) -> None:
    """Leave the alerts pending, with the error, and retry later with exponential
    backoff; after TRACKER_ALERT_MAX_ATTEMPTS give up and show them in the admin."""
    log.warning("alert delivery failed for %s alerts: %s", len(ids), exc)
    now = timezone.now()
    for alert in Alert.objects.filter(id__in=ids):
        attempts = alert.attempts + 1
        delay = min(settings.TRACKER_RETRY_BASE_SECONDS * 2 ** (attempts - 1), 3600)
        Alert.objects.filter(id=alert.id).update(
            attempts=attempts,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            next_attempt_at=now + dt.timedelta(seconds=delay),
            claimed_until=None,
            failed=attempts >= settings.TRACKER_ALERT_MAX_ATTEMPTS,
        )
        result.failed += 1


def retry(ids: list[int]) -> int:
    """Put failed alerts back in the queue (the admin's "retry" action)."""
    return Alert.objects.filter(id__in=ids, sent_at__isnull=True).update(
        failed=False, attempts=0, next_attempt_at=timezone.now(), claimed_until=None
    )
