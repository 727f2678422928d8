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
import smtplib
import zoneinfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from commitments.models import Milestone, StatusUpdate

from . import emails
from .models import DigestSent, OptOut, Subscription

log = logging.getLogger(__name__)
SEND_AT = dt.time(9, 0)


def week_due(now: dt.datetime, time_zone: str) -> dt.date | None:
    """The Monday of the subscriber's current week if its 09:00 has passed there."""
    local = now.astimezone(zoneinfo.ZoneInfo(time_zone))
    monday = local.date() - dt.timedelta(days=local.weekday())
    send_at = dt.datetime.combine(monday, SEND_AT, tzinfo=zoneinfo.ZoneInfo(time_zone))
    return monday if now >= send_at else None


def send_due_digests(*, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    opted_out = set(OptOut.objects.values_list("email", flat=True))
    sent = 0
    for sub in Subscription.objects.filter(active=True).select_related("user"):
        if "digest" not in sub.kinds or not sub.address or sub.address in opted_out:
            continue
        week_of = week_due(now, sub.time_zone or settings.TIME_ZONE)
        if week_of is None:
            continue
        sent += _send_one(sub, week_of, now)
    return sent


def _send_one(sub: Subscription, week_of: dt.date, now: dt.datetime) -> int:
    try:
        with transaction.atomic():
            claim = DigestSent.objects.create(subscription=sub, week_of=week_of, sent_at=now)
    except IntegrityError:
        return 0  # this week's digest went out already (or is going out elsewhere)
    try:
        emails.send_digest(sub.address, _content(sub, week_of, now))
    except (smtplib.SMTPException, OSError) as exc:
        log.warning("digest for %s failed, will retry: %s", sub.address, exc)
        claim.delete()
        return 0
    return 1


def _content(sub: Subscription, week_of: dt.date, now: dt.datetime) -> dict[str, object]:
    milestones = Milestone.objects.filter(sub.milestone_filter()).select_related(
        "commitment__agreement"
    )
    changed = (
        StatusUpdate.objects.filter(at__gte=now - dt.timedelta(days=7))
        .filter(sub.milestone_filter("milestone__"))
        .select_related("milestone")
        .order_by("-at")[:200]
    )
    return {
        "week_of": week_of,
        "changed": list(changed),
        "overdue": list(milestones.overdue_at(now).order_by("due_on")),
        "upcoming": list(milestones.due_within(now, 30).order_by("due_on")),
    }
