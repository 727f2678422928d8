"""The subscription form: each stored value checked at the edge, so that one staff
typo cannot reach the sweep (which would skip it anyway, and say so on the row)."""

from __future__ import annotations

import base64
import binascii
import zoneinfo
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import get_language

from commitments.admin.forms import https_urls

from ..models import KNOWN_KINDS, LEAD_DAYS_MAX, LEAD_DAYS_MIN, Subscription, WebhookEndpoint
from ..netguard import Refused
from .audience import lead_days_problem
from .webhooks import SECRET_PREFIX, new_secret, vetted_address


class LeadDaysField(forms.CharField):
    """Whole numbers of days, entered as a list: "30, 7, 1"."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[int]:  # type: ignore[override]
        text = super().to_python(value) or ""
        days = []
        for part in text.replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdecimal():
                raise ValidationError(
                    f"'{part}' is not a whole number of days; enter e.g. 30, 7, 1"
                )
            try:
                days.append(int(part))
            except ValueError:  # more digits than int() reads (4300): far out of range
                raise ValidationError(
                    f"lead day {part[:10]}… is not between {LEAD_DAYS_MIN} and {LEAD_DAYS_MAX}"
                ) from None
        problem = lead_days_problem(days)
        if problem:
            raise ValidationError(problem)
        return sorted(set(days), reverse=True)


def time_zone_choices() -> list[tuple[str, str]]:
    return [("", "Default (TIME_ZONE)")] + [(z, z) for z in sorted(zoneinfo.available_timezones())]


def page_language() -> str:
    """The active language, as one of LANGUAGES ("en" for "en-us"; English for any
    other): the default language of a new subscription."""
    active = (get_language() or "").split("-")[0]
    return active if active in dict(settings.LANGUAGES) else "en"


class KindsField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=list(KNOWN_KINDS.items()), **kwargs)


class SubscriptionForm(forms.ModelForm[Subscription]):
    kinds = KindsField()
    lead_days = LeadDaysField(
        help_text=(
            f"Days before the due date to warn, whole numbers from {LEAD_DAYS_MIN} to "
            f"{LEAD_DAYS_MAX}, e.g. 30, 7, 1"
        )
    )
    time_zone = forms.ChoiceField(
        choices=time_zone_choices,
        required=False,
        help_text="An IANA time zone, for the Monday 09:00 digest",
    )
    language = forms.ChoiceField(
        choices=settings.LANGUAGES,
        required=False,
        help_text="Of the emails and the pages they link to; left out: the page's",
    )

    class Meta:
        model = Subscription
        fields = [
            "email",
            "user",
            "agreement",
            "commitment",
            "milestone",
            "kinds",
            "lead_days",
            "time_zone",
            "language",
            "active",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.pk and "language" in self.fields:
            # A new subscription's emails default to the language the editor reads in.
            self.initial.setdefault("language", page_language())

    def clean_language(self) -> str:
        return self.cleaned_data.get("language") or page_language()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("email") and not data.get("user"):
            raise ValidationError("Give an email address or choose a user.")
        return data


class WebhookEndpointForm(forms.ModelForm[WebhookEndpoint]):
    kinds = KindsField()

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "secret", "agreements", "kinds", "active"]
        formfield_callback = https_urls

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "secret" in self.fields:  # not on a view-only page
            self.fields["secret"].required = False

    def clean_url(self) -> str:
        """Refused at save, as at send time: an address that is, or resolves to, a
        loopback, private or link-local one (unless TRACKER_WEBHOOK_ALLOW_PRIVATE)."""
        url: str = self.cleaned_data["url"]
        try:
            vetted_address(url)
        except Refused as exc:
            raise ValidationError(str(exc)) from None
        return url

    def clean_secret(self) -> str:
        secret: str = self.cleaned_data.get("secret") or ""
        if not secret:
            return new_secret()
        try:
            key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if not secret.startswith(SECRET_PREFIX) or len(key) < 24:
            raise ValidationError(
                f"Use {SECRET_PREFIX} followed by at least 24 bytes in base64, "
                "or leave it empty to have one made"
            )
        return secret
