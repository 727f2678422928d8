"""One function per email, each rendering a subject, a text and an HTML part."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.utils import formatdate, make_msgid
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import MIMEMixin, forbid_multi_line_headers
from django.core.mail.utils import DNS_NAME
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape

from commitments import deadlines
from commitments.models import Milestone

from . import unsubscribe
from ..models import Alert, AlertKind

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


# Stands for the unsubscribe link in a rendering kept for other recipients; the one
# string in the bodies that differs from one recipient to the next.
LINK_STAND_IN = "https://unsubscribe.invalid/stand-in/"


@dataclass
class Rendering:
    """The subject and bodies of alike messages (the same events), with the link's
    stand-in; and, once a message has been flattened, its skeleton."""

    subject: str
    text: str
    html: str
    skeleton: Skeleton | None = None


Rendered = dict[tuple[Any, ...], Rendering]


def alerts_message(
    recipient: str,
    alerts: list[Alert],
    *,
    now: dt.datetime,
    rendered: Rendered | None = None,
    links: unsubscribe.Links | None = None,
) -> AlertEmail:
    """One email for all of a recipient's alerts in this run; the subject names the
    most urgent one. Sent by the caller.

    ``rendered``, a dict kept by the caller for one batch, remembers the subject and
    bodies of alerts about the same events, so that 10,000 readers of one event cost
    one rendering (bench/delivery.py); only the unsubscribe link is put in per message.
    ``links``, kept for a batch too, makes the unsubscribe links.
    """
    key = (now.date(), *sorted((a.event_id or -a.pk, a.kind) for a in alerts))
    top_alert = min(alerts, key=lambda a: (AlertKind.urgency(a.kind), a.due_on, a.pk))
    urls = (links or unsubscribe.Links()).urls(alert=top_alert)
    rendering = rendered.get(key) if rendered is not None else None
    if rendering is None:
        rendering = _render(alerts, now)
        if rendered is not None:
            rendered[key] = rendering
    return AlertEmail(recipient, rendering, urls)


def _render(alerts: list[Alert], now: dt.datetime) -> Rendering:
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
    return Rendering(subject, text, render_to_string("tracker/email/alerts.html", context))


class AlertEmail(EmailMultiAlternatives):
    """One recipient's alert email, with this recipient's link. The link silences the
    subscription behind the most urgent alert (or, for an owner's alert, offers
    everything to this address).

    Its bytes (``as_bytes``, what every backend is given, ``message()`` included) come
    from its rendering's skeleton: the message Django builds, flattened once per
    rendering, with the four headers and the link that differ per recipient put in
    (test: the same bytes as Django's own build of this message, but for Date,
    Message-ID and the MIME boundary). Django's build of each message cost more than
    the SMTP conversation that sends it (bench/README.md, "Delivery")."""

    def __init__(self, recipient: str, rendering: Rendering, links: dict[str, str]) -> None:
        url = links["page"]
        super().__init__(
            subject=rendering.subject,
            body=rendering.text.replace(LINK_STAND_IN, url),
            to=[recipient],
            headers=_list_headers(links),
        )
        self.attach_alternative(rendering.html.replace(LINK_STAND_IN, escape(url)), "text/html")
        self.rendering, self.links = rendering, links

    def as_bytes(self) -> bytes:
        """The message as sent (CRLF line ends). A bad header raises BadHeaderError
        (a ValueError)."""
        if self.rendering.skeleton is None:
            self.rendering.skeleton = Skeleton(self.rendering)
        return self.rendering.skeleton.fill(self) or self.built_bytes()

    def built_bytes(self) -> bytes:
        """Django's own build of this message: the slow way, and the reference."""
        return bytes(super().message().as_bytes(linesep="\r\n"))

    def message(self) -> Message:
        """For backends that take a message object (console, locmem, file): the same
        bytes, parsed."""
        return message_from_bytes(self.as_bytes().replace(b"\r\n", b"\n"), _class=_Parsed)


class _Parsed(MIMEMixin, Message):  # type: ignore[misc]
    """A parsed message that flattens as Django's own do (``as_bytes(linesep=...)``)."""


