"""The public pages: home, agreement, commitment, milestone. Each judges at one moment
(now, or the end of ``?as_of=YYYY-MM-DD`` in the agreement's zone) and reads a constant
number of queries whatever the number of milestones."""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from django.core.paginator import InvalidPage, Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _

from commitments import deadlines
from commitments.models import (
    Agreement,
    Category,
    Commitment,
    LogEntry,
    Milestone,
    Source,
    Status,
    StatusUpdate,
)
from commitments.selectors import (
    AsOfError,
    SeriesSummary,
    agreements_with_progress,
    assessment_as_of,
    derived_status,
    progress_from_states,
    progress_of,
    record_as_of,
)
from tracker.archive.selectors import copies_of, sources_prefetch, with_archive
from tracker.selectors import last_sweep_at

from . import timeline
from .citations import searches, seeds
from .follow import FollowForm
from .record import (
    Brief,
    Moment,
    Row,
    briefs_for,
    full_rows,
    last_checked,
    listed,
    milestones,
    moment_of,
    moment_text,
    occurrence_rows,
    rows_for,
)


def _bad_request(
    request: HttpRequest, moment: Moment, field: str, value: str, reason: str
) -> HttpResponse:
    context = {"field": field, "value": value, "reason": reason, "moment": moment}
    return render(request, "tracker/public/bad_request.html", context, status=400)


