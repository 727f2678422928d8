"""What a reader takes away whole: the timeline picture (SVG and PNG) and an
agreement's commitments and milestones as CSV (the site's one CSV writer,
``tracker.ops.csvfile``, as the API's lists). The JSON download is the REST API's own
list, filtered by agreement (linked from the page)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from commitments.models import Agreement
from commitments.selectors import AsOfError, assessment_as_of
from tracker.ops import csvfile

from . import timeline
from .record import Moment, Row, briefs_for, milestones, moment_of, rows_for
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


def _judged(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The agreement, then the moment; a bad ``?as_of`` is a 400 in plain text."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, slug: str) -> HttpResponse:
        a = get_object_or_404(Agreement, slug=slug)
        try:
            moment = moment_of(request)
        except AsOfError as exc:
            return HttpResponse(f"{exc}\n", status=400, content_type="text/plain; charset=utf-8")
        return view(request, a, moment)

    return wrapped


def _picture(request: HttpRequest, a: Agreement, moment: Moment, ext: str) -> HttpResponse:
    # The agreement page's picture: every milestone in brief, lanes named in the
    # commitments' order (three queries today, whatever the number of milestones).
    briefs, _ = briefs_for(moment, a.time_zone, commitment__agreement=a)
    titles = dict(a.commitments.order_by("number", "id").values_list("id", "title"))
    svg = timeline.draw(a, briefs, moment, titles).svg
    if ext == "svg":
        response = cached(
            request, '<?xml version="1.0" encoding="UTF-8"?>\n' + svg, "image/svg+xml"
        )
    else:
        import cairosvg  # libcairo2 (Debian); imported here so pages never need it

        # Twice the drawn width: sharp in an article on a high-density screen.
        response = cached(request, cairosvg.svg2png(bytestring=svg.encode(), scale=2), "image/png")
    suffix = f"-as-of-{moment.as_of.isoformat()}" if moment.as_of else ""
    response["Content-Disposition"] = f'inline; filename="{a.slug}-timeline{suffix}.{ext}"'
    return response


@_judged
def timeline_svg(request: HttpRequest, a: Agreement, moment: Moment) -> HttpResponse:
    return _picture(request, a, moment, "svg")


@_judged
def timeline_png(request: HttpRequest, a: Agreement, moment: Moment) -> HttpResponse:
    return _picture(request, a, moment, "png")


def _csv_row(slug: str, row: Row, moment: Moment) -> list[Any]:
    m, s, c = row.m, row.s, row.m.commitment
    assessed = assessment_as_of(c, moment.as_of)  # as the page of that day shows it
    return [
        slug,
        c.key,
        c.title,
        c.get_category_display(),
        c.section,
        assessed.assessment,
        assessed.assessed_on,
        m.key,
        m.title,
        row.rule_sentence,
        s.due_on,
        s.status,
        s.completed_on if s.status == "completed" else None,
        s.days_late,
        "yes" if s.overdue else "no",
        s.days_overdue,
        m.evidence_url,
    ]


@_judged
def agreement_csv(request: HttpRequest, a: Agreement, moment: Moment) -> HttpResponse:
    ms = list(milestones().filter(commitment__agreement=a).order_by("commitment__number", "id"))
    rows = (_csv_row(a.slug, row, moment) for row in rows_for(ms, moment))
    response = HttpResponse(b"".join(csvfile.stream(CSV_COLUMNS, rows)), csvfile.CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{a.slug}-milestones.csv"'
    return response
