"""Delivery: send pending alerts, one email per recipient per run, one request per
webhook alert.

Claiming is a lease, not a lock held across the SMTP conversation: a short
transaction marks a batch ``claimed_until = now + lease`` (the setting
TRACKER_DELIVERY_LEASE_SECONDS; rows locked with ``SKIP LOCKED`` on PostgreSQL, so two
workers take different batches), the messages are sent outside any transaction, and
each recipient's alerts are marked sent after their email went out. A worker killed
mid-batch leaves its claims to expire; the next run sends them again, so a crash can
duplicate at most the messages of the batch in flight, and never loses one.

Just before sending, each alert is checked again: still true (no "overdue" for a
milestone completed since), and its recipient still wants it (the audience rule, with
today's opt-outs and subscriptions). A message that cannot be built (a bad header)
fails on its own rows, with the error; the others go on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from commitments.models import CLOSED_STATUSES, Milestone

from ..models import Alert, AlertEvent, AlertKind, Channel, WebhookEndpoint
from . import dispatch, emails, webhooks
from .audience import Audience

log = logging.getLogger(__name__)


@dataclass
class DeliveryResult:
    sent: int = 0
    emails: int = 0
    failed: int = 0
    skipped: int = 0
    suppressed: int = 0
    webhooks: int = 0
    dispatched: int = 0


def pending() -> Q:
    return Q(sent_at__isnull=True, failed=False, skipped=False)


def deliver(
    *,
    channel: str | None = None,
    now: dt.datetime | None = None,
    batch_size: int | None = None,
) -> DeliveryResult:
    """Send every alert due, of one channel (each has its own task, so that a webhook
    does not wait behind 10,000 emails) or, with none named, of both after
    dispatching new events (commands and tests)."""
    result = DeliveryResult()
    if channel is None:
        result.dispatched = dispatch.run(now=now).dispatched
    batch_size = batch_size or settings.TRACKER_DELIVERY_BATCH
    while True:
        now = timezone.now() if now is None else now
        batch = _claim(now, batch_size, channel)
        if not batch:
            return result
        _send(batch, result)
        now = None  # later batches are judged at their own time


def due(channel: str, now: dt.datetime) -> int:
    """How many alerts of ``channel`` wait to be sent (the doorbell asks)."""
    return Alert.objects.filter(pending(), channel=channel, next_attempt_at__lte=now).count()


def _claim(now: dt.datetime, batch_size: int, channel: str | None) -> list[Alert]:
    lease = dt.timedelta(seconds=settings.TRACKER_DELIVERY_LEASE_SECONDS)
    due = Alert.objects.filter(pending(), next_attempt_at__lte=now)
    if channel is not None:
        due = due.filter(channel=channel)
    with transaction.atomic():
        # The rows themselves are read as they are locked: no second read by id.
        alerts = list(
            due.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .select_for_update(skip_locked=True)
            .order_by("next_attempt_at", "id")[:batch_size]
        )
        if not alerts:
            return []
        ids = [a.id for a in alerts]
        Alert.objects.filter(id__in=ids).update(claimed_until=now + lease)
    # The batch's few events, milestones and endpoints, read once and shared by their
    # alerts (10,000 readers of one event: one milestone, not 10,000 copies of it).
    events = AlertEvent.objects.in_bulk({a.event_id for a in alerts if a.event_id})
    endpoints = WebhookEndpoint.objects.in_bulk({a.endpoint_id for a in alerts if a.endpoint_id})
    milestones = Milestone.objects.select_related(
        "owner", "commitment__owner", "commitment__agreement", "rule_anchor_milestone"
    ).in_bulk({a.milestone_id for a in alerts})
    for alert in alerts:
        alert.claimed_until = now + lease  # as the UPDATE wrote it
        alert.milestone = milestones[alert.milestone_id]
        alert.event = events.get(alert.event_id) if alert.event_id else None
        alert.endpoint = endpoints.get(alert.endpoint_id) if alert.endpoint_id else None
    return alerts


def _still_true(alert: Alert) -> bool:
    """An alert whose news went stale before its turn is skipped, not sent: no
    "overdue" email for a milestone completed in the meantime."""
    m = alert.milestone
    if alert.kind == AlertKind.COMPLETED:
        return True
    return m.status not in CLOSED_STATUSES and m.due_on == alert.due_on


def _still_wanted(alert: Alert, audience: Audience, wanted: dict[int, set[Any]]) -> bool:
    """Asked once per event in the batch (``wanted`` remembers), not once per alert."""
    if alert.event is None:  # written before events existed: obey opt-outs only
        return alert.recipient not in audience.opted_out
    if alert.event.pk not in wanted:
        wanted[alert.event.pk] = {
            (r.channel, r.address) for r in audience.recipients(alert.event, alert.milestone)
        }
    return (alert.channel, alert.recipient) in wanted[alert.event.pk]


def _send(batch: list[Alert], result: DeliveryResult) -> None:
    audience = Audience.load(addresses={a.recipient for a in batch if a.channel == Channel.EMAIL})
    wanted: dict[int, set[Any]] = {}
    by_recipient: dict[str, list[Alert]] = defaultdict(list)
    hooks: list[Alert] = []
    stale, unwanted = [], []
    for alert in batch:
        if not _still_true(alert):
            stale.append(alert)
        elif not _still_wanted(alert, audience, wanted):
            unwanted.append(alert)
        elif alert.channel == Channel.WEBHOOK:
            hooks.append(alert)
        else:
            by_recipient[alert.recipient].append(alert)
    _skip(stale, "", result)
    _skip(unwanted, "not sent: the recipient opted out or the subscription is off", result)
    result.suppressed += len(unwanted)
    if by_recipient:
        # Each email in its reader's language: their subscriptions are loaded already.
        languages = {sub.pk: sub.language for sub in audience.subscriptions}
        _send_emails(by_recipient, result, languages)
    for alert in hooks:
        if alert.claimed_until is not None and timezone.now() >= alert.claimed_until:
            # Slow receivers used up the lease: the rest is left to the next claim
            # (posted once then), not posted now while another worker may take it.
            break
        error = webhooks.deliver(alert)
        if error:
            record_failure([alert.id], error, result)
        else:
            result.webhooks += 1
            result.sent += 1


def _skip(alerts: list[Alert], why: str, result: DeliveryResult) -> None:
    if alerts:
        Alert.objects.filter(id__in=[a.id for a in alerts]).update(
            skipped=True, claimed_until=None, last_error=why
        )
        result.skipped += len(alerts)


def _send_emails(
    by_recipient: dict[str, list[Alert]],
    result: DeliveryResult,
    languages: dict[int, str],
) -> None:
    """One connection for the batch; each message's outcome is known when it is sent.
    What was sent is marked once for the batch: a worker killed before that has its
    batch sent again after the lease, which bounds duplicates by the batch in flight."""
    now = timezone.now()
    rendered: emails.Rendered = {}
    sent: list[int] = []
    recipients = list(by_recipient.items())
    try:
        with emails.Mailer() as mailer:
            for done, (recipient, items) in enumerate(recipients):
                try:
                    language = language_of(items, languages)
                    sent += _send_one(mailer, recipient, items, now, rendered, result, language)
                except emails.Unreachable as exc:  # no server: the rest of the batch waits
                    for _, rest in recipients[done:]:
                        record_failure([a.id for a in rest], str(exc), result)
                    break
    finally:
        Alert.objects.filter(id__in=sent).update(
            sent_at=timezone.now(), claimed_until=None, attempts=F("attempts") + 1, last_error=""
        )
        result.sent += len(sent)


def language_of(items: list[Alert], languages: dict[int, str]) -> str:
    """A recipient's language: their subscriptions' (the most urgent alert's first);
    an owner's alert, with no subscription, is in English."""
    ordered = sorted(items, key=lambda a: (AlertKind.urgency(a.kind), a.due_on, a.pk))
    found = (languages.get(a.subscription_id) for a in ordered if a.subscription_id)
    return next((lang for lang in found if lang), "en")


def _send_one(
    mailer: emails.Mailer,
    recipient: str,
    items: list[Alert],
    now: dt.datetime,
    rendered: emails.Rendered,
    result: DeliveryResult,
    language: str,
) -> list[int]:
    """The ids of the alerts sent. A refusal is retried later; a message that cannot
    be built fails alone, and its recipient's other alerts go on their own."""
    ids = [a.id for a in items]
    try:
        message = emails.alerts_message(
            recipient, items, now=now, rendered=rendered, language=language
        )
        mailer.send(message)
    except emails.Unreachable:
        raise
    except emails.TRANSPORT_ERRORS as exc:
        record_failure(ids, exc, result)
        return []
    except Exception as exc:  # not the server's fault: retrying will not mend it
        if len(items) > 1:
            alone = (
                _send_one(mailer, recipient, [a], now, rendered, result, language) for a in items
            )
            return [i for ids_sent in alone for i in ids_sent]
        log.exception("alert %s cannot be sent", ids)
        record_failure(ids, exc, result, permanent=True)
        return []
    result.emails += 1
    return ids


def record_failure(
    ids: list[int], exc: Exception | str, result: DeliveryResult, *, permanent: bool = False
) -> None:
    """Leave the alerts pending, with the error, and retry later with exponential
    backoff; after TRACKER_ALERT_MAX_ATTEMPTS (or at once, for an error that retrying
    cannot mend) give up and show them in the admin."""
    error = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    log.warning("alert delivery failed for %s alerts: %s", len(ids), error)
    now = timezone.now()
    for alert in Alert.objects.filter(id__in=ids):
        attempts = alert.attempts + 1
        delay = min(settings.TRACKER_RETRY_BASE_SECONDS * 2 ** (attempts - 1), 3600)
        Alert.objects.filter(id=alert.id).update(
            attempts=attempts,
            last_error=error[:2000],
            next_attempt_at=now + dt.timedelta(seconds=delay),
            claimed_until=None,
            failed=permanent or attempts >= settings.TRACKER_ALERT_MAX_ATTEMPTS,
        )
        result.failed += 1


def retry(ids: list[int]) -> int:
    """Put failed alerts back in the queue (the admin's "retry" action)."""
    return Alert.objects.filter(id__in=ids, sent_at__isnull=True).update(
        failed=False, attempts=0, next_attempt_at=timezone.now(), claimed_until=None
    )
