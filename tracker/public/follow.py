"""Follow by email, no account: double opt-in. The form creates a Subscription with
``pending_since`` set and ``active`` off (the alert pipeline sends nothing to it)
and mails a signed, expiring link; confirming clears ``pending_since`` and turns it
on. Throttled per address and per client (tracker.ops.throttle)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings
from django.core import signing
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, override
from django.views.decorators.http import require_http_methods, require_POST

from commitments.models import Agreement, Commitment, Milestone
from tracker.alerts.forms import page_language
from tracker.models import OptOut, Subscription
from tracker.ops import throttle

from .emails import send_follow_confirmation

CONFIRM_SALT = "tracker.public.follow"
EMAIL_LENGTH = 254  # Subscription.email's column
TARGETS: dict[str, type[Agreement] | type[Commitment] | type[Milestone]] = {
    "agreement": Agreement,
    "commitment": Commitment,
    "milestone": Milestone,
}


class FollowForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("Your email address"), max_length=EMAIL_LENGTH)
    target = forms.CharField(widget=forms.HiddenInput)
    # The language of the alerts; absent or empty: the page's (page_language).
    language = forms.ChoiceField(choices=settings.LANGUAGES, required=False)

    def clean_email(self) -> str:
        """The address as it is kept and mailed: in lower case, its domain as IDNA
        reads it, so that one mailbox is one address whatever the spelling
        (ｅｘａｍｐｌｅ.org and xn--bcher-kva.org are example.org and bücher.org, where
        the mail goes). Refused when mail could not go to it (a domain IDNA cannot
        encode, as a label of 62 "ü") or when it grows too long to keep ("İ" is two
        letters in lower case)."""
        invalid = forms.ValidationError(validate_email.message, code=validate_email.code)
        local, _, domain = self.cleaned_data["email"].lower().rpartition("@")
        try:
            email = f"{local}@{throttle.mail_domain(domain)}"
        except UnicodeError:
            raise invalid from None
        if len(email) > EMAIL_LENGTH:
            raise invalid
        return email

    def clean_target(self) -> tuple[str, object]:
        value = self.cleaned_data["target"]
        kind, _, pk = value.partition(":")
        model = TARGETS.get(kind)
        try:
            obj = model.objects.filter(pk=pk).first() if model else None
        except ValueError:  # as ModelChoiceField: not a number, or too long for int()
            obj = None
        if obj is None:
            raise forms.ValidationError(
                gettext("'%(value)s' is not something one can follow") % {"value": value}
            )
        return kind, obj


def confirm_token(subscription: Subscription) -> str:
    """A signed reference to this request to follow, and no address: the link shows in
    access logs. It confirms only the request it was sent for (``pending_since``)."""
    assert subscription.pending_since is not None
    return signing.dumps(
        {"s": subscription.pk, "p": subscription.pending_since.isoformat()}, salt=CONFIRM_SALT
    )


def _pending(data: object) -> Subscription | None:
    if not isinstance(data, dict) or not isinstance(data.get("s"), int):
        return None
    subscription = Subscription.objects.filter(pk=data["s"]).first()
    if subscription is None:
        return None
    if "e" in data:  # a link sent before links carried no address
        return subscription if subscription.email == data["e"] else None
    pending = subscription.pending_since
    if pending is None:  # confirmed already (a second click): shown, nothing changes
        return subscription if subscription.active else None
    return subscription if pending.isoformat() == data.get("p") else None


def _mailbox_allowed(email: str) -> tuple[bool, bool]:
    """At most TRACKER_FOLLOW_PER_ADDRESS confirmation emails an hour to one mailbox,
    however its address is spelled. Counted in the cache; while the cache is down,
    from the requests to follow of the last hour in the database (they are kept), and
    then a request renewed within the hour sends nothing (it would not be counted).
    Returns (allowed, counted in the database)."""
    limit = settings.TRACKER_FOLLOW_PER_ADDRESS
    box = throttle.mailbox(email)
    counted = throttle.count("follow", f"address:{box}")
    if counted is not None:
        return counted <= limit, False
    since = timezone.now() - dt.timedelta(seconds=throttle.WINDOW_SECONDS)
    recent = Subscription.objects.filter(pending_since__gte=since).values_list("email", flat=True)
    return sum(throttle.mailbox(e) == box for e in recent[:10_000]) < limit, True


@require_POST
def follow(request: HttpRequest) -> HttpResponse:
    form = FollowForm(request.POST)
    if not form.is_valid():
        return render(request, "tracker/public/follow.html", {"form": form}, status=400)
    email = form.cleaned_data["email"]
    kind, target = form.cleaned_data["target"]
    mailbox_allowed, from_database = _mailbox_allowed(email)
    if not (
        throttle.client_allowed(request, "follow", settings.TRACKER_FOLLOW_PER_CLIENT)
        and mailbox_allowed
    ):
        form.add_error("email", gettext("Too many requests: try again in an hour."))
        response = render(request, "tracker/public/follow.html", {"form": form}, status=429)
        response["Retry-After"] = throttle.RETRY_AFTER
        return response
    existing = Subscription.objects.filter(email__iexact=email, **{kind: target})
    if not existing.filter(active=True, pending_since__isnull=True).exists():
        # Inactive as well as pending until confirmed: any alert path that reads only
        # ``active`` skips it too.
        pending = existing.filter(pending_since__isnull=False).first()
        now = timezone.now()
        window = dt.timedelta(seconds=throttle.WINDOW_SECONDS)
        renewed = pending is not None and (pending.pending_since or now) >= now - window
        if not (from_database and renewed):
            subscription = pending or Subscription(email=email, **{kind: target})
            subscription.pending_since, subscription.active = now, False
            subscription.language = form.cleaned_data["language"] or page_language()
            subscription.save()
            with override(subscription.language):  # the confirmation, and its page
                url = settings.SITE_URL + reverse(
                    "tracker:follow_confirm", args=[confirm_token(subscription)]
                )
                send_follow_confirmation(email, target, url)
    # The same answer whether or not the address already follows: nothing to learn here.
    return render(request, "tracker/public/follow.html", {"sent": True, "email": email})


@require_http_methods(["GET", "POST"])
def follow_confirm(request: HttpRequest, token: str) -> HttpResponse:
    try:
        data = signing.loads(
            token, salt=CONFIRM_SALT, max_age=settings.TRACKER_FOLLOW_CONFIRM_MAX_AGE
        )
    except signing.SignatureExpired:
        return render(request, "tracker/public/confirm.html", {"expired": True}, status=400)
    except signing.BadSignature:
        return render(request, "tracker/public/confirm.html", {"invalid": True}, status=400)
    subscription = _pending(data)
    if subscription is None:
        return render(request, "tracker/public/confirm.html", {"invalid": True}, status=400)
    with override(subscription.language):
        return _confirm(request, subscription)


def _confirm(request: HttpRequest, subscription: Subscription) -> HttpResponse:
    if subscription.pending_since is None:
        return render(request, "tracker/public/confirm.html", {"done": True, "s": subscription})
    if request.method == "GET":
        # A GET only asks: mail scanners follow links and must not confirm for anyone.
        return render(request, "tracker/public/confirm.html", {"ask": True, "s": subscription})
    with transaction.atomic():
        Subscription.objects.filter(pk=subscription.pk).update(pending_since=None, active=True)
        # Confirming is a fresh, proven consent: an earlier unsubscribe no longer holds.
        OptOut.objects.filter(email__iexact=subscription.email).delete()
    return render(request, "tracker/public/confirm.html", {"done": True, "s": subscription})
