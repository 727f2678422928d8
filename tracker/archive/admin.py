"""Archived copies and link checks, for staff to look at (both are written only by
the archiving task and the link check); a failed capture can be tried again now."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from .models import Capture, LinkCheck


@admin.register(Capture)
class CaptureAdmin(admin.ModelAdmin[Capture]):
    list_display = ("address", "state", "status", "fetched_at", "attempts", "next_try", "copy")
    list_filter = ("state", "outcome")
    search_fields = ("address",)
    readonly_fields = [f.name for f in Capture._meta.fields if f.name != "id"]
    actions = ["try_again"]

    @admin.display(description="copy")
    def copy(self, obj: Capture) -> str:
        if not obj.archived:
            return "—"
        return format_html('<a href="{}">open</a>', reverse("tracker:archive_copy", args=[obj.pk]))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Try the selected failed captures again now", permissions=["change"])
    def try_again(self, request: HttpRequest, queryset: QuerySet[Capture]) -> None:
        n = queryset.exclude(state=Capture.State.ARCHIVED).update(
            attempts=0, next_try=timezone.now()
        )
        messages.success(request, f"{n} capture(s) will be tried again at the next run.")


class Answers(admin.SimpleListFilter):
    title = "found"
    parameter_name = "found"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("dead", "No longer answers"), ("words", "Quoted words gone")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[LinkCheck]) -> QuerySet[LinkCheck]:
        if self.value() == "dead":
            return queryset.filter(answers=False)
        if self.value() == "words":
            return queryset.filter(answers=True).exclude(missing="")
        return queryset


@admin.register(LinkCheck)
class LinkCheckAdmin(admin.ModelAdmin[LinkCheck]):
    list_display = ("address", "answers", "status", "outcome", "passages", "gone", "checked_at")
    list_filter = (Answers, "outcome")
    search_fields = ("address",)
    readonly_fields = [f.name for f in LinkCheck._meta.fields if f.name != "id"]

    @admin.display(description="passages gone")
    def gone(self, obj: LinkCheck) -> int:
        return obj.passages_gone

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
