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

import contextlib
import datetime as dt
import logging
import re
import smtplib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from commitments.models import CLOSED_STATUSES, Milestone

from . import dispatch, emails, unsubscribe, webhooks
from .audience import Audience
from ..models import Alert, AlertKind, Channel, Event, WebhookEndpoint
from .sql import AnyOf

log = logging.getLogger(__name__)
TRANSPORT_ERRORS = (smtplib.SMTPException, OSError)


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


def deliver(*, now: dt.datetime | None = None, batch_size: int | None = None) -> DeliveryResult:
    """Dispatch new events into alerts, then send every alert due."""
    result = DeliveryResult(dispatched=dispatch.run(now=now).dispatched)
    batch_size = batch_size or settings.TRACKER_DELIVERY_BATCH
    while True:
        now = timezone.now() if now is None else now
        batch = _claim(now, batch_size)
        if not batch:
            return result
        _send(batch, result)
        now = None  # later batches are judged at their own time


def _claim(now: dt.datetime, batch_size: int) -> list[Alert]:
    lease = dt.timedelta(seconds=settings.TRACKER_DELIVERY_LEASE_SECONDS)
    with transaction.atomic():
        # The rows themselves are read as they are locked: no second read by id.
        alerts = list(
            Alert.objects.filter(pending(), next_attempt_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .select_for_update(skip_locked=True)
            .order_by("next_attempt_at", "id")[:batch_size]
        )
        if not alerts:
            return []
        ids = [a.id for a in alerts]
        Alert.objects.filter(AnyOf(F("id"), ids)).update(claimed_until=now + lease)
    # The batch's few events, milestones and endpoints, read once and shared by their
    # alerts (10,000 readers of one event: one milestone, not 10,000 copies of it).
    events = Event.objects.in_bulk({a.event_id for a in alerts if a.event_id})
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
        _send_emails(by_recipient, result)
    for alert in hooks:
        error = webhooks.deliver(alert)
        if error:
            record_failure([alert.id], error, result)
        else:
            result.webhooks += 1
            result.sent += 1


def _skip(alerts: list[Alert], why: str, result: DeliveryResult) -> None:
    if alerts:
        Alert.objects.filter(AnyOf(F("id"), [a.id for a in alerts])).update(
            skipped=True, claimed_until=None, last_error=why
        )
        result.skipped += len(alerts)


def _send_emails(by_recipient: dict[str, list[Alert]], result: DeliveryResult) -> None:
    """One connection for the whole batch (reopened after a transport error)."""
    outbox = Outbox()
    now = timezone.now()
    rendered: emails.Rendered = {}
    links = unsubscribe.Links()
    try:
        for recipient, items in by_recipient.items():
            _send_one(outbox, recipient, items, result, now, (rendered, links))
    finally:
        outbox.close()  # the server's answer to the last message
        sent = [i for ids in outbox.accepted for i in ids]
        # Marked once for the batch: a worker killed before this line has its batch
        # sent again after the lease, which bounds duplicates by the batch in flight.
        Alert.objects.filter(AnyOf(F("id"), sent)).update(
            sent_at=timezone.now(), claimed_until=None, attempts=F("attempts") + 1, last_error=""
        )
        result.sent += len(sent)
        result.emails += len(outbox.accepted)
        for ids, exc in outbox.refused:  # the server's fault: retried later
            record_failure(ids, exc, result)


def _send_one(
    outbox: Outbox,
    recipient: str,
    items: list[Alert],
    result: DeliveryResult,
    now: dt.datetime,
    kept: tuple[emails.Rendered, unsubscribe.Links],
) -> None:
    ids = [a.id for a in items]
    rendered, links = kept
    try:
        outbox.send(
            emails.alerts_message(recipient, items, now=now, rendered=rendered, links=links), ids
        )
    except Exception as exc:  # a row we cannot render: its own failure, not the batch's
        if len(items) > 1:  # find the bad one: send the others on their own
            for alert in items:
                _send_one(outbox, recipient, [alert], result, now, kept)
            return
        log.exception("alert %s cannot be sent", ids)
        record_failure(ids, exc, result, permanent=True)


class Outbox:
    """EMAIL_BACKEND's connection, opened once for a batch (Django's backends open
    and close one per ``send_messages`` call otherwise). Django's SMTP backend is
    handed each message's bytes on its open connection, as ``send_messages`` would
    hand them, without parsing the sender's address again for every message; other
    backends (console, locmem, file) are given the message.

    On the SMTP backend the server's answer to a message's data (the longest wait:
    the server takes the message in) is read only when the next message has been
    built and is handed over, or at ``close``: building the next message overlaps the
    server's work (bench/README.md, "Delivery"). So a message's outcome may come out
    of a later call: what the server took is listed in ``accepted``, what it refused or
    never answered in ``refused``, each by the alerts' ids. A message that cannot be
    built raises, and nothing of it was sent."""

    def __init__(self) -> None:
        self.connection = get_connection()
        self.senders: dict[str, str] = {}
        self.accepted: list[list[int]] = []
        self.refused: list[tuple[list[int], Exception]] = []
        self._in_flight: list[int] | None = None

    def send(self, message: emails.AlertEmail, ids: list[int]) -> None:
        if not isinstance(self.connection, SMTPBackend):
            self._finish()
            try:
                self.connection.send_messages([message])
            except TRANSPORT_ERRORS as exc:
                self._refuse(ids, exc)
            else:
                self.accepted.append(ids)
            return
        raw = message.as_bytes()
        encoding = message.encoding or settings.DEFAULT_CHARSET
        if message.from_email not in self.senders:
            self.senders[message.from_email] = sanitize_address(message.from_email, encoding)
        to = [envelope_address(a, encoding) for a in message.recipients()]
        self._finish()
        try:
            self.connection.open()
            smtp = self.connection.connection
            if smtp is None:  # failed silently (fail_silently): as send_messages does
                self.connection.send_messages([message])
                self.accepted.append(ids)
                return
            start_sendmail(smtp, self.senders[message.from_email], to, raw)
        except TRANSPORT_ERRORS as exc:
            self._refuse(ids, exc)
        except BaseException:
            self._drop()  # the conversation is in an unknown state
            raise
        else:
            self._in_flight = ids

    def _finish(self) -> None:
        """Reads the server's answer to the message in flight."""
        ids, self._in_flight = self._in_flight, None
        if ids is None:
            return
        try:
            finish_sendmail(self.connection.connection)
        except TRANSPORT_ERRORS as exc:
            self._refuse(ids, exc)
        else:
            self.accepted.append(ids)

    def _refuse(self, ids: list[int], exc: Exception) -> None:
        self.refused.append((ids, exc))
        self._drop()

    def _drop(self) -> None:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            self.connection.close()
        self.connection.connection = None  # the next send opens a fresh one

    def close(self) -> None:
        try:
            self._finish()
        finally:
            self._drop()


def start_sendmail(smtp: smtplib.SMTP, sender: str, to: list[str], msg: bytes) -> None:
    """``smtp.sendmail(sender, to, msg)`` up to the server's answer to the data, which
    ``finish_sendmail`` reads: the same commands, options, checks and errors as
    smtplib's (test: the server receives the same), for envelope addresses already
    sanitized. After an error the caller drops the connection (smtplib sends RSET)."""
    smtp.ehlo_or_helo_if_needed()
    options = f" size={len(msg)}" if smtp.does_esmtp and smtp.has_extn("size") else ""
    smtp.putcmd("mail", f"from:{quoted(sender)}{options}")
    code, reply = smtp.getreply()
    if code != 250:
        if code == 421:
            smtp.close()
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused = {}
    for address in to:
        smtp.putcmd("rcpt", f"to:{quoted(address)}")
        code, reply = smtp.getreply()
        if code not in (250, 251):
            refused[address] = (code, reply)
        if code == 421:
            smtp.close()
            raise smtplib.SMTPRecipientsRefused(refused)
    if len(refused) == len(to):
        raise smtplib.SMTPRecipientsRefused(refused)
    smtp.putcmd("data")
    code, reply = smtp.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    data = _LEADING_DOT.sub(b"..", msg)
    if data[-2:] != b"\r\n":
        data += b"\r\n"
    smtp.send(data + b".\r\n")


def finish_sendmail(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        raise smtplib.SMTPServerDisconnected("the connection was closed")
    code, reply = smtp.getreply()
    if code != 250:
        if code == 421:
            smtp.close()
        raise smtplib.SMTPDataError(code, reply)


_LEADING_DOT = re.compile(rb"(?m)^\.")  # smtplib's dot-stuffing (RFC 5321, 4.5.2)


def quoted(address: str) -> str:
    """``smtplib.quoteaddr(address)``: a plain address skips its parser (test: the
    same answer)."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


# A dot-atom address (RFC 5322), which Django's parser would take apart as split here.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*"
)


def envelope_address(address: str, encoding: str) -> str:
    """``sanitize_address(address)``, as Django's SMTP backend gives the envelope; a
    plain address skips the header parser, a sixth of a message's cost on loopback
    (test: the same answer)."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return sanitize_address(("", address), encoding)
    return sanitize_address(address, encoding)


def record_failure(
    ids: list[int], exc: Exception | str, result: DeliveryResult | None, *, permanent: bool = False
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
        if result is not None:
            result.failed += 1


def retry(ids: list[int]) -> int:
    """Put failed alerts back in the queue (the admin's "retry" action)."""
    return Alert.objects.filter(id__in=ids, sent_at__isnull=True).update(
        failed=False, attempts=0, next_attempt_at=timezone.now(), claimed_until=None
    )
