"""iCalendar feeds (RFC 5545, with the ``icalendar`` library): one per agreement and
one for all. Each dated milestone is an all-day event on its due date with a stable
UID, the rule in its description and a link back. A recurring obligation is its
occurrences, each an event of its own on its date (met, missed or ahead, as the
description says): no RRULE, which readers would see as its text, and which could not
say which occurrences were met. SEQUENCE and LAST-MODIFIED follow the milestone's
version, so a calendar sees a moved date as a change to the same event."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from commitments import deadlines
from commitments.models import Agreement, Milestone

from .record import milestones, rule_sentence
from .responses import as_of_checked, cached


def build(ms: list[Milestone], name: str) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Commitment tracker//public calendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    host = urlsplit(settings.SITE_URL).hostname or "commitment-tracker"
    for m in ms:
        if m.due_on is None:
            continue
        agreement = m.commitment.agreement
        url = settings.SITE_URL + reverse("tracker:milestone", args=[m.pk])
        event = Event()
        event.add("uid", f"milestone-{m.pk}@{host}")
        event.add(
            "summary",
            _("Due: %(title)s (%(agreement)s)")
            % {"title": m.title, "agreement": agreement.short_name},
        )
        event.add("dtstart", m.due_on)
        event.add("dtend", m.due_on + dt.timedelta(days=1))
        event.add("dtstamp", m.updated_at)
        event.add("last-modified", m.updated_at)
        event.add("sequence", m.version)
        event.add(
            "description",
            _("Rule: %(rule)s.\nStatus: %(status)s.\nJudged in %(zone)s.\n%(url)s")
            % {
                "rule": rule_sentence(m),
                "status": _(m.get_status_display()),
                "zone": deadlines.zone_name(agreement.time_zone),
                "url": url,
            },
        )
        event.add("url", url)
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return cal.to_ical()


def _response(request: HttpRequest, body: bytes, filename: str) -> HttpResponse:
    response = cached(request, body, "text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@as_of_checked
def agreement_calendar(request: HttpRequest, slug: str) -> HttpResponse:
    a = get_object_or_404(Agreement, slug=slug)
    ms = list(milestones().filter(commitment__agreement=a).order_by("due_on", "id"))
    return _response(
        request, build(ms, _("%(name)s: deadlines") % {"name": a.short_name}), f"{a.slug}.ics"
    )


@as_of_checked
def all_calendar(request: HttpRequest) -> HttpResponse:
    ms = list(milestones().order_by("due_on", "id"))
    return _response(request, build(ms, _("Commitment tracker: all deadlines")), "deadlines.ics")