def judged(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Parse ``?as_of`` once; a bad value is a 400 page that names it."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            moment = moment_of(request)
        except AsOfError as exc:
            today = Moment(now=timezone.now())  # the page around the error: the present
            return _bad_request(request, today, "as_of", exc.value, exc.reason)
        return view(request, moment, *args, **kwargs)

    return wrapped


def staff_name(user: Any) -> str:
    """What the public sees of who made a change: never a username."""
    if user is None:
        return _("the tracker")
    profile = getattr(user, "staff_profile", None)
    return (profile.public_name if profile else "") or _("staff")


def _meter(progress: dict[str, Any]) -> list[dict[str, Any]]:
    """Segments of the progress meter, one per status present, laid end to end."""
    total, x, segments = progress["total"] or 1, 0.0, []
    for value, label in Status.choices:
        if progress[value]:
            width = round(100 * progress[value] / total, 2)
            segments.append(
                {
                    "value": value,
                    "label": _(label),
                    "count": progress[value],
                    "x": x,
                    "width": width,
                }
            )
            x = round(x + width, 2)
    return segments


def _home_progress(moment: Moment) -> list[tuple[Agreement, dict[str, Any]]]:
    """Each agreement with its progress. Today: counted in the database, one query
    (``agreements_with_progress``). A past day: counted from the rebuilt states
    (``record_as_of``). tests/tracker/public/test_queries.py holds the two equal."""
    if moment.as_of:
        return record_as_of(moment.as_of).agreements
    found = agreements_with_progress(moment.now).order_by("-signed_on", "slug")
    return [(a, progress_of(a)) for a in found]


@judged
def home(request: HttpRequest, moment: Moment) -> HttpResponse:
    progress = _home_progress(moment)
    ids = [a.pk for a, _ in progress]
    parties = Agreement.parties.through.objects.filter(agreement_id__in=ids).select_related("party")
    named: dict[int, list[str]] = defaultdict(list)
    for link in parties.order_by("party__name"):
        named[link.agreement_id].append(link.party.name)
    checked = last_checked(ids, moment.as_of)
    swept = last_sweep_at()
    cards = [
        {
            "a": a,
            "parties": named[a.pk],
            "progress": p,
            "meter": _meter(p),
            "checked": checked.get(a.pk),
            "swept": moment_text(swept, a.time_zone) if swept else "",
        }
        for a, p in progress
    ]
    return render(request, "tracker/public/home.html", {"moment": moment, "cards": cards})


SHOWN_PER_COMMITMENT = 10  # milestones listed under each commitment on the agreement page
PAGE_SIZE = 50  # milestones a page of a commitment lists


@judged
def agreement_page(request: HttpRequest, moment: Moment, slug: str) -> HttpResponse:
    """Every commitment with its progress and its first SHOWN_PER_COMMITMENT
    milestones (the commitment's own page lists them all, a page at a time); the
    picture's lanes are bounded too (timeline.MAX_LANES). So the page's size and time
    stay flat as an agreement grows: every milestone is counted, in brief, and only
    those listed are loaded whole."""
    a = get_object_or_404(
        Agreement.objects.prefetch_related("parties", sources_prefetch()), slug=slug
    )
    commitments = list(
        a.commitments.prefetch_related("parties", "leads__party").order_by("number", "id")
    )
    briefs, loaded = briefs_for(moment, a.time_zone, commitment__agreement=a)
    by_commitment: dict[int, list[Brief]] = defaultdict(list)
    for b in briefs:
        by_commitment[b.commitment_id].append(b)
    # A recurring obligation is listed once, its occurrences in brief beside it.
    listable = {c.pk: listed(by_commitment[c.pk]) for c in commitments}
    shown = [b.pk for c in commitments for b in listable[c.pk][:SHOWN_PER_COMMITMENT]]
    rows: dict[int, list[Row]] = defaultdict(list)
    for row in full_rows(shown, moment, loaded, briefs):
        rows[row.m.commitment_id].append(row)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in commitments:
        progress = progress_from_states(b.s for b in by_commitment[c.pk])
        groups[c.get_category_display()].append(
            {
                "c": c,
                "rows": rows[c.pk],
                "listed": len(listable[c.pk]),
                "more": len(listable[c.pk]) - len(rows[c.pk]),
                "progress": progress,
                "status": derived_status(progress),
                "assessment": assessment_as_of(c, moment.as_of),
            }
        )
    progress = progress_from_states(b.s for b in briefs)
    today = moment.today(a.time_zone)
    passed = sorted({b.s.due_on for b in briefs if b.s.due_on and b.s.due_on < today})
    titles = {c.pk: c.title for c in commitments}
    context = {
        "moment": moment,
        "a": a,
        "groups": sorted(groups.items(), key=lambda g: _category_order(g[0])),
        "progress": progress,
        "meter": _meter(progress),
        "timeline": timeline.draw(a, briefs, moment, titles),
        # The latest deadline days (any other is a day for the "as of" form).
        "deadline_days": [(d, (d - a.signed_on).days) for d in passed[-DEADLINE_DAYS:]],
        "earlier_deadline_days": max(len(passed) - DEADLINE_DAYS, 0),
        "follow": FollowForm(initial={"target": f"agreement:{a.pk}"}),
        "follow_target": f"agreement:{a.pk}",
        "json_url": f"/api/v1/milestones/?agreement={a.slug}&page_size=200",
    }
    return render(request, "tracker/public/agreement.html", context)


DEADLINE_DAYS = 12


def _category_order(label: str) -> int:
    labels = [lbl for _, lbl in Category.choices]
    return labels.index(label) if label in labels else len(labels)


@judged
def commitment_page(request: HttpRequest, moment: Moment, slug: str, key: str) -> HttpResponse:
    c = get_object_or_404(
        Commitment.objects.select_related("agreement").prefetch_related(
            "parties", "leads__party", sources_prefetch()
        ),
        agreement__slug=slug,
        key=key,
    )
    briefs, loaded = briefs_for(moment, c.agreement.time_zone, commitment=c)
    paginator = Paginator(listed(briefs), PAGE_SIZE)
    number = request.GET.get("page", "1")
    try:
        page = paginator.page(number)
    except InvalidPage:
        reason = _("is not a page of this list: there are pages 1 to %(pages)s")
        return _bad_request(
            request, moment, "page", number, reason % {"pages": paginator.num_pages}
        )
    rows = full_rows([b.pk for b in page], moment, loaded, briefs)
    progress = progress_from_states(b.s for b in briefs)
    log = _logged(Q(commitment=c) | Q(milestone__commitment=c)).select_related("milestone")
    if moment.as_of:
        log = log.filter(on__lte=moment.as_of)
    context = {
        "moment": moment,
        "a": c.agreement,
        "c": c,
        "rows": rows,
        "page": page,
        "progress": progress,
        "status": derived_status(progress),
        "assessment": assessment_as_of(c, moment.as_of),
        "log": list(log),
        "follow": FollowForm(initial={"target": f"commitment:{c.pk}"}),
        "follow_target": f"commitment:{c.pk}",
    }
    return render(request, "tracker/public/commitment.html", context)


def history_items(updates: list[StatusUpdate], time_zone: str) -> list[dict[str, Any]]:
    """History as a reader reads it: no no-op rows ("Not started → Not started"), an
    overdue flag dated at the deadline moment rather than at the sweep's clock, and
    staff named as staff."""
    items = []
    for u in updates:
        when = u.at
        if u.kind == StatusUpdate.Kind.OVERDUE_FLAGGED:
            when = deadlines.overdue_at(u.due_on, time_zone) or u.at
            what = _("Overdue: the deadline passed")
        elif u.kind == StatusUpdate.Kind.OVERDUE_CLEARED:
            what = _("No longer overdue")
        elif u.kind == StatusUpdate.Kind.DEADLINE:
            what = _("Deadline changed")
        elif u.from_status != u.to_status:
            what = f"{_(u.get_from_status_display())} → {_(u.get_to_status_display())}"
        elif u.note or u.evidence_url:
            what = _("Note")
        else:
            continue
        items.append(
            {
                "when": moment_text(when, time_zone),
                "what": what,
                "party": u.party.name if u.party is not None else "",
                "note": u.note,
                "evidence_url": u.evidence_url,
                "by": staff_name(u.by),
            }
        )
    return items


def _logged(where: Q) -> QuerySet[LogEntry]:
    return with_archive(LogEntry.objects.filter(where), "source_address")


def _with_copies(urls: list[str]) -> list[SimpleNamespace]:
    """Evidence addresses with their archived copies (one query)."""
    copies = copies_of(urls)
    return [
        SimpleNamespace(
            url=u,
            archive_id=copies[u].pk if u in copies else None,
            archive_fetched_at=copies[u].fetched_at if u in copies else None,
        )
        for u in urls
    ]


@judged
def milestone_page(request: HttpRequest, moment: Moment, pk: int) -> HttpResponse:
    m = get_object_or_404(milestones(), pk=pk)
    anchor = (
        list(milestones().filter(pk=m.rule_anchor_milestone_id))
        if m.rule_anchor_milestone_id
        else []
    )
    rows = rows_for([m, *anchor], moment)
    row = rows[0]
    a = m.commitment.agreement
    at = moment.at(a.time_zone)
    occurrences = _occurrences(m, row, moment, at) if m.is_series else []
    updates = list(
        m.updates.filter(at__lte=at)
        .select_related("by__staff_profile", "party")
        .order_by("at", "id")
    )
    sources = with_archive(
        Source.objects.filter(Q(milestone=m) | Q(commitment=m.commitment)), "reference"
    )
    log = _logged(Q(milestone=m)).select_related("milestone")
    if moment.as_of:
        log = log.filter(on__lte=moment.as_of)
    evidence = [u.evidence_url for u in updates if u.evidence_url]
    if not moment.as_of and m.evidence_url and m.evidence_url not in evidence:
        evidence.append(m.evidence_url)
    context = {
        "moment": moment,
        "a": a,
        "c": m.commitment,
        "m": m,
        "row": row,
        "s": row.s,
        "history": history_items(updates, a.time_zone),
        "revisions": list(m.revisions.filter(at__lte=at).order_by("at", "id")),
        "sources": list(sources),
        "log": list(log),
        "evidence": _with_copies(list(dict.fromkeys(evidence))),
        "occurrences": occurrences,
        "follow": FollowForm(initial={"target": f"milestone:{m.pk}"}),
        "follow_target": f"milestone:{m.pk}",
    }
    return render(request, "tracker/public/milestone.html", context)


def _occurrences(series: Milestone, row: Row, moment: Moment, at: dt.datetime) -> list[Row]:
    """A series' occurrences at the page's moment, each with its evidence: the
    addresses given with its status changes, and the sourced log entries about it
    (``extra["evidence"]``, ``extra["log"]``); the series' summary on ``row``. Four
    queries (six for a past day), however many occurrences."""
    found = occurrence_rows(series, moment)
    summary = row.summary = SeriesSummary.of(r.s for r in found)
    ids = [r.m.pk for r in found]
    given: dict[int, list[str]] = defaultdict(list)
    updates = StatusUpdate.objects.filter(milestone_id__in=ids, at__lte=at).exclude(evidence_url="")
    for pk, url in updates.order_by("at", "id").values_list("milestone_id", "evidence_url"):
        given[pk].append(url)
    logged: dict[int, list[LogEntry]] = defaultdict(list)
    log = LogEntry.objects.filter(milestone_id__in=ids, archived_at__isnull=True)
    if moment.as_of:
        log = log.filter(on__lte=moment.as_of)
    for entry in log.order_by("on", "id"):
        if entry.milestone_id is not None:
            logged[entry.milestone_id].append(entry)
    for r in found:
        r.extra["outcome"] = summary.outcome(r.s)
        r.extra["evidence"] = list(dict.fromkeys(given[r.m.pk]))
        r.extra["log"] = logged[r.m.pk]
    return found


@judged
def sources_page(request: HttpRequest, moment: Moment) -> HttpResponse:
    """Where the record comes from: the articles the seeds copy, with their addresses
    and the archived copy of their text (one query), and the tracker's own searches
    (what, where, when)."""
    known = seeds()
    copies = _with_copies([seed.name for seed in known])
    context = {"moment": moment, "seeds": list(zip(known, copies, strict=True))}
    context["searches"] = searches()
    return render(request, "tracker/public/sources.html", context)
