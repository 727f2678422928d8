"""Public pages: the agreements' scoreboard, a milestone's page, and the one-click
unsubscribe that works without logging in."""

from __future__ import annotations

from django.core import signing
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from commitments import deadlines
from commitments.models import Milestone
from commitments.selectors import agreements_with_progress, progress_of

from .emails import unsubscribe_email
from .models import OptOut, Subscription


def overview(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    rows = [(a, progress_of(a)) for a in agreements_with_progress(now)]
    dated = (
        Milestone.objects.exclude(due_on=None)
        .select_related("commitment__agreement")
        .order_by("due_on", "id")[:50]
    )
    deadlines_ = [
        (
            m,
            m.is_overdue_at(now),
            deadlines.days_remaining(m.due_on, now=now, time_zone=m.time_zone()),
        )
        for m in dated
    ]
    return render(request, "tracker/overview.html", {"rows": rows, "deadlines": deadlines_})


def milestone_page(request: HttpRequest, pk: int) -> HttpResponse:
    m = get_object_or_404(
        Milestone.objects.select_related("commitment__agreement", "rule_anchor_milestone"), pk=pk
    )
    now = timezone.now()
    days_left = deadlines.days_remaining(m.due_on, now=now, time_zone=m.time_zone())
    history = m.updates.select_related("by", "party")[:100]
    return render(
        request,
        "tracker/milestone.html",
        {
            "m": m,
            "agreement": m.commitment.agreement,
            "history": history,
            "overdue": m.is_overdue_at(now),
            "days_left": days_left,
            "days_overdue": -days_left if days_left is not None and days_left < 0 else 0,
            "sources": m.commitment.sources.all(),
        },
    )


@csrf_exempt  # RFC 8058 one-click: mail clients POST without a session or CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        email = unsubscribe_email(token)
    except signing.BadSignature:
        return render(request, "tracker/unsubscribe.html", {"invalid": True}, status=400)
    if request.method == "GET":
        # A GET only asks: link scanners in mail systems follow links, and must not
        # unsubscribe anyone by doing so.
        return render(request, "tracker/unsubscribe.html", {"email": email, "ask": True})
    with transaction.atomic():
        Subscription.objects.filter(email__iexact=email).update(active=False)
        Subscription.objects.filter(user__email__iexact=email).update(active=False)
        try:
            with transaction.atomic():
                OptOut.objects.create(email=email)
        except IntegrityError:
            pass  # unsubscribed already
    return render(request, "tracker/unsubscribe.html", {"email": email, "done": True})
