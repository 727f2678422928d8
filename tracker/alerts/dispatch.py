"""The dispatcher: history rows (and the sweep's reminders) become alerts.

1. ``discover`` copies the alerting history rows not yet seen (a milestone flagged
   overdue, a milestone completed) into events, reading the history table past a
   cursor that waits out late commits (``DispatchCursor``). Events are unique per
   history row, so two dispatchers copy each row once.
2. ``run`` then claims undispatched events (``SKIP LOCKED`` on PostgreSQL), asks the audience who
   hears about each *now* and writes one alert per (event, recipient, channel)
   (unique: a second dispatcher's copy is a no-op). An event that cannot be expanded
   gets the error on its row and the rest go on.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from commitments.models import Milestone, Status, StatusUpdate

from ..models import Alert, AlertEvent, AlertKind, Channel, DispatchCursor
from .audience import Audience, milestones_for

log = logging.getLogger(__name__)
BATCH = 500


@dataclass
class DispatchResult:
    discovered: int = 0
    dispatched: int = 0
    queued: int = 0
    failed: int = 0


def alerting() -> Q:
    """The history rows that are news: an overdue flag, a milestone (not one party's
    part) completed."""
    return Q(kind=StatusUpdate.Kind.OVERDUE_FLAGGED, due_on__isnull=False) | Q(
        kind=StatusUpdate.Kind.STATUS,
        to_status=Status.COMPLETED,
        party__isnull=True,
        completed_on__isnull=False,
    )


def is_alerting(update: StatusUpdate) -> bool:
    if update.kind == StatusUpdate.Kind.OVERDUE_FLAGGED:
        return update.due_on is not None
    return bool(
        update.kind == StatusUpdate.Kind.STATUS
        and update.to_status == Status.COMPLETED
        and update.party_id is None
        and update.completed_on
    )


def _copy(history: QuerySet[StatusUpdate], now: dt.datetime) -> int:
    """One event per alerting history row in ``history`` that has none yet (the
    event's ``update`` is unique: a second dispatcher's copy is ignored), a batch at a
    time. Returns how many are ours."""
    rows = (
        history.filter(alerting())
        .order_by()
        .values_list("pk", "milestone_id", "kind", "due_on", "completed_on", "at")
        .iterator(chunk_size=BATCH)
    )
    while batch := list(itertools.islice(rows, BATCH)):
        AlertEvent.objects.bulk_create([_event(row, now) for row in batch], ignore_conflicts=True)
    return AlertEvent.objects.filter(created_at=now, update__isnull=False).count()


def _event(row: tuple[Any, ...], now: dt.datetime) -> AlertEvent:
    pk, milestone_id, kind, due_on, completed_on, at = row
    overdue = kind == StatusUpdate.Kind.OVERDUE_FLAGGED
    return AlertEvent(
        milestone_id=milestone_id,
        kind=AlertKind.OVERDUE if overdue else AlertKind.COMPLETED,
        due_on=due_on if overdue else completed_on,
        at=at,
        update_id=pk,
        created_at=now,
    )


def discover(now: dt.datetime | None = None) -> int:
    """Returns how many events were new."""
    now = now or timezone.now()
    grace = dt.timedelta(seconds=settings.TRACKER_DISPATCH_GRACE_SECONDS)
    with transaction.atomic():
        cursor, _ = DispatchCursor.objects.select_for_update().get_or_create(pk=1)
        newest = StatusUpdate.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        found = _copy(StatusUpdate.objects.filter(pk__gt=cursor.floor), now)
        if cursor.candidate_seen_at is None or now - cursor.candidate_seen_at >= grace:
            # Every row up to the candidate has been committed (or rolled back) by now,
            # and the copy above has read them: the floor may move up to it.
            cursor.floor = max(cursor.floor, cursor.candidate)
            cursor.candidate, cursor.candidate_seen_at = newest, now
            cursor.save()
    return found


def run(
    *,
    now: dt.datetime | None = None,
    batch_size: int = BATCH,
    on_webhooks: Callable[[], None] | None = None,
) -> DispatchResult:
    """Discover, then dispatch every pending event. Safe to run twice at once.
    ``on_webhooks`` is called once webhook alerts are committed (the webhook task's
    doorbell)."""
    result = DispatchResult(discovered=discover(now))
    tried: set[int] = set()  # an event that failed waits for the next run
    while _dispatch_batch(now or timezone.now(), batch_size, result, tried, on_webhooks):
        pass
    return result


def pending() -> QuerySet[AlertEvent]:
    return AlertEvent.objects.filter(dispatched_at__isnull=True, failed=False)


def _dispatch_batch(
    now: dt.datetime,
    batch_size: int,
    result: DispatchResult,
    tried: set[int],
    on_webhooks: Callable[[], None] | None,
) -> int:
    """Expands a batch of events into alerts, channel by channel: the webhook alerts
    first (the endpoints are a handful of rows), committed and announced
    (``on_webhooks``), so that a dashboard hears of a deadline while the alerts of
    10,000 email subscribers are still being written; then the email alerts, with the
    events marked dispatched. A crash between the two leaves the events pending: the
    next run writes them again, and the unique (event, recipient, channel) keeps what
    was written once."""
    claimed = pending().exclude(pk__in=tried).order_by("id")[:batch_size]
    hooks, ids = _expand_batch(now, claimed, result, tried, Channel.WEBHOOK)
    if not ids:
        return 0
    if hooks and on_webhooks is not None:
        on_webhooks()
    # The same events (those another dispatcher has not finished meanwhile), and no
    # other: an event is marked dispatched only after its webhook alerts were written.
    again = pending().filter(pk__in=ids).exclude(pk__in=tried)
    _expand_batch(now, again, result, tried, Channel.EMAIL)
    return len(ids)


def _expand_batch(
    now: dt.datetime,
    claimed: QuerySet[AlertEvent],
    result: DispatchResult,
    tried: set[int],
    channel: str,
) -> tuple[int, list[int]]:
    """One transaction: locks the ``claimed`` events (``SKIP LOCKED``), writes their
    alerts of ``channel`` and, for email (the last channel), marks them dispatched.
    Returns how many alerts it wrote, and the events it locked."""
    last = channel == Channel.EMAIL
    with transaction.atomic():
        events = list(claimed.select_for_update(skip_locked=True))
        if not events:
            return 0, []
        # Webhooks need no subscription: read the endpoints alone (no address).
        audience = Audience.load() if last else Audience.load(addresses=())
        milestones = milestones_for(events)
        alerts: list[Alert] = []
        ok: list[int] = []
        for event in events:
            try:
                found = _expand(event, milestones[event.milestone_id], audience, now)
            except Exception as exc:  # this event's fault; the others go on
                _record_failure(event, exc)
                tried.add(event.pk)
                result.failed += 1
                continue
            alerts += [a for a in found if (a.channel == Channel.WEBHOOK) != last]
            ok.append(event.pk)
        Alert.objects.bulk_create(alerts, batch_size=2000, ignore_conflicts=True)
        # Ours (a concurrent dispatcher's copies were ignored, and bear its own stamp
        # unless it judged the same instant).
        result.queued += Alert.objects.filter(
            event_id__in=ok, created_at=now, channel=channel
        ).count()
        if last:
            AlertEvent.objects.filter(pk__in=ok).update(dispatched_at=now, last_error="")
            result.dispatched += len(ok)
    return len(alerts), [e.pk for e in events]


def _expand(
    event: AlertEvent, milestone: Milestone, audience: Audience, now: dt.datetime
) -> list[Alert]:
    return [
        Alert(
            milestone_id=event.milestone_id,
            event=event,
            channel=r.channel,
            subscription_id=r.subscription_id,
            endpoint_id=r.endpoint_id,
            kind=event.kind,
            recipient=r.address,
            due_on=event.due_on,
            created_at=now,
            next_attempt_at=now,
        )
        for r in audience.recipients(event, milestone)
    ]


def _record_failure(event: AlertEvent, exc: Exception) -> None:
    log.exception("event %s could not be dispatched", event.pk)
    attempts = event.attempts + 1
    AlertEvent.objects.filter(pk=event.pk).update(
        attempts=attempts,
        last_error=f"{type(exc).__name__}: {exc}"[:2000],
        failed=attempts >= settings.TRACKER_ALERT_MAX_ATTEMPTS,
    )


def undispatched() -> int:
    """News not yet turned into alerts: events pending, and alerting history rows
    past the cursor that have no event yet (for the tests and the restore check)."""
    floor = DispatchCursor.objects.values_list("floor", flat=True).first() or 0
    seen = AlertEvent.objects.filter(update__isnull=False).values("update_id")
    unseen = StatusUpdate.objects.filter(alerting(), pk__gt=floor).exclude(pk__in=seen).count()
    return pending().count() + unseen
