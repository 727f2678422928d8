"""Unsubscribing, honestly.

- A link silences the subscription that sent the message; the page offers, as a
  second choice, everything to this address (subscriptions and owner alerts alike).
- Links carry no readable address: the token is a signed reference to the alert (or,
  for a digest, the subscription) the message was about; the address is looked up
  here. A forged or altered token is refused.
- The link in the message's body expires after TRACKER_UNSUBSCRIBE_LINK_DAYS (a link
  forwarded or found in an old mailbox stops working); the List-Unsubscribe one-click
  link (RFC 8058, a POST the mail client sends) keeps working for the message's
  lifetime (TRACKER_UNSUBSCRIBE_ONECLICK_DAYS).
- An opt-out is obeyed at send time (audience.py), also for alerts queued before.
- POSTs are throttled (tracker.ops.throttle, as the email follow is): with a valid
  token per address it names, with an invalid one per client. A mail provider's
  shared address sending one-click POSTs for its readers is never counted as one
  client, so bad tokens sent through it cannot lock its readers out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language, override
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ..models import Alert, Channel, OptOut, Subscription
from ..ops import throttle

LINK_SALT = "tracker.unsubscribe.link"
ONECLICK_SALT = "tracker.unsubscribe.one-click"


@dataclass(frozen=True)
class Target:
    address: str
    subscription: Subscription | None


def urls(*, alert: Alert | None = None, subscription: Subscription | None = None) -> dict[str, str]:
    """The body link and the one-click link for one message, about the alert (or, for
    a digest, the subscription)."""
    if alert is not None:
        data = {"a": alert.pk}
    else:
        assert subscription is not None
        data = {"s": subscription.pk}
    page = signing.dumps(data, salt=LINK_SALT, compress=True)
    one_click = signing.dumps(data, salt=ONECLICK_SALT, compress=True)
    return {
        "page": settings.SITE_URL + reverse("tracker:unsubscribe", args=[page]),
        "one_click": settings.SITE_URL + reverse("tracker:unsubscribe_one_click", args=[one_click]),
    }


# The first pipeline's tokens named the address, and meant everything to it. They are
# still read, for links in emails sent before.
LEGACY_SALT = "tracker.unsubscribe"


def legacy_token(email: str) -> str:
    return signing.dumps(email.lower(), salt=LEGACY_SALT, compress=True)


def target(value: str, *, salt: str, days: int) -> Target | None:
    """Who a token is about; None if forged, expired, or about something gone."""
    try:
        data = signing.loads(value, salt=salt, max_age=dt.timedelta(days=days))
    except signing.SignatureExpired:
        return None
    except signing.BadSignature:
        return _legacy(value)
    if not isinstance(data, dict):
        return None
    if "a" in data:
        alert = Alert.objects.select_related("subscription__user").filter(pk=data["a"]).first()
        if alert is None or alert.channel != Channel.EMAIL:
            return None
        return Target(alert.recipient.lower(), alert.subscription)
    if not isinstance(data.get("s"), int):
        return None
    sub = Subscription.objects.select_related("user").filter(pk=data["s"]).first()
    return Target(sub.address, sub) if sub and sub.address else None


def _legacy(value: str) -> Target | None:
    try:
        return Target(str(signing.loads(value, salt=LEGACY_SALT)).lower(), None)
    except signing.BadSignature:
        return None


def opt_out(t: Target, *, everything: bool) -> None:
    """Idempotent: a second click changes nothing."""
    subscription = None if everything or t.subscription is None else t.subscription
    try:
        with transaction.atomic():
            OptOut.objects.create(email=t.address, subscription=subscription)
    except IntegrityError:
        pass  # unsubscribed already


def _page(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(request, "tracker/unsubscribe_choice.html", context, status=status)
    if status == 429:
        response["Retry-After"] = throttle.RETRY_AFTER
    return response


def _allowed(request: HttpRequest, t: Target | None) -> bool:
    """Counts one unsubscribe POST: per address for a valid token, per client else."""
    if t is None:
        return throttle.client_allowed(
            request, "unsubscribe", settings.TRACKER_UNSUBSCRIBE_PER_CLIENT
        )
    return throttle.address_allowed(
        t.address, "unsubscribe", settings.TRACKER_UNSUBSCRIBE_PER_ADDRESS
    )


@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """The body link: a page that asks (GET changes nothing: mail scanners follow
    links), then silences this subscription or everything to this address."""
    t = target(token, salt=LINK_SALT, days=settings.TRACKER_UNSUBSCRIBE_LINK_DAYS)
    if request.method == "POST" and not _allowed(request, t):
        return _page(request, {"throttled": True}, status=429)
    if t is None:
        days = settings.TRACKER_UNSUBSCRIBE_LINK_DAYS
        return _page(request, {"invalid": True, "days": days}, status=400)
    context = {"address": t.address, "subscription": t.subscription}
    # The page speaks the subscription's language, as its emails did.
    with override(t.subscription.language if t.subscription else get_language()):
        if request.method == "GET":
            return _page(request, {**context, "ask": True})
        everything = request.POST.get("scope") == "everything" or t.subscription is None
        opt_out(t, everything=everything)
        return _page(request, {**context, "done": True, "everything": everything})


@csrf_exempt  # RFC 8058 one-click: mail clients POST without a session or CSRF token
@require_http_methods(["POST"])
def one_click(request: HttpRequest, token: str) -> HttpResponse:
    t = target(token, salt=ONECLICK_SALT, days=settings.TRACKER_UNSUBSCRIBE_ONECLICK_DAYS)
    if not _allowed(request, t):
        return HttpResponse(
            "Too many unsubscribe requests: try again in an hour.",
            content_type="text/plain",
            status=429,
            headers={"Retry-After": throttle.RETRY_AFTER},
        )
    if t is None:
        return HttpResponse("This unsubscribe link is not valid.", status=400)
    opt_out(t, everything=t.subscription is None)
    return HttpResponse("Unsubscribed.", content_type="text/plain")
