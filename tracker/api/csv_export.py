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

from commitments.models import Commitment, Milestone, is_overdue
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


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _text(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


# By exact type, the cells of a row cost one lookup each (100,000 rows x 14 cells);
# anything else (a subclass) takes ``_any_cell``'s checks, which these agree with.
_CELLS: dict[type, Callable[[Any], Any]] = {
    int: lambda value: value,
    str: _text,
    dt.date: dt.date.isoformat,
    dt.datetime: _utc,
    bool: lambda value: "true" if value else "false",
    type(None): lambda value: "",
}


def _cell(value: Any) -> Any:
    format_cell = _CELLS.get(type(value))
    return format_cell(value) if format_cell is not None else _any_cell(value)


def _any_cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return _utc(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _text(value)  # never a formula in a spreadsheet
    return "" if value is None else value


class _Line:
    """A file-like object that hands back what is written (Django's "Echo")."""

    def write(self, value: str) -> str:
        return value


LINES_PER_CHUNK = 500  # one write to the client per this many rows, not one per row


def stream(header: list[str], rows: Iterable[list[Any]]) -> Iterator[bytes]:
    writer = csv.writer(_Line(), lineterminator="\r\n")
    yield writer.writerow(header).encode()
    lines: list[str] = []
    for row in rows:
        lines.append(writer.writerow([_cell(v) for v in row]))
        if len(lines) == LINES_PER_CHUNK:
            yield "".join(lines).encode()
            lines = []
    if lines:
        yield "".join(lines).encode()


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


# What the rows are read as: plain tuples (``values_list``), not model instances, which
# cost most of an export (100,000 rows: 45 s with instances; bench/README.md).
_MILESTONE_VALUES = (
    "pk",
    "commitment__agreement__slug",
    "commitment_id",
    "key",
    "title",
    "due_on",
    "original_due_on",
    "status",
    "overdue_from",
    "overdue_since",
    "completed_on",
    "evidence_url",
    "version",
    "updated_at",
)


def milestone_rows(
    queryset: QuerySet[Milestone], now: dt.datetime, window: tuple[int, int] | None = None
) -> Iterator[list[Any]]:
    rows = queryset.prefetch_related(None).values_list(*_MILESTONE_VALUES)
    for row in _window(rows, window).iterator(chunk_size=CHUNK):
        overdue_from, status = row[8], row[7]
        yield [*row[:8], is_overdue(overdue_from, status, now), *row[9:]]


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
