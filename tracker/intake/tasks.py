from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from . import watch


@shared_task(acks_late=True)
def fetch_due_sources() -> dict[str, int]:
    """Beat runs this every few minutes; each source keeps its own interval. Safe to
    run twice at once: each source is claimed with a conditional update."""
    return dict(watch.run_due(timezone.now()))
