"""Reads for the pages and the API: the archived copy and the last link check of a
record's address, added to the record's own query as subqueries (no query more per
page, whatever the number of sources)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Count, Model, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.urls import reverse

from . import text
from .models import Capture, LinkCheck

M = TypeVar("M", bound=Model)


def with_archive(qs: QuerySet[M], address_field: str) -> QuerySet[M]:
    """``qs`` with ``archive_id``, ``archive_fetched_at``, ``link_answers`` and
    ``link_missing`` for the address in ``address_field``."""
    copy = Capture.objects.filter(address=OuterRef(address_field), state=Capture.State.ARCHIVED)
    check = LinkCheck.objects.filter(address=OuterRef(address_field))
    return qs.annotate(
        archive_id=Subquery(copy.values("pk")[:1]),
        archive_fetched_at=Subquery(copy.values("fetched_at")[:1]),
        link_answers=Subquery(check.values("answers")[:1]),
        link_missing=Subquery(check.values("missing")[:1]),
    )


@dataclass(frozen=True)
class Note:
    """What a reader is told beside an address."""

    url: str  # the banner page of the copy; "" when there is none
    fetched_at: dt.datetime | None
    gone: bool  # the original no longer answers
    words_gone: bool  # it answers, but no longer shows the quoted words


def note(obj: Any, passage: str = "") -> Note | None:
    """The note for an object annotated by :func:`with_archive` (None if nothing to say)."""
    pk = getattr(obj, "archive_id", None)
    gone = getattr(obj, "link_answers", None) is False
    missing = (getattr(obj, "link_missing", None) or "").split()
    words_gone = bool(passage) and not gone and text.passage_key(passage) in missing
    if pk is None and not gone and not words_gone:
        return None
    url = reverse("tracker:archive_copy", args=[pk]) if pk is not None else ""
    return Note(url, getattr(obj, "archive_fetched_at", None), gone, words_gone)


def copies_of(addresses: list[str]) -> dict[str, Capture]:
    """The archived captures of these addresses, by address (one query)."""
    if not addresses:
        return {}
    rows = Capture.objects.filter(address__in=addresses, state=Capture.State.ARCHIVED)
    return {c.address: c for c in rows.only("pk", "address", "fetched_at")}


def attention_counts() -> dict[str, int]:
    """Dead links, pages whose quoted words are gone, captures given up or failing
    (two queries)."""
    checks = LinkCheck.objects.aggregate(
        dead=Count("pk", filter=Q(answers=False)),
        words_gone=Count("pk", filter=Q(answers=True) & ~Q(missing="")),
    )
    failed = Capture.objects.filter(state=Capture.State.FAILED).count()
    return {"dead": checks["dead"], "words_gone": checks["words_gone"], "failed": failed}


def flagged_checks(limit: int) -> list[LinkCheck]:
    """The link checks that found something wrong, dead ones first."""
    flagged = LinkCheck.objects.filter(Q(answers=False) | (Q(answers=True) & ~Q(missing="")))
    return list(flagged.order_by("answers", "address")[:limit])


def sources_prefetch() -> Prefetch[Any]:
    """A record's ``sources``, each with its archived copy and last link check."""
    from commitments.models import Source

    return Prefetch("sources", queryset=with_archive(Source.objects.all(), "reference"))
