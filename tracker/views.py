"""The one-click unsubscribe that works without logging in. The public pages are in
``tracker.public``."""

from __future__ import annotations

from django.core import signing
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .emails import unsubscribe_email
from .models import OptOut, Subscription


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
