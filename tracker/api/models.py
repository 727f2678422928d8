"""The API's own state: one change counter that the database keeps."""

from __future__ import annotations

from django.db import models

# Every table whose rows the API shows. A trigger on each (see migration 0001) bumps
# the counter in the writer's own transaction, whatever the write path: the services'
# conditional updates, the sweep, bulk_update, the admin, the loader, a delete.
WATCHED_TABLES = [
    "commitments_party",
    "commitments_agreement",
    "commitments_agreement_parties",
    "commitments_source",
    "commitments_commitment",
    "commitments_commitment_parties",
    "commitments_lead",
    "commitments_milestone",
    "commitments_milestonepart",
    "commitments_statusupdate",
    "commitments_deadlinerevision",
]
# Owners are shown by name; only a change of name counts (not each login).
WATCHED_USER_COLUMNS = ["username", "first_name", "last_name"]


class ChangeCounter(models.Model):
    """One row (id 1), written only by database triggers, read by the API's validator.

    ``value`` grows with every committed change and becomes visible together with it.
    On PostgreSQL a deferred trigger bumps it once per transaction, at commit (so the
    row lock is held only for the commit, never across the writer's other locks); on
    SQLite, which has one writer at a time, an immediate trigger bumps it per row. ``epoch`` is
    drawn afresh if the row is ever recreated (a flush), so an old ETag cannot match.
    """

    id = models.PositiveSmallIntegerField(primary_key=True)
    value = models.BigIntegerField(default=0)
    epoch = models.CharField(max_length=32)
    changed_at = models.DateTimeField()

    class Meta:
        verbose_name = "change counter"

    def __str__(self) -> str:
        return f"{self.epoch}:{self.value}"
