"""API tokens in the admin: issue one per client (the token is shown once), see who
holds which and until when, revoke by deleting. Only digests are stored (knox)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from knox.models import AuthToken
from knox.settings import knox_settings

admin.site.unregister(AuthToken)


class IssueTokenForm(forms.ModelForm[Any]):
    valid_days = forms.IntegerField(
        min_value=1,
        max_value=3650,
        initial=lambda: knox_settings.TOKEN_TTL.days if knox_settings.TOKEN_TTL else 90,
        help_text="The token stops working after this many days.",
    )

    class Meta:
        model = AuthToken
        fields = ["user"]


class ExpiredFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Active"), ("expired", "Expired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuthToken]) -> QuerySet[AuthToken]:
        now = timezone.now()
        if self.value() == "active":
            return queryset.exclude(expiry__lte=now)
        if self.value() == "expired":
            return queryset.filter(expiry__lte=now)
        return queryset


@admin.register(AuthToken)
class ApiTokenAdmin(admin.ModelAdmin[Any]):
    list_display = ["token_key", "user", "created", "expiry", "active"]
    list_filter = [ExpiredFilter]
    list_select_related = ["user"]
    search_fields = ["token_key", "user__username"]
    raw_id_fields = ["user"]
    actions = ["revoke"]
    ordering = ["-created"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        if obj is None:
            kwargs["form"] = IssueTokenForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("user", "valid_days") if obj is None else ("token_key", "user", "created", "expiry")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a token is issued or revoked, never edited (every field read-only)

    def save_model(self, request: HttpRequest, obj: AuthToken, form: Any, change: bool) -> None:
        days = form.cleaned_data["valid_days"]
        token, plain = AuthToken.objects.create(user=obj.user, expiry=dt.timedelta(days=days))
        obj.pk = token.pk  # the admin's "added" message and redirect point at the new row
        self.message_user(
            request,
            f"Token for {obj.user}: {plain}   (shown this once; only its digest is kept). "
            f"Send it as 'Authorization: Token {plain}'.",
            messages.WARNING,
        )

    @admin.display(boolean=True, description="active")
    def active(self, obj: AuthToken) -> bool:
        return obj.expiry is None or obj.expiry > timezone.now()

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[AuthToken]) -> None:
        count, _ = queryset.delete()
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)
