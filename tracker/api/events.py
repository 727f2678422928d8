"""The event feed: every change the tracker records, oldest first, after a cursor.

Rows of ``tracker.api.models.FeedEvent`` are appended by database triggers in the writer's
own transaction. On PostgreSQL an event becomes visible only when its transaction
commits, and transactions commit in any order, so ids alone would let a cursor pass an
event that a slow transaction commits later. The feed therefore orders by (transaction
id, id) and shows only the events of transactions older than every transaction still
running (``txid < pg_snapshot_xmin(pg_current_snapshot())``, in the same statement):
whatever commits later has a larger transaction id than anything already shown, so it
lands after the cursor. The cost: the feed waits for the oldest running writer (a long
sweep delays it by the sweep's length, never loses anything). On SQLite writers take
turns, and ids are commit order (txid is 0).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param

from .exceptions import CursorExpired
from .models import FeedEvent, FeedHorizon

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
_CURSOR = re.compile(r"([0-9]{1,19})\.([0-9]{1,19})")
_XMIN = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
# Where the API shows the object an event is about.
_URLS = {
    "milestone": ("milestones", "object_id"),
    "commitment": ("commitments", "object_id"),
    "milestone_part": ("milestones", "milestone_id"),
    "status_update": ("milestones", "milestone_id"),
    "deadline_revision": ("milestones", "milestone_id"),
}


def encode_cursor(event: FeedEvent) -> str:
    return base64.urlsafe_b64encode(f"{event.txid}.{event.pk}".encode()).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    match = _CURSOR.fullmatch(raw)
    if not match:
        raise ValidationError({"after": ["Not a cursor of this feed; send one it gave you."]})
    return int(match[1]), int(match[2])


def prune(before: dt.datetime, *, batch: int = 10_000) -> int:
    """Delete the events written before ``before``, oldest first in feed order, a batch
    per transaction, and move the horizon to the newest one deleted. Returns how many."""
    deleted = 0
    while True:
        with transaction.atomic():
            rows = list(
                FeedEvent.objects.filter(at__lt=before)
                .order_by("txid", "id")
                .values_list("txid", "id")[:batch]
            )
            if not rows:
                return deleted
            FeedEvent.objects.filter(pk__in=[pk for _, pk in rows]).delete()
            horizon = FeedHorizon.objects.select_for_update().filter(pk=1).first()
            newest = max(rows)
            if horizon is None:
                FeedHorizon.objects.create(
                    pk=1, txid=newest[0], event_id=newest[1], pruned_at=before
                )
            elif newest > (horizon.txid, horizon.event_id):
                horizon.txid, horizon.event_id, horizon.pruned_at = *newest, before
                horizon.save()
            deleted += len(rows)


def check_horizon(cursor: tuple[int, int]) -> None:
    """A cursor older than the newest pruned event may have missed some: say so (410)."""
    horizon = FeedHorizon.objects.filter(pk=1).values_list("txid", "event_id").first()
    if horizon is not None and cursor < horizon:
        days = settings.API_EVENT_RETENTION_DAYS
        raise CursorExpired(
            {
                "after": [
                    f"Events after this cursor were deleted (the feed keeps {days} days). "
                    "Read the current state from the lists, then follow the feed "
                    "again from GET /api/v1/events/ without `after`."
                ]
            }
        )


def events_after(cursor: tuple[int, int] | None, limit: int) -> list[FeedEvent]:
    queryset: QuerySet[FeedEvent] = FeedEvent.objects.all()
    if cursor is not None:
        txid, pk = cursor
        queryset = queryset.filter(Q(txid__gt=txid) | Q(txid=txid, pk__gt=pk))
    if connection.vendor == "postgresql":
        queryset = queryset.filter(txid__lt=RawSQL(_XMIN, []))
    return list(queryset.order_by("txid", "id")[:limit])


class EventSerializer(serializers.Serializer[Any]):
    cursor = serializers.SerializerMethodField(help_text="Send it as ?after= to go on from here.")
    at = serializers.DateTimeField(help_text="When the change was written (UTC).")
    type = serializers.SerializerMethodField(
        help_text="subject.action, e.g. milestone.overdue_flagged"
    )
    subject = serializers.CharField(
        help_text="agreement, commitment, milestone, milestone_part, status_update, "
        "deadline_revision, log_entry, source, lead or party."
    )
    action = serializers.CharField(
        help_text="created, changed, deleted (a tombstone), archived, restored, "
        "overdue_flagged, overdue_cleared, assessed, deadline_changed or status_changed."
    )
    id = serializers.IntegerField(source="object_id", help_text="The subject's id.")
    milestone = serializers.IntegerField(source="milestone_id", allow_null=True)
    commitment = serializers.IntegerField(source="commitment_id", allow_null=True)
    url = serializers.SerializerMethodField()

    def get_cursor(self, event: FeedEvent) -> str:
        return encode_cursor(event)

    def get_type(self, event: FeedEvent) -> str:
        return f"{event.subject}.{event.action}"

    def get_url(self, event: FeedEvent) -> str | None:
        if event.subject == "log_entry":  # the log of what it belongs to, deleted or not
            kind, key = "milestones", event.milestone_id
            if not key:
                kind, key = "commitments", event.commitment_id
            return f"{self.context['base_url']}{kind}/{key}/log/" if key else None
        if event.subject not in _URLS or event.action == "deleted":
            return None
        kind, field = _URLS[event.subject]
        key = getattr(event, field)
        return f"{self.context['base_url']}{kind}/{key}/" if key else None


class FeedSerializer(serializers.Serializer[Any]):
    events = EventSerializer(many=True)
    cursor = serializers.CharField(
        allow_null=True, help_text="The last event's cursor (or the one you sent)."
    )
    next = serializers.URLField(help_text="Poll this for what follows.")


def read_limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValidationError({"limit": [f"Give a whole number from 1 to {MAX_LIMIT}."]})
    return int(raw)


def feed(request: Request, base_url: str) -> dict[str, Any]:
    """The page of events after ``?after=``: the events, the last one's cursor, and the
    address to poll next (the same while nothing happens)."""
    after = request.query_params.get("after")
    cursor = decode_cursor(after) if after is not None else None
    limit = read_limit(request)
    if cursor is not None:
        check_horizon(cursor)
    found = events_after(cursor, limit)
    last = encode_cursor(found[-1]) if found else after
    url = request.build_absolute_uri()
    return {
        "events": EventSerializer(found, many=True, context={"base_url": base_url}).data,
        "cursor": last,
        "next": replace_query_param(url, "after", last) if last else url,
    }


FEED_SCHEMA = extend_schema(
    summary="Every change, oldest first, after a cursor",
    description=(
        "Follow it: GET without `after`, then GET `next` (also in the Link header) again "
        "and again. Every change the tracker records appears exactly once, in commit "
        "order of its transaction; a change committed late by a slow transaction is "
        "never behind your cursor (the feed waits for the oldest running writer). "
        "Deletions and archivals come as tombstones (action deleted / archived). "
        "Events are kept API_EVENT_RETENTION_DAYS (90 by default); a cursor older than "
        "the oldest kept event is answered 410 Gone. The ETag is the page's content's: "
        "send it in If-None-Match, and nothing new since is a 304."
    ),
    parameters=[
        OpenApiParameter(
            "after",
            {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,60}$"},
            description="An opaque cursor this feed gave you (any other is a 400).",
        ),
        OpenApiParameter(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            description=f"How many events at most; {DEFAULT_LIMIT} by default.",
        ),
    ],
    responses=FeedSerializer,
)
