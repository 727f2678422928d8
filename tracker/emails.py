"""One function per email, each rendering a subject, a text and an HTML part."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape

from commitments import deadlines
from commitments.models import Milestone

from . import unsubscribe
from .models import Alert, AlertKind

UNSUBSCRIBE_SALT = "tracker.unsubscribe"

# The address-bearing tokens below are the first pipeline's, kept for links in emails
# already sent (tracker.views.unsubscribe reads them); new messages carry
# tracker.unsubscribe's tokens, which name no address.


def unsubscribe_token(email: str) -> str:
    return signing.dumps(email.lower(), salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_email(token: str) -> str:
    """The address a token was made for; raises signing.BadSignature if forged."""
    return str(signing.loads(token, salt=UNSUBSCRIBE_SALT))


def unsubscribe_url(email: str) -> str:
    return settings.SITE_URL + reverse("tracker:unsubscribe", args=[unsubscribe_token(email)])


def milestone_links(m: Milestone) -> dict[str, str]:
    return {
        "page": f"{settings.SITE_URL}{reverse('tracker:milestone', args=[m.pk])}",
        "admin": f"{settings.SITE_URL}{reverse('admin:commitments_milestone_change', args=[m.pk])}",
    }


def describe(alert: Alert, now: dt.datetime) -> dict[str, Any]:
    m = alert.milestone
    left = deadlines.days_remaining(m.due_on, now=now, time_zone=m.time_zone())
    if alert.kind == AlertKind.COMPLETED:
        when = f"completed on {m.completed_on or alert.due_on}"
    elif left is None:
        when = "no deadline"
    elif left < 0:
        when = f"{-left} day{'s' if left != -1 else ''} overdue"
    else:
        when = "due today" if left == 0 else f"{left} day{'s' if left != 1 else ''} left"
    return {
        "alert": alert,
        "milestone": m,
        "agreement": m.commitment.agreement,
        "when": when,
        "label": label(alert.kind),
        "links": milestone_links(m),
    }


def label(kind: str) -> str:
    if kind == AlertKind.OVERDUE:
        return "OVERDUE"
    if kind == AlertKind.COMPLETED:
        return "COMPLETED"
    days = int(kind.removeprefix("due_"))
    return f"DUE IN {days} DAY{'S' if days != 1 else ''}"


def one_line(text: str) -> str:
    """A header value on one line: a title typed with a line break must not make the
    message unsendable (Django refuses headers with newlines)."""
    return " ".join(text.split())


def send_alerts(recipient: str, alerts: list[Alert], *, now: dt.datetime) -> None:
    alerts_message(recipient, alerts, now=now).send()


# Stands for the unsubscribe link in a rendering kept for other recipients; the one
# string in the bodies that differs from one recipient to the next.
LINK_STAND_IN = "https://unsubscribe.invalid/stand-in/"
Rendered = dict[tuple[Any, ...], tuple[str, str, str]]


def alerts_message(
    recipient: str,
    alerts: list[Alert],
    *,
    now: dt.datetime,
    rendered: Rendered | None = None,
) -> EmailMultiAlternatives:
    """One email for all of a recipient's alerts in this run; the subject names the
    most urgent one. Sent by the caller.

    ``rendered``, a dict kept by the caller for one batch, remembers the subject and
    bodies of alerts about the same events, so that 10,000 readers of one event cost
    one rendering (bench/delivery.py); only the unsubscribe link is put in per message.
    """
    key = (now.date(), *sorted((a.event_id or -a.pk, a.kind) for a in alerts))
    top_alert = min(alerts, key=lambda a: (AlertKind.urgency(a.kind), a.due_on, a.pk))
    links = unsubscribe.urls(alert=top_alert)
    if rendered is not None and key in rendered:
        subject, text, html = rendered[key]
        return _assemble(recipient, subject, text, html, links)
    subject, text, html = _render(alerts, now)
    if rendered is not None:
        rendered[key] = (subject, text, html)
    return _assemble(recipient, subject, text, html, links)


def _render(alerts: list[Alert], now: dt.datetime) -> tuple[str, str, str]:
    items = sorted(
        (describe(a, now) for a in alerts),
        key=lambda i: (AlertKind.urgency(i["alert"].kind), i["milestone"].due_on or dt.date.max),
    )
    top = items[0]
    subject = f"{top['label']}: {one_line(top['milestone'].title)}"
    if top["milestone"].due_on:
        subject += f" (due {top['milestone'].due_on.isoformat()})"
    if len(items) > 1:
        subject += f" and {len(items) - 1} more"
    context = _context({"items": items}, LINK_STAND_IN)
    text = render_to_string("tracker/email/alerts.txt", context)
    return subject, text, render_to_string("tracker/email/alerts.html", context)


def _assemble(
    recipient: str, subject: str, text: str, html: str, links: dict[str, str]
) -> EmailMultiAlternatives:
    """The message, with this recipient's link. The link silences the subscription
    behind the most urgent alert (or, for an owner's alert, offers everything to this
    address)."""
    url = links["page"]
    message = EmailMultiAlternatives(
        subject=subject,
        body=text.replace(LINK_STAND_IN, url),
        to=[recipient],
        headers=_list_headers(links),
    )
    message.attach_alternative(html.replace(LINK_STAND_IN, escape(url)), "text/html")
    return message  # a bad header raises when it is sent (BadHeaderError, a ValueError)


def _context(context: dict[str, Any], url: str) -> dict[str, Any]:
    return {
        **context,
        "unsubscribe_url": url,
        "unsubscribe_days": settings.TRACKER_UNSUBSCRIBE_LINK_DAYS,
        "site_url": settings.SITE_URL,
    }


def _list_headers(links: dict[str, str]) -> dict[str, str]:
    return {
        "List-Unsubscribe": f"<{links['one_click']}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def send_digest(recipient: str, context: dict[str, Any], subscription: Any = None) -> None:
    subject = (
        f"Weekly digest: {len(context['overdue'])} overdue, "
        f"{len(context['upcoming'])} due in the next 30 days"
    )
    links = (
        unsubscribe.urls(subscription=subscription)
        if subscription is not None
        else {"page": unsubscribe_url(recipient), "one_click": unsubscribe_url(recipient)}
    )
    _message(recipient, subject, "tracker/email/digest", context, links).send()


def _message(
    recipient: str,
    subject: str,
    template: str,
    context: dict[str, Any],
    links: dict[str, str],
) -> EmailMultiAlternatives:
    context = _context(context, links["page"])
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{template}.txt", context),
        to=[recipient],
        headers=_list_headers(links),
    )
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    message.message()  # builds the headers now: a bad one raises here, not mid-batch
    return message
