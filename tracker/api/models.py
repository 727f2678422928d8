"""The API's own state, written by database triggers: the change counter behind the
ETags, and the event feed (with its pruning horizon)."""

from __future__ import annotations

from django.db import models


class ChangeCounter(models.Model):
    """One row (id 1), written only by database triggers, read by the API's validator.
    The triggers sit on every table whose rows the API shows, whatever the write path
    (migrations 0002 and 0003 list them).

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


class FeedEvent(models.Model):
    """One change the tracker recorded, appended by database triggers (migration 0003)
    in the writer's transaction, whatever the write path. Never updated.

    ``txid`` is the writing transaction's id on PostgreSQL (0 on SQLite, whose writers
    take turns): the feed orders by (txid, id) and shows only transactions older than
    every one still running, so an event committed late is never behind a cursor."""

    txid = models.BigIntegerField()
    at = models.DateTimeField()
    subject = models.CharField(max_length=32)  # the table's, named (migration 0003)
    action = models.CharField(max_length=32)  # created, changed, deleted, archived, ...
    object_id = models.BigIntegerField()
    milestone_id = models.BigIntegerField(null=True)
    commitment_id = models.BigIntegerField(null=True)

    class Meta:
        db_table = "tracker_api_event"  # kept through the rename from Event (0006)
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
