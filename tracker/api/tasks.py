"""The event feed's retention, beside the feed (beat: "prune-events", hourly)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import events


@shared_task(acks_late=True)
def prune_events() -> int:
    """Delete the event feed's events older than API_EVENT_RETENTION_DAYS (0: never)."""
    days = settings.API_EVENT_RETENTION_DAYS
    if days <= 0:
        return 0
    return events.prune(timezone.now() - dt.timedelta(days=days))
