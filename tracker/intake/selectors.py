"""Reads the rest of the tracker makes of the intake (the admin index, /metrics)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Min, Prefetch, Q, QuerySet

from .models import Finding, Suggestion


def ranked_suggestions() -> Prefetch[str, QuerySet[Suggestion], str]:
    return Prefetch(
        "suggestions",
        queryset=Suggestion.objects.select_related("commitment__agreement").order_by("rank"),
    )


def pending_findings() -> tuple[int, dt.datetime | None]:
    """How many findings wait for review, and since when (one query)."""
    row = Finding.objects.aggregate(
        pending=Count("pk", filter=Q(state=Finding.State.PENDING)),
        oldest=Min("created_at", filter=Q(state=Finding.State.PENDING)),
    )
    return row["pending"], row["oldest"]


def findings_to_review(limit: int) -> list[Finding]:
    """The best pending findings first (one query)."""
    return list(
        Finding.objects.filter(state=Finding.State.PENDING)
        .select_related("item")
        .order_by("-top_score", "-created_at", "-id")[:limit]
    )
