"""What a reader takes away whole: the timeline picture (SVG and PNG) and an
agreement's commitments and milestones as CSV. The JSON download is the REST API's
own list, filtered by agreement (linked from the page); this CSV is the one export of
our own until the API has one."""

from __future__ import annotations

import csv
import io

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from commitments.models import Agreement

from . import timeline
from .record import BadAsOf, milestones, moment_of, rows_for
from .responses import cached

CSV_COLUMNS = [
    "agreement",
    "commitment_key",
    "commitment",
    "category",
    "section",
    "assessment",
    "assessed_on",
    "milestone_key",
    "milestone",
    "rule",
    "due_on",
    "status",
    "completed_on",
    "days_late",
    "overdue",
    "days_overdue",
    "evidence_url",
]


def _picture(request: HttpRequest, slug: str) -> tuple[Agreement, str, str] | HttpResponse:
    a = get_object_or_404(Agreement, slug=slug)
    try:
        moment = moment_of(request)
    except BadAsOf as exc:
        return HttpResponse(f"{exc}\n", status=400, content_type="text/plain; charset=utf-8")
    rows = rows_for(list(milestones().filter(commitment__agreement=a)), moment)
    suffix = f"-as-of-{moment.as_of.isoformat()}" if moment.as_of else ""
    return a, timeline.draw(a, rows, moment).svg, suffix


def timeline_svg(request: HttpRequest, slug: str) -> HttpResponse:
    found = _picture(request, slug)
    if isinstance(found, HttpResponse):
        return found
    a, svg, suffix = found
    response = cached(request, '<?xml version="1.0" encoding="UTF-8"?>\n' + svg, "image/svg+xml")
    response["Content-Disposition"] = f'inline; filename="{a.slug}-timeline{suffix}.svg"'
    return response


def timeline_png(request: HttpRequest, slug: str) -> HttpResponse:
    found = _picture(request, slug)
    if isinstance(found, HttpResponse):
        return found
    a, svg, suffix = found
    import cairosvg  # libcairo2 (Debian); imported here so pages never need it

    # Twice the drawn width: sharp in an article on a high-density screen.
    png = cairosvg.svg2png(bytestring=svg.encode(), scale=2)
    response = cached(request, png, "image/png")
    response["Content-Disposition"] = f'inline; filename="{a.slug}-timeline{suffix}.png"'
    return response


def agreement_csv(request: HttpRequest, slug: str) -> HttpResponse:
    a = get_object_or_404(Agreement, slug=slug)
    try:
        moment = moment_of(request)
    except BadAsOf as exc:
        return HttpResponse(f"{exc}\n", status=400, content_type="text/plain; charset=utf-8")
    ms = list(milestones().filter(commitment__agreement=a).order_by("commitment__number", "id"))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows_for(ms, moment):
        m, s, c = row.m, row.s, row.m.commitment
        writer.writerow(
            [
                a.slug,
                c.key,
                c.title,
                c.get_category_display(),
                c.section,
                c.assessment,
                c.assessed_on.isoformat() if c.assessed_on else "",
                m.key,
                m.title,
                row.rule_sentence,
                s.due_on.isoformat() if s.due_on else "",
                s.status,
                s.completed_on.isoformat() if s.completed_on and s.status == "completed" else "",
                "" if s.days_late is None else s.days_late,
                "yes" if s.overdue else "no",
                s.days_overdue,
                m.evidence_url,
            ]
        )
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{a.slug}-milestones.csv"'
    return response
