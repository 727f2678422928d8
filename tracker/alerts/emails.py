"""One function per email, each rendering a subject, a text and an HTML part from
templates into an ``EmailMultiAlternatives``. The caller sends it."""

from __future__ import annotations

import contextlib
import datetime as dt
import smtplib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.translation import gettext, ngettext, override

from commitments import deadlines

from ..models import Alert, AlertKind, Subscription
from . import unsubscribe
from .links import milestone_links


def describe(alert: Alert, now: dt.datetime) -> dict[str, Any]:
    m = alert.milestone
    zone = m.time_zone()
    left = deadlines.days_remaining(m.due_on, now=now, time_zone=zone)
    if alert.kind == AlertKind.COMPLETED:
        when = gettext("completed on %(date)s") % {"date": m.completed_on or alert.due_on}
    elif left is None:
        when = gettext("no deadline")
    elif left < 0:
        when = ngettext("%(n)d day overdue", "%(n)d days overdue", -left) % {"n": -left}
    elif left == 0:
        when = gettext("due today")
    else:
        when = ngettext("%(n)d day left", "%(n)d days left", left) % {"n": left}
    return {
        "alert": alert,
        "milestone": m,
        "agreement": m.commitment.agreement,
        "when": when,
        # The deadline moment, in the agreement's zone, named: "overdue since 27 April
        # 2026, 00:00 Tokyo time (JST)"; each item says its own zone.
        "deadline": deadlines.moment_words(m.overdue_from, zone) if m.overdue_from else "",
        "label": label(alert.kind),
        "links": milestone_links(m),
    }


def label(kind: str) -> str:
    if kind == AlertKind.OVERDUE:
        return gettext("OVERDUE")
    if kind == AlertKind.COMPLETED:
        return gettext("COMPLETED")
    days = int(kind.removeprefix("due_"))
    return ngettext("DUE IN %(n)d DAY", "DUE IN %(n)d DAYS", days) % {"n": days}


def one_line(text: str) -> str:
    """A header value on one line: a title typed with a line break must not make the
    message unsendable (Django refuses headers with newlines)."""
    return " ".join(text.split())


# Stands for the unsubscribe link in a rendering shared by many recipients: the one
# string in the bodies that differs from one recipient to the next.
LINK_STAND_IN = "https://unsubscribe.invalid/stand-in/"


@dataclass(frozen=True)
class Rendering:
    subject: str
    text: str
    html: str


# Kept by delivery for one batch: alike messages (the same events) are rendered once,
# so that 10,000 readers of one event cost one rendering, not 10,000.
Rendered = dict[tuple[Any, ...], Rendering]


def alerts_message(
    recipient: str,
    alerts: list[Alert],
    *,
    now: dt.datetime,
    rendered: Rendered,
    language: str = "en",
) -> EmailMultiAlternatives:
    """One email for all of a recipient's alerts in this run, in their ``language``
    (the record's text in it where it has one, and the links to its pages); the
    subject names the most urgent one. Its unsubscribe link silences the subscription
    behind that alert (or, for an owner's alert, offers everything to this address)."""
    key = (language, now.date(), *sorted((a.event_id or -a.pk, a.kind) for a in alerts))
    with override(language):
        if key not in rendered:
            rendered[key] = _render(alerts, now)
        top = min(alerts, key=lambda a: (AlertKind.urgency(a.kind), a.due_on, a.pk))
        return _message(recipient, rendered[key], unsubscribe.urls(alert=top))


def _render(alerts: list[Alert], now: dt.datetime) -> Rendering:
    items = sorted(
        (describe(a, now) for a in alerts),
        key=lambda i: (AlertKind.urgency(i["alert"].kind), i["milestone"].due_on or dt.date.max),
    )
    top = items[0]
    subject = gettext("%(label)s: %(title)s") % {
        "label": top["label"],
        "title": one_line(top["milestone"].title),
    }
    if top["milestone"].due_on:
        subject += gettext(" (due %(date)s)") % {"date": top["milestone"].due_on.isoformat()}
    if len(items) > 1:
        more = len(items) - 1
        subject += ngettext(" and %(n)d more", " and %(n)d more", more) % {"n": more}
    context = _context({"items": items})
    return Rendering(
        subject,
        render_to_string("tracker/email/alerts.txt", context),
        render_to_string("tracker/email/alerts.html", context),
    )


def digest_message(subscription: Subscription, context: dict[str, Any]) -> EmailMultiAlternatives:
    """In the language active (``digests`` renders each inside the subscriber's)."""
    subject = gettext(
        "Weekly digest: %(overdue)d overdue, %(upcoming)d due in the next 30 days"
    ) % {"overdue": len(context["overdue"]), "upcoming": len(context["upcoming"])}
    context = _context(context)
    rendering = Rendering(
        subject,
        render_to_string("tracker/email/digest.txt", context),
        render_to_string("tracker/email/digest.html", context),
    )
    return _message(subscription.address, rendering, unsubscribe.urls(subscription=subscription))


def _message(recipient: str, r: Rendering, links: dict[str, str]) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=r.subject,
        body=r.text.replace(LINK_STAND_IN, links["page"]),
        to=[recipient],
        # RFC 8058 one-click unsubscribe, which mail clients offer beside the sender.
        headers={
            "List-Unsubscribe": f"<{links['one_click']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(r.html.replace(LINK_STAND_IN, escape(links["page"])), "text/html")
    return message


def _context(context: dict[str, Any]) -> dict[str, Any]:
    return {
        **context,
        "unsubscribe_url": LINK_STAND_IN,
        "unsubscribe_days": settings.TRACKER_UNSUBSCRIBE_LINK_DAYS,
        "site_url": settings.SITE_URL,
    }


# What a mail server's refusal, or its absence, raises: the message is retried later.
TRANSPORT_ERRORS = (smtplib.SMTPException, OSError)


class Unreachable(Exception):
    """No connection to the mail server could be opened: nothing more can be sent now."""


class Mailer:
    """EMAIL_BACKEND's connection, opened once for a batch of messages, each sent on
    its own (``send_messages([message])``) so that each outcome is known. After a
    refusal the connection is closed, and the next message opens a fresh one (the
    server may have dropped it)."""

    def __enter__(self) -> Mailer:
        self.connection = get_connection()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._drop()

    def _drop(self) -> None:
        with contextlib.suppress(*TRANSPORT_ERRORS):
            self.connection.close()

    def send(self, message: EmailMessage) -> None:
        """Raises Unreachable, a transport error (refused: retry later) or any other
        exception (the message itself cannot be built: a bad header)."""
        try:
            self.connection.open()  # a no-op while the connection is open
        except TRANSPORT_ERRORS as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}") from exc
        try:
            self.connection.send_messages([message])
        except TRANSPORT_ERRORS:
            self._drop()
            raise