# Stand-ins for the headers that differ per recipient, in a rendering's skeleton.
_HEADER_STAND_INS = {
    "To": "to@stand-in.invalid",
    "Date": "stand-in date",
    "Message-ID": "<message-id@stand-in.invalid>",
    "List-Unsubscribe": "<https://unsubscribe.invalid/one-click-stand-in/>",
}
_LINE_LIMIT = 998  # RFC 5322; a longer line makes Django encode the part otherwise


class Skeleton:
    """A rendering's message as Django builds and flattens it (CRLF), for stand-in
    headers and link; ``fill`` puts one recipient's in. Each header is folded as the
    generator folds it (``fold``). A message the skeleton cannot hold exactly (its link
    would change how a part is encoded) is left to ``fill``'s caller, which builds it
    the slow way."""

    def __init__(self, rendering: Rendering) -> None:
        stand_in = EmailMultiAlternatives(
            subject=rendering.subject,
            body=rendering.text,
            to=[_HEADER_STAND_INS["To"]],
            headers=_list_headers({"one_click": _HEADER_STAND_INS["List-Unsubscribe"][1:-1]}),
        )
        stand_in.attach_alternative(rendering.html, "text/html")
        mime = stand_in.message()  # a bad header raises here, as at a send
        mime.replace_header("Date", _HEADER_STAND_INS["Date"])
        mime.replace_header("Message-ID", _HEADER_STAND_INS["Message-ID"])
        self.encoding = stand_in.encoding or settings.DEFAULT_CHARSET
        self.policy = mime.policy.clone(linesep="\r\n")
        raw: bytes = mime.as_bytes(linesep="\r\n")
        head, _, body = raw.partition(b"\r\n\r\n")
        head += b"\r\n\r\n"
        folded = {n: self.policy.fold_binary(n, v) for n, v in _HEADER_STAND_INS.items()}
        link = LINK_STAND_IN.encode()
        links_expected = rendering.text.count(LINK_STAND_IN) + rendering.html.count(LINK_STAND_IN)
        self.usable = (
            all(p["Content-Transfer-Encoding"] in ("7bit", "8bit") for p in mime.get_payload())
            and all(head.count(f) == 1 for f in folded.values())
            and body.count(link) == links_expected
        )
        # The head cut around the four headers, in their order; the body around links.
        self.order = sorted(folded, key=lambda n: head.find(folded[n]))
        self.head_parts, rest = [], head
        for name in self.order:
            before, _, rest = rest.partition(folded[name])
            self.head_parts.append(before)
        self.head_parts.append(rest)
        self.body_parts = body.split(link)
        self.link_lines = [(len(line), line.count(link)) for line in body.split(b"\r\n")]
        self.link_lines = [(n, links) for n, links in self.link_lines if links]

    def fill(self, message: AlertEmail) -> bytes | None:
        url = message.links["page"]
        grows = len(url) - len(LINK_STAND_IN)
        if (
            not self.usable
            or not url.isascii()
            or escape(url) != url
            or any(n + links * grows > _LINE_LIMIT for n, links in self.link_lines)
        ):
            return None
        values = {
            "To": message.to[0],
            "Date": formatdate(localtime=settings.EMAIL_USE_LOCALTIME),
            "Message-ID": make_msgid(domain=DNS_NAME),
            "List-Unsubscribe": message.extra_headers["List-Unsubscribe"],
        }
        parts = [self.head_parts[0]]
        for name, after in zip(self.order, self.head_parts[1:], strict=True):
            parts += (self.fold(name, values[name]), after)
        parts.append(url.encode().join(self.body_parts))
        return b"".join(parts)

    def fold(self, name: str, value: str) -> bytes:
        """The header line as Django's message and the generator write it: Django's
        check (no line breaks) and encoding, then the policy's ``fold_binary``. An
        ASCII value of printable characters folds without the email package's
        ``Header``: kept as is on a line that fits, and when it does not, moved whole
        to the next line if it has no space to break at (test: the same bytes as
        ``fold_binary`` for these and others)."""
        name, value = forbid_multi_line_headers(name, value, self.encoding)
        if value.isascii() and value.isprintable():
            limit = self.policy.max_line_length or 1_000_000
            eol = self.policy.linesep
            if len(name) + 2 + len(value) <= limit:
                return f"{name}: {value}{eol}".encode()
            if " " not in value:
                return f"{name}: {eol} {value}{eol}".encode()
        folded: bytes = self.policy.fold_binary(name, value)
        return folded


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
