"""The tracking machinery's own state: sweep runs, alerts (an outbox) and
subscriptions."""

from __future__ import annotations

from django.db import models


class SweepRun(models.Model):
    """One run of the deadline sweep: when, and what it changed."""

    started_at = models.DateTimeField(db_index=True)
    evaluated_at = models.DateTimeField(help_text="The moment the sweep judged ('now')")
    finished_at = models.DateTimeField(null=True, blank=True)
    flagged = models.PositiveIntegerField(default=0)
    cleared = models.PositiveIntegerField(default=0)
    queued = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"sweep at {self.evaluated_at:%Y-%m-%d %H:%M}"
