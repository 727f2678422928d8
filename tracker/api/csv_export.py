"""CSV for the milestone and commitment lists (``Accept: text/csv`` or ``?format=csv``):
the same filters as the JSON, every row (or one page, with ?page= or ?page_size=), one
row per item, a header row,
UTF-8, ISO dates and UTC instants. Streamed: rows are read with ``.iterator()`` and
written as they come, so 100,000 rows never sit in memory together."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from rest_framework import renderers

from commitments.models import Commitment, Milestone
from commitments.selectors import derived_status, progress_of

CSV = "text/csv"
CHUNK = 2000  # rows fetched per round trip


class CSVRenderer(renderers.BaseRenderer):
    """Negotiation only: the views stream the rows themselves (``stream``)."""

    media_type = CSV
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None):
        raise NotImplementedError("CSV is streamed by the view")


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # never a formula in a spreadsheet
    return "" if value is None else value


class _Line:
    """A file-like object that hands back what is written (Django's "Echo")."""

    def write(self, value: str) -> str:
        return value


def stream(header: list[str], rows: Iterable[list[Any]]) -> Iterator[bytes]:
    writer = csv.writer(_Line(), lineterminator="\r\n")
    yield writer.writerow(header).encode()
    for row in rows:
        yield writer.writerow([_cell(v) for v in row]).encode()


MILESTONE_COLUMNS = [
    "id",
    "agreement",
    "commitment",
    "key",
    "title",
    "due_on",
    "original_due_on",
    "status",
    "is_overdue",
    "overdue_since",
    "completed_on",
    "evidence_url",
    "version",
    "updated_at",
]


def _window(queryset: QuerySet, window: tuple[int, int] | None) -> QuerySet:
    return queryset if window is None else queryset[window[0] : window[1]]


def milestone_rows(
    queryset: QuerySet[Milestone], now: dt.datetime, window: tuple[int, int] | None = None
) -> Iterator[list[Any]]:
    rows = queryset.select_related("commitment__agreement").prefetch_related(None)
    for m in _window(rows, window).iterator(chunk_size=CHUNK):
        yield [
            m.pk,
            m.commitment.agreement.slug,
            m.commitment_id,
            m.key,
            m.title,
            m.due_on,
            m.original_due_on,
            m.status,
            m.is_overdue_at(now),
            m.overdue_since,
            m.completed_on,
            m.evidence_url,
            m.version,
            m.updated_at,
        ]


COMMITMENT_COLUMNS = [
    "id",
    "agreement",
    "key",
    "number",
    "title",
    "category",
    "status",
    "milestones",
    "completed",
    "overdue",
    "percent_complete",
    "next_deadline",
    "updated_at",
]


def commitment_rows(
    queryset: QuerySet[Commitment], now: dt.datetime, window: tuple[int, int] | None = None
) -> Iterator[list[Any]]:
    rows = queryset.select_related("agreement").prefetch_related(None)
    for c in _window(rows, window).iterator(chunk_size=CHUNK):
        progress = progress_of(c)
        yield [
            c.pk,
            c.agreement.slug,
            c.key,
            c.number,
            c.title,
            c.category,
            derived_status(progress),
            progress["total"],
            progress["completed"],
            progress["overdue"],
            progress["percent_complete"],
            progress["next_deadline"],
            c.updated_at,
        ]


EXPORTS: dict[type, tuple[list[str], Callable[..., Iterator[list[Any]]]]] = {
    Milestone: (MILESTONE_COLUMNS, milestone_rows),
    Commitment: (COMMITMENT_COLUMNS, commitment_rows),
}
