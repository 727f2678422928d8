"""Embeddable badges: an SVG in the shields.io look, and the shields.io "endpoint"
JSON (schemaVersion 1) for newsrooms that draw their own. Both with an ETag and
Cache-Control (see responses.cached); an unknown id is a 404 in problem details, as the
API's (JSON, not a page, for what is fetched by programs)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from commitments.selectors import (
    SeriesSummary,
    agreements_with_progress,
    commitments_with_progress,
    progress_of,
)
from tracker.ops.problems import problem_response

from .record import Moment, milestones, occurrence_rows, rows_for, verdict
from .responses import as_of_checked, cached, xml_text

COLOURS = {
    "ok": "#15803d",
    "late": "#b45309",
    "overdue": "#b91c1c",
    "due": "#1d4ed8",
    "muted": "#6b7280",
}
LABEL_CHARS = 40


@dataclass(frozen=True)
class Badge:
    label: str
    message: str
    kind: str

    def json(self) -> str:
        return json.dumps(
            {
                "schemaVersion": 1,
                "label": self.label,
                "message": self.message,
                "color": COLOURS[self.kind].lstrip("#"),
            }
        )

    def svg(self) -> str:
        # Verdana 11px averages about 6.5 px a character: the width shields.io uses.
        lw, mw = 10 + round(6.5 * len(self.label)), 10 + round(6.5 * len(self.message))
        text = f"{self.label}: {self.message}"
        return xml_text(
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{lw + mw}" height="20" '
            f'role="img" aria-label="{escape(text, {chr(34): "&quot;"})}">'
            f"<title>{escape(text)}</title>"
            f'<rect width="{lw}" height="20" fill="#555"/>'
            f'<rect x="{lw}" width="{mw}" height="20" fill="{COLOURS[self.kind]}"/>'
            f'<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
            f'<text x="{lw / 2}" y="14" text-anchor="middle">{escape(self.label)}</text>'
            f'<text x="{lw + mw / 2}" y="14" text-anchor="middle">{escape(self.message)}</text>'
            f"</g></svg>"
        )


def _short(title: str) -> str:
    return title if len(title) <= LABEL_CHARS else title[: LABEL_CHARS - 1] + "…"


def milestone_badge(pk: int) -> Badge:
    m = get_object_or_404(milestones(), pk=pk)
    moment = Moment(now=timezone.now())
    row = rows_for([m], moment)[0]
    if m.is_series:
        row.summary = SeriesSummary.of(r.s for r in occurrence_rows(m, moment))
    kind, words = verdict(row)
    return Badge(_short(m.title), words, kind)


def _progress_badge(label: str, progress: dict[str, Any]) -> Badge:
    done = f"{progress['completed']} of {progress['total']} done"
    if progress["overdue"]:
        return Badge(label, f"{progress['overdue']} overdue · {done}", "overdue")
    return Badge(label, done, "ok" if progress["total"] == progress["completed"] else "due")


def commitment_badge(pk: int) -> Badge:
    """Counted in the database (one query): a badge is fetched with every article view."""
    c = get_object_or_404(commitments_with_progress(timezone.now()), pk=pk)
    return _progress_badge(_short(c.title), progress_of(c))


def agreement_badge(slug: str) -> Badge:
    a = get_object_or_404(agreements_with_progress(timezone.now()), slug=slug)
    return _progress_badge(_short(a.short_name or a.title), progress_of(a))


def _view(
    make: Callable[[Any], Badge], body: Callable[[Badge], str], content_type: str
) -> Callable[..., HttpResponse]:
    @as_of_checked
    def view(request: HttpRequest, key: str | int) -> HttpResponse:
        try:
            badge = make(key)
        except Http404:
            return problem_response(request, 404, "No such badge.", code="not_found")
        return cached(request, body(badge), content_type)

    return view


agreement_svg = _view(agreement_badge, Badge.svg, "image/svg+xml")
agreement_json = _view(agreement_badge, Badge.json, "application/json")
commitment_svg = _view(commitment_badge, Badge.svg, "image/svg+xml")
commitment_json = _view(commitment_badge, Badge.json, "application/json")
milestone_svg = _view(milestone_badge, Badge.svg, "image/svg+xml")
milestone_json = _view(milestone_badge, Badge.json, "application/json")
