"""Archive on save: a source, a log entry or a status change with evidence, once saved,
makes a pending capture of its address (in the same transaction) and rings the
archiving task once that commits. Nothing here fetches: the staff's save never waits
for a remote page, and a lost doorbell only waits for beat's next ``archive_due``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from commitments.models import LogEntry, Source, StatusUpdate


def _wanted(address: str, raw: bool) -> None:
    if raw or not settings.TRACKER_ARCHIVE_ON_SAVE:
        return
    from . import services

    if not services.capture_wanted(address):
        return
    # Once per transaction: the loader saves a hundred sources in one, and with the
    # broker down each doorbell may wait REDIS_TIMEOUT. (Django's own list of callbacks
    # waiting for this commit; a rollback empties it.)
    waiting = transaction.get_connection().run_on_commit
    if not any(entry[1] is _doorbell for entry in waiting):
        transaction.on_commit(_doorbell)


def _doorbell() -> None:
    from tracker.alerts.tasks import ring

    from .tasks import archive_due

    ring(archive_due)  # committed by now: published at once, tried once


def source_saved(sender: Any, instance: Source, raw: bool = False, **kwargs: Any) -> None:
    _wanted(instance.reference, raw)


def log_saved(sender: Any, instance: LogEntry, raw: bool = False, **kwargs: Any) -> None:
    _wanted(instance.source_address, raw)


def update_saved(sender: Any, instance: StatusUpdate, raw: bool = False, **kwargs: Any) -> None:
    if instance.evidence_url:
        _wanted(instance.evidence_url, raw)
