from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from . import links, services


@shared_task(acks_late=True)
def archive_due() -> dict[str, int]:
    """Rung on save, and run by beat (the retries, and any doorbell the broker lost).
    Safe to run twice at once: each capture is claimed with a conditional update."""
    now = timezone.now()
    services.discover(now)
    return dict(services.archive_due(now))


@shared_task(acks_late=True)
def check_links() -> dict[str, int]:
    """Hourly, each address once a week (TRACKER_LINK_CHECK_INTERVAL), conditional GET."""
    return dict(links.check_due(timezone.now()).outcomes)
