"""What needs a staff editor's attention, at the top of the admin index: overdue now,
due in the next 30 days (days counted in each agreement's zone), alerts that failed,
records nothing was checked on for 90 days, findings of the watched sources to
review (tracker/intake), and cited pages that no longer answer or no longer show the
quoted words, or could not be archived (tracker/archive). Reads only, in a constant number of
queries whatever the number of milestones (a test pins it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse

from commitments import selectors
from commitments.models import Commitment, Milestone

from .archive import selectors as archive
from .intake import selectors as intake
from .models import Alert

SHOWN = 8  # rows listed under each heading; the count says how many there are
DUE_SOON_DAYS = 30


@dataclass
class Heading:
    title: str
    count: int
    link: str
    rows: list[Any] = field(default_factory=list)  # milestones
    links: list[tuple[str, str]] = field(default_factory=list)  # (address, words)


def findings_heading() -> Heading:
    """Findings waiting for a staff decision, the best suggestions first."""
    pending, _ = intake.pending_findings()
    rows = intake.findings_to_review(SHOWN) if pending else []
    return Heading(
        "Findings to review",
        pending,
        reverse("admin:intake_finding_changelist"),
        links=[(reverse("admin:intake_finding_change", args=[f.pk]), str(f.item)) for f in rows],
    )


def archive_headings() -> list[Heading]:
    """What the link check found (nothing is removed from the record: staff decide),
    and the pages that could not be archived."""
    counts = archive.attention_counts()
    checks = reverse("admin:archive_linkcheck_changelist")
    flagged = archive.flagged_checks(SHOWN) if counts["dead"] or counts["words_gone"] else []

    def links(answers: bool) -> list[tuple[str, str]]:
        return [
            (reverse("admin:archive_linkcheck_change", args=[c.pk]), c.address)
            for c in flagged
            if bool(c.answers) is answers
        ]

    return [
        Heading(
            "Cited pages that no longer answer",
            counts["dead"],
            f"{checks}?found=dead",
            links=links(False),
        ),
        Heading(
            "Cited pages that no longer show the quoted words",
            counts["words_gone"],
            f"{checks}?found=words",
            links=links(True),
        ),
        Heading(
            "Cited pages that could not be archived",
            counts["failed"],
            reverse("admin:archive_capture_changelist") + "?state__exact=failed",
        ),
    ]


def needs_attention(now: dt.datetime) -> list[Heading]:
    milestones = Milestone.objects.select_related("commitment__agreement")
    overdue = milestones.overdue_at(now).filter(archived_at__isnull=True)
    due_soon = selectors.milestones_due_within(now, DUE_SOON_DAYS).select_related(
        "commitment__agreement"
    )
    unchecked_c = selectors.not_checked_since(Commitment.objects.all(), now)
    unchecked_m = selectors.not_checked_since(milestones.open(), now)
    milestone_list = reverse("admin:commitments_milestone_changelist")
    commitment_list = reverse("admin:commitments_commitment_changelist")
    return [
        Heading(
            "Overdue now",
            overdue.count(),
            f"{milestone_list}?overdue=yes&archived=no",
            list(overdue.order_by("overdue_from", "id")[:SHOWN]),
        ),
        Heading(
            f"Due in the next {DUE_SOON_DAYS} days",
            due_soon.count(),
            f"{milestone_list}?due_within={DUE_SOON_DAYS}&archived=no",
            list(due_soon.order_by("due_on", "id")[:SHOWN]),
        ),
        Heading(
            "Alerts that failed",
            Alert.objects.filter(failed=True).count(),
            reverse("admin:tracker_alert_changelist") + "?state=failed",
        ),
        Heading(
            f"Commitments not checked for {selectors.UNCHECKED_DAYS} days",
            unchecked_c.count(),
            f"{commitment_list}?unchecked=90&archived=no",
        ),
        Heading(
            f"Open milestones not checked for {selectors.UNCHECKED_DAYS} days",
            unchecked_m.count(),
            f"{milestone_list}?unchecked=90&archived=no",
        ),
        findings_heading(),
        japanese_heading(),
        *archive_headings(),
    ]


def japanese_heading() -> Heading:
    """Commitments and milestones with no Japanese title: readers of the Japanese pages
    see their English one, marked. Two counts."""
    commitments = selectors.without_japanese(Commitment.objects.all()).count()
    milestones = selectors.without_japanese(Milestone.objects.all()).count()
    query = "?japanese=missing&archived=no"
    commitment_list = reverse("admin:commitments_commitment_changelist") + query
    return Heading(
        "Without a Japanese version",
        commitments + milestones,
        commitment_list,
        links=[
            (commitment_list, f"{commitments} commitments"),
            (reverse("admin:commitments_milestone_changelist") + query, f"{milestones} milestones"),
        ],
    )
