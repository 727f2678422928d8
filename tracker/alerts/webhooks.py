"""The webhook channel: one signed POST per alert, per the Standard Webhooks
specification (https://www.standardwebhooks.com/).

- Headers ``webhook-id`` (the alert's, the same on every retry, so the receiver can
  de-duplicate), ``webhook-timestamp`` (seconds) and ``webhook-signature``:
  ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` keyed with the endpoint's
  secret (``whsec_`` + base64 key).
- Every attempt is logged (WebhookAttempt). A failure is retried with exponential
  backoff (as for email); after TRACKER_WEBHOOK_DISABLE_AFTER failures in a row the
  endpoint is disabled, with the reason shown in the admin.
- SSRF: the host is resolved once, every address must be public (not loopback,
  private, link-local, reserved or multicast) unless TRACKER_WEBHOOK_ALLOW_PRIVATE,
  and the connection goes to that vetted address (no second lookup to rebind).
  Redirects are not followed (a 3xx is a failure) and the timeout is short
  (TRACKER_WEBHOOK_TIMEOUT_SECONDS): it bounds the whole request, not each read, so a
  receiver dripping its answer a byte at a time cannot hold the batch.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import secrets
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django.utils.encoding import iri_to_uri

from commitments.models import Milestone

from .. import netguard
from ..models import Alert, WebhookAttempt, WebhookEndpoint
from ..netguard import Refused
from .links import milestone_links

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def payload(alert: Alert) -> dict[str, Any]:
    m: Milestone = alert.milestone
    agreement = m.commitment.agreement
    return {
        "type": f"milestone.{alert.kind}",
        "timestamp": (alert.event.at if alert.event else alert.created_at).isoformat(),
        "data": {
            "kind": alert.kind,
            "milestone": {
                "id": m.pk,
                "title": m.title,
                "status": m.status,
                "due_on": m.due_on.isoformat() if m.due_on else None,
                "completed_on": m.completed_on.isoformat() if m.completed_on else None,
                "links": milestone_links(m),
            },
            "agreement": {
                "slug": agreement.slug,
                "title": agreement.title,
                "time_zone": agreement.time_zone,
            },
            "due_on": alert.due_on.isoformat(),
        },
    }


def vetted_address(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, ip) for ``url``, or Refused (tracker/netguard.py)."""
    return netguard.vet(url, allow_private=settings.TRACKER_WEBHOOK_ALLOW_PRIVATE)


class _Pinned(http.client.HTTPConnection):
    """Connects to the vetted IP, whatever the host name resolves to by then."""

    def __init__(self, host: str, port: int, ip: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.ip = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self.ip, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, ip: str, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.ip = ip

    def connect(self) -> None:
        sock = socket.create_connection((self.ip, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def _cut(conn: http.client.HTTPConnection, expired: threading.Event) -> None:
    """The whole request's deadline (a timer's thread): shutting the socket down ends
    the read it is blocked in."""
    expired.set()
    if conn.sock is not None:
        with contextlib.suppress(OSError):  # closed already
            conn.sock.shutdown(socket.SHUT_RDWR)


@dataclass
class Outcome:
    ok: bool
    status: int | None = None
    excerpt: str = ""
    error: str = ""

    def __post_init__(self) -> None:
        # The receiver's bytes (an excerpt, a garbled status line in an error) are
        # logged as text, and PostgreSQL's text holds no NUL.
        self.excerpt = self.excerpt.replace("\x00", "\N{REPLACEMENT CHARACTER}")
        self.error = self.error.replace("\x00", "\N{REPLACEMENT CHARACTER}")


def post(endpoint: WebhookEndpoint, msg_id: str, body: bytes) -> Outcome:
    """One signed POST. Never raises for the endpoint's faults."""
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": "commitment-tracker-webhooks",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(endpoint.secret, msg_id, timestamp, body),
    }
    timeout = settings.TRACKER_WEBHOOK_TIMEOUT_SECONDS
    expired = threading.Event()
    try:
        scheme, host, port, ip = vetted_address(endpoint.url)
        parts = urlsplit(endpoint.url)
        # An address typed with non-ASCII in its path is sent percent-encoded, as a
        # browser would (http.client sends ASCII only).
        path = iri_to_uri((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        conn = (_PinnedTLS if scheme == "https" else _Pinned)(host, port, ip, timeout)
        deadline = threading.Timer(timeout, _cut, (conn, expired))
        deadline.start()
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read(500).decode("utf-8", "replace")  # an excerpt for the log
        finally:
            deadline.cancel()
            conn.close()
    except Refused as exc:
        return Outcome(False, error=f"refused: {exc}")
    except (OSError, http.client.HTTPException) as exc:
        if not expired.is_set():
            return Outcome(False, error=f"{type(exc).__name__}: {exc}")
    if expired.is_set():
        return Outcome(False, error=f"timed out: no whole answer within {timeout} s")
    ok = 200 <= response.status < 300
    error = "" if ok else f"HTTP {response.status}"
    if 300 <= response.status < 400:
        error += " (redirects are not followed)"
    return Outcome(ok, response.status, text, error)


def deliver(alert: Alert) -> str:
    """Send one webhook alert and log the attempt. Returns "" on success, else the
    error (the caller records it on the alert and backs off)."""
    endpoint = alert.endpoint
    assert endpoint is not None
    body = json.dumps(payload(alert), separators=(",", ":")).encode()
    started = time.monotonic()
    outcome = post(endpoint, f"alert_{alert.pk}", body)
    now = timezone.now()
    WebhookAttempt.objects.create(
        alert=alert,
        endpoint=endpoint,
        at=now,
        status_code=outcome.status,
        ok=outcome.ok,
        duration_ms=int((time.monotonic() - started) * 1000),
        response_excerpt=outcome.excerpt,
        error=outcome.error,
    )
    if outcome.ok:
        Alert.objects.filter(pk=alert.pk).update(
            sent_at=now, claimed_until=None, attempts=F("attempts") + 1, last_error=""
        )
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
        return ""
    _count_failure(endpoint, outcome.error, now)
    return outcome.error


def _count_failure(endpoint: WebhookEndpoint, error: str, now: Any) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    limit = settings.TRACKER_WEBHOOK_DISABLE_AFTER
    WebhookEndpoint.objects.filter(
        pk=endpoint.pk, consecutive_failures__gte=limit, disabled_at__isnull=True
    ).update(
        disabled_at=now,
        disabled_reason=f"{limit} failed deliveries in a row; the last: {error}"[:2000],
    )


def enable(endpoint_ids: list[int]) -> int:
    """Switch disabled endpoints back on (the admin's action)."""
    return WebhookEndpoint.objects.filter(pk__in=endpoint_ids).update(
        disabled_at=None, disabled_reason="", consecutive_failures=0, active=True
    )
