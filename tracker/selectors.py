"""Reads of the tracking machinery's state."""

from __future__ import annotations

import datetime as dt

from .models import SweepRun


def last_sweep_at() -> dt.datetime | None:
    """When the last finished sweep judged the deadlines (None before the first)."""
    return (
        SweepRun.objects.filter(finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("evaluated_at", flat=True)
        .first()
    )
