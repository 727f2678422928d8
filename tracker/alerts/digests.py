"""The weekly digest: Monday 09:00 in each subscriber's own time zone.

Beat runs in UTC and calls this every few minutes; the local time is decided here,
not by Celery's crontab (which has open daylight-saving bugs: skipped and doubled
runs). A digest is due once the subscriber's current week has reached Monday 09:00,
and is sent once per (subscription, week): the unique DigestSent row is the claim,
written before the email goes out and removed again if sending fails.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import override

from commitments.models import Milestone, StatusUpdate, nothing_archived

from ..models import DigestSent, Subscription
from . import emails
from .audience import Audience

log = logging.getLogger(__name__)


def week_due(now: dt.datetime, time_zone: str) -> dt.date | None:
    """The Monday of the subscriber's current week if its 09:00 has passed there."""
    zone = zoneinfo.ZoneInfo(time_zone)
    local = now.astimezone(zone)
    monday = local.date() - dt.timedelta(days=local.weekday())
    return monday if now >= dt.datetime.combine(monday, dt.time(9), tzinfo=zone) else None


def send_due_digests(*, now: dt.datetime | None = None) -> int:
    """Send every digest due. A subscription whose stored values are unusable (a time
    zone that does not exist) gets the error on its row; the others go on."""
    now = now or timezone.now()
    audience = Audience.load()
    sent = 0
    for sub in audience.subscriptions:
        if "digest" not in sub.kinds or not sub.address:
            continue
        if sub.address in audience.opted_out or sub.pk in audience.silenced:
            continue
        try:
            week_of = week_due(now, sub.time_zone or settings.TIME_ZONE)
            if week_of is not None:
                sent += _send_one(sub, week_of, now)
        except Exception as exc:  # this subscription's fault, not everyone's
            log.exception("digest for subscription %s failed", sub.pk)
            problem = f"digest: {type(exc).__name__}: {exc}"[:2000]
            Subscription.objects.filter(pk=sub.pk).update(last_error=problem)
    return sent


def _send_one(sub: Subscription, week_of: dt.date, now: dt.datetime) -> int:
    try:
        with transaction.atomic():
            claim = DigestSent.objects.create(subscription=sub, week_of=week_of, sent_at=now)
    except IntegrityError:
        return 0  # this week's digest went out already (or is going out elsewhere)
    try:
        with override(sub.language):  # the record's text, words and links in it
            emails.digest_message(sub, _content(sub, week_of, now)).send()
    except emails.TRANSPORT_ERRORS as exc:
        log.warning("digest for subscription %s failed, will retry: %s", sub.pk, exc)
        claim.delete()
        return 0
    except Exception:  # not the server's fault: recorded on the subscription by the caller
        claim.delete()
        raise
    return 1


def _content(sub: Subscription, week_of: dt.date, now: dt.datetime) -> dict[str, object]:
    milestones = Milestone.objects.filter(
        sub.milestone_filter(), nothing_archived()
    ).select_related("commitment__agreement")
    changed = (
        StatusUpdate.objects.filter(at__gte=now - dt.timedelta(days=7))
        .filter(sub.milestone_filter("milestone__"), nothing_archived("milestone__"))
        .select_related("milestone")
        .order_by("-at")[:200]
    )
    return {
        "week_of": week_of,
        "changed": list(changed),
        "overdue": list(milestones.overdue_at(now).order_by("due_on")),
        "upcoming": list(milestones.due_within(now, 30).order_by("due_on")),
    }
