"""CSV for the milestone and commitment lists (``Accept: text/csv`` or ``?format=csv``):
the same filters as the JSON, every row (or one page, with ?page= or ?page_size=), one
row per item, written by the site's one CSV writer (``tracker.ops.csvfile``). Streamed:
rows are read with ``.iterator()`` and written as they come, so 100,000 rows never sit
in memory together."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from django.db.models import QuerySet
from rest_framework import renderers

from commitments.models import Commitment, Milestone, is_overdue
from commitments.selectors import derived_status, progress_of

CSV = "text/csv"
CHUNK = 2000  # rows fetched per round trip


class CSVRenderer(renderers.BaseRenderer):
    """Negotiation only: the views stream the rows themselves (``tracker.ops.csvfile``)."""

    media_type = CSV
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None):
        raise NotImplementedError("CSV is streamed by the view")


# Each column and the value it is read from: plain tuples (``values_list``), not model
# instances, which took most of a 100,000-row download's 45 s (bench/README.md).
# ``is_overdue`` is derived from the status and overdue_from, at the request's moment.
MILESTONE_CSV = [
    ("id", "pk"),
    ("agreement", "commitment__agreement__slug"),
    ("commitment", "commitment_id"),
    ("key", "key"),
    ("title", "title_en"),  # English: the API does not negotiate (title_ja in JSON)
    ("due_on", "due_on"),
    ("original_due_on", "original_due_on"),
    ("status", "status"),
    ("is_overdue", None),
    ("overdue_from", "overdue_from"),
    ("time_zone", "commitment__agreement__time_zone"),
    ("flagged_overdue_at", "overdue_since"),
    ("completed_on", "completed_on"),
    ("evidence_url", "evidence_url"),
    ("version", "version"),
    ("updated_at", "updated_at"),
]
MILESTONE_COLUMNS = [column for column, _ in MILESTONE_CSV]


def milestone_rows(queryset: QuerySet[Milestone], now: dt.datetime) -> Iterator[list[Any]]:
    values = [value for _, value in MILESTONE_CSV if value]
    for row in queryset.prefetch_related(None).values_list(*values).iterator(chunk_size=CHUNK):
        status, overdue_from = row[7], row[8]
        yield [*row[:8], is_overdue(overdue_from, status, now), *row[8:]]


COMMITMENT_COLUMNS = [
    "id", "agreement", "key", "number", "title", "category", "status", "milestones",
    "completed", "overdue", "percent_complete", "next_deadline", "updated_at",
]  # fmt: skip


def commitment_rows(queryset: QuerySet[Commitment], now: dt.datetime) -> Iterator[list[Any]]:
    # Any: title_en is modeltranslation's column, which the stubs do not know.
    rows: QuerySet[Any] = queryset.select_related("agreement").prefetch_related(None)
    for c in rows.iterator(chunk_size=CHUNK):
        progress = progress_of(c)
        yield [
            c.pk,
            c.agreement.slug,
            c.key,
            c.number,
            c.title_en,
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
