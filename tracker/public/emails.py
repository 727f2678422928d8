"""The public site's one email: the follow confirmation (a subject, a text and an
HTML part, as tracker.emails does for alerts)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils.translation import gettext

from tracker.alerts.emails import one_line


def send_follow_confirmation(email: str, target: object, url: str) -> None:
    context = {
        "target": target,
        "url": url,
        "hours": settings.TRACKER_FOLLOW_CONFIRM_MAX_AGE // 3600,
        "site_url": settings.SITE_URL,
    }
    message = EmailMultiAlternatives(
        subject=gettext("Confirm: follow “%(target)s”") % {"target": one_line(str(target))},
        body=render_to_string("tracker/public/email/confirm.txt", context),
        to=[email],
    )
    message.attach_alternative(
        render_to_string("tracker/public/email/confirm.html", context), "text/html"
    )
    message.send()
