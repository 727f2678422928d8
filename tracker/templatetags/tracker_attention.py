"""``{% needs_attention %}``: the admin index's first module (see tracker.attention)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils import timezone

from commitments import deadlines
from commitments.admin import days
from commitments.deadlines import zone_label
from commitments.models import Milestone

from .. import attention

register = template.Library()


@register.inclusion_tag("admin/tracker_attention.html", takes_context=True)
def needs_attention(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    if request is None or not request.user.has_perm("commitments.view_milestone"):
        return {"headings": []}
    now = timezone.now()
    headings = attention.needs_attention(now)
    for heading in headings:
        for m in heading.rows:
            m.attention_due, m.attention_when = _when(m, now)
    return {"headings": headings}


def _when(m: Milestone, now: dt.datetime) -> tuple[str, str]:
    """The due date with the zone it is a date in, and how far off it is there."""
    zone = m.time_zone()
    due = f"{m.due_on.isoformat()} ({zone})" if m.due_on else "no deadline"
    left = deadlines.days_remaining(m.due_on, now=now, time_zone=zone)
    if left is None:
        return due, ""
    if m.is_overdue_at(now) and m.overdue_from is not None:
        return due, f"overdue {days(-left)}, since {zone_label(m.overdue_from, zone)}"
    return due, "due today" if left == 0 else f"in {days(left)}"
