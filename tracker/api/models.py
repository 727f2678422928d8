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
    "commitments_logentry",  # migration 0003
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


# What the event feed follows (/api/v1/events/): the tables above and the log.
EVENT_TABLES = {
    "commitments_agreement": "agreement",
    "commitments_commitment": "commitment",
    "commitments_milestone": "milestone",
    "commitments_milestonepart": "milestone_part",
    "commitments_statusupdate": "status_update",
    "commitments_deadlinerevision": "deadline_revision",
    "commitments_logentry": "log_entry",
    "commitments_source": "source",
    "commitments_lead": "lead",
    "commitments_party": "party",
}


class Event(models.Model):
    """One change the tracker recorded, appended by database triggers (migration 0003)
    in the writer's transaction, whatever the write path. Never updated.

    ``txid`` is the writing transaction's id on PostgreSQL (0 on SQLite, whose writers
    take turns): the feed orders by (txid, id) and shows only transactions older than
    every one still running, so an event committed late is never behind a cursor."""

    txid = models.BigIntegerField()
    at = models.DateTimeField()
    subject = models.CharField(max_length=32)  # EVENT_TABLES' values
    action = models.CharField(max_length=32)  # created, changed, deleted, archived, ...
    object_id = models.BigIntegerField()
    milestone_id = models.BigIntegerField(null=True)
    commitment_id = models.BigIntegerField(null=True)

    class Meta:
        indexes = [models.Index(fields=["txid", "id"], name="event_cursor_idx")]

    def __str__(self) -> str:
        return f"{self.subject} {self.object_id} {self.action}"


class FeedHorizon(models.Model):
    """One row (id 1): the newest event, in feed order, that the retention job deleted
    (``tracker.api.events.prune``). A cursor before it may have missed events, so the
    feed answers it with 410 Gone rather than silently skipping them."""

    id = models.PositiveSmallIntegerField(primary_key=True)
    txid = models.BigIntegerField()
    event_id = models.BigIntegerField()
    pruned_at = models.DateTimeField()

    class Meta:
        verbose_name = "event feed horizon"

    def __str__(self) -> str:
        return f"events up to {self.txid}.{self.event_id} pruned at {self.pruned_at:%Y-%m-%d %H:%M}"
