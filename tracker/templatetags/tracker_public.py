"""Template filters of the public site: one date format everywhere (ISO 8601)."""

from __future__ import annotations

import datetime as dt

from django import template

from commitments import deadlines
from commitments.models import Milestone

register = template.Library()


@register.filter
def day(value: dt.date | dt.datetime | None) -> str:
    """2026-04-26: the one way the public site writes a date."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.isoformat()


@register.filter
def days(n: int | None) -> str:
    if n is None:
        return ""
    return f"{n} day{'s' if n != 1 else ''}"


@register.filter
def status_label(value: str) -> str:
    from commitments.models import Status

    return dict(Status.choices).get(value, value)


@register.filter
def assessment_label(value: str) -> str:
    from commitments.models import Assessment

    return dict(Assessment.choices).get(value, value)


@register.filter
def deadline(m: Milestone) -> str:
    """The moment a milestone is overdue from, in its agreement's zone, named:
    "27 April 2026, 00:00 Tokyo time (JST)"."""
    if m.overdue_from is None:
        return ""
    return deadlines.moment_words(m.overdue_from, m.time_zone())


@register.inclusion_tag("tracker/public/_citation.html")
def citation(reference: str) -> dict[str, object]:
    """A source as a reader reads it (tracker.public.citations): a link where one can
    be followed, a seed as the article it copies."""
    from tracker.public.citations import cite

    return {"c": cite(reference)}


@register.filter
def web_address(value: str) -> str:
    """The address if a link may point at it (http or https), else ""."""
    from tracker.public.citations import web_address as checked

    return checked(value or "")


@register.inclusion_tag("tracker/archive/_note.html")
def archived(obj: object, passage: str = "") -> dict[str, object]:
    """Beside an address: "archived copy (fetched 2026-02-05)", and what the last link
    check found, for a row annotated by tracker.archive.selectors.with_archive."""
    from tracker.archive.selectors import note

    return {"n": note(obj, passage)}
