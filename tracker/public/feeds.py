"""Atom feeds of changes (Django's syndication framework), per agreement and for all:
status changes, overdue flags (dated at the deadline moment), deadline changes,
assessments and log entries, newest first.

An entry's summary is sent as ``type="html"`` (Django's Atom feed): every word staff
typed (a status note, a deadline change's reason, an assessment's note, a log entry)
is escaped into it by ``_html``, never passed through, so a note reading ``<img …>``
reaches a feed reader as those characters, not as an element."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import format_html, linebreaks
from django.utils.translation import gettext as _

from commitments import deadlines
from commitments.models import Agreement, Commitment, LogEntry, StatusUpdate

from .citations import cite
from .responses import as_of_checked, xml_text

LIMIT = 50


@dataclass(frozen=True)
class Change:
    guid: str
    title: str
    html: str  # built by _html: staff text escaped
    link: str
    at: dt.datetime


def _html(text: str, source: str = "") -> str:
    """Staff text as the HTML of an entry's summary: escaped, its paragraphs and line
    breaks kept; the source named as on the pages, linked only when it is a web
    address."""
    html = linebreaks(text, autoescape=True)
    if source:
        c = cite(source)
        named = format_html('<a href="{}">{}</a>', c.url, c.label) if c.url else c.label
        html += format_html("<p>Source: {}</p>", named)
    return html


def _milestone_link(pk: int) -> str:
    return reverse("tracker:milestone", args=[pk])


def changes(agreement: Agreement | None) -> list[Change]:
    """The latest changes, three queries whatever the history's size."""
    updates = StatusUpdate.objects.select_related("milestone__commitment__agreement", "party")
    assessed = Commitment.objects.filter(assessed_on__isnull=False).select_related("agreement")
    log = LogEntry.objects.select_related(
        "agreement", "commitment__agreement", "milestone__commitment__agreement"
    )
    if agreement is not None:
        updates = updates.filter(milestone__commitment__agreement=agreement)
        assessed = assessed.filter(agreement=agreement)
        log = log.filter(
            Q(agreement=agreement)
            | Q(commitment__agreement=agreement)
            | Q(milestone__commitment__agreement=agreement)
        )
    items = [c for u in updates.order_by("-at", "-id")[: LIMIT * 2] if (c := _update(u))]
    items += [_assessment(c) for c in assessed.order_by("-assessed_on", "-id")[:LIMIT]]
    items += [_log(e) for e in log.order_by("-on", "-id")[:LIMIT]]
    items.sort(key=lambda c: c.at, reverse=True)
    return items[:LIMIT]


def _update(u: StatusUpdate) -> Change | None:
    m = u.milestone
    tz = m.commitment.agreement.time_zone
    party = f" ({u.party.name})" if u.party is not None else ""
    if u.kind == StatusUpdate.Kind.OVERDUE_FLAGGED:
        at = deadlines.overdue_at(u.due_on, tz) or u.at
        due = deadlines.day_text(u.due_on) if u.due_on else "?"
        title = _("Overdue: %(title)s (due %(day)s)") % {"title": m.title, "day": due}
    elif u.kind == StatusUpdate.Kind.OVERDUE_CLEARED:
        at, title = u.at, _("No longer overdue: %(title)s") % {"title": m.title}
    elif u.kind == StatusUpdate.Kind.DEADLINE:
        at, title = u.at, _("Deadline changed: %(title)s") % {"title": m.title}
    elif u.from_status != u.to_status:
        at = u.at
        change = f"{_(u.get_from_status_display())} → {_(u.get_to_status_display())}"
        title = f"{m.title}{party}: {change}"
    else:
        return None  # a no-op row: nothing a reader needs to hear about
    return Change(f"update-{u.pk}", title, _html(u.note or title), _milestone_link(m.pk), at)


def _assessment(c: Commitment) -> Change:
    tz = c.agreement.time_zone
    assert c.assessed_on is not None
    at = dt.datetime.combine(c.assessed_on, dt.time(), tzinfo=zoneinfo.ZoneInfo(tz))
    return Change(
        f"assessment-{c.pk}-{c.assessed_on.isoformat()}-{c.assessment}",
        _("Assessed “%(assessment)s”: %(title)s")
        % {"assessment": _(c.get_assessment_display()), "title": c.title},
        _html(c.assessment_note or _(c.get_assessment_display())),
        reverse("tracker:commitment", args=[c.agreement.slug, c.key]),
        at,
    )


def _log(e: LogEntry) -> Change:
    if e.milestone is not None:
        link, agreement = _milestone_link(e.milestone.pk), e.milestone.commitment.agreement
    elif e.commitment is not None:
        agreement = e.commitment.agreement
        link = reverse("tracker:commitment", args=[agreement.slug, e.commitment.key])
    else:
        # An entry has exactly one owner (LogEntry's check constraint).
        assert e.agreement is not None
        agreement = e.agreement
        link = reverse("tracker:agreement", args=[agreement.slug])
    tz = zoneinfo.ZoneInfo(agreement.time_zone)
    return Change(
        f"log-{e.key}",
        f"{_(e.get_kind_display())}: {e.text[:80]}",
        _html(e.text, e.source_address),
        link,
        dt.datetime.combine(e.on, dt.time(), tzinfo=tz),
    )


class ChangesFeed(Feed[Any, Any]):
    feed_type = Atom1Feed

    def __call__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return as_of_checked(super().__call__)(request, *args, **kwargs)

    def get_object(self, request: HttpRequest, slug: str | None = None) -> Agreement | None:
        return get_object_or_404(Agreement, slug=slug) if slug else None

    def title(self, obj: Agreement | None) -> str:
        if obj:
            return _("%(name)s: changes") % {"name": xml_text(obj.short_name)}
        return _("Commitment tracker: all changes")

    def link(self, obj: Agreement | None) -> str:
        return reverse("tracker:agreement", args=[obj.slug]) if obj else reverse("tracker:overview")

    def subtitle(self, obj: Agreement | None) -> str:
        return _("Status changes, overdue deadlines, assessments and sourced log entries.")

    def author_name(self) -> str:
        return _("Commitment tracker")

    def feed_guid(self, obj: Agreement | None) -> str:
        return settings.SITE_URL + self.link(obj)

    def items(self, obj: Agreement | None) -> list[Change]:
        return changes(obj)

    def item_title(self, item: Change) -> str:
        return xml_text(item.title)

    def item_description(self, item: Change) -> str:
        return xml_text(item.html)

    def item_link(self, item: Change) -> str:
        return item.link

    def item_guid(self, item: Change) -> str:
        return f"{settings.SITE_URL}/#{item.guid}"

    item_guid_is_permalink = False

    def item_pubdate(self, item: Change) -> dt.datetime:
        return item.at

    def item_updateddate(self, item: Change) -> dt.datetime:
        return item.at
