"""Archive on save: a source, a log entry or a status change with evidence, once saved,
makes a pending capture of its address (in the same transaction) and rings the
archiving task once that commits. Nothing here fetches: the staff's save never waits
for a remote page, and a lost doorbell only waits for beat's next ``archive_due``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models, transaction

from commitments.models import LogEntry, Source, StatusUpdate

# The address each model cites. A status change with evidence writes a StatusUpdate row
# (services.milestone_set_status), so that is where a milestone's evidence is heard.
ADDRESS_FIELDS: dict[type[models.Model], str] = {
    Source: "reference",
    LogEntry: "source_address",
    StatusUpdate: "evidence_url",
}


def cited_saved(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if raw or not settings.TRACKER_ARCHIVE_ON_SAVE:
        return
    from . import services

    if not services.capture_wanted(getattr(instance, ADDRESS_FIELDS[sender])):
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
