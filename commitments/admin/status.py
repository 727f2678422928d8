"""The status history, read-only: an audit trail is not edited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ..models import StatusUpdate
from .filters import DateHierarchyAdmin
from .forms import HTTPS_URLS
from .labels import BADGE_MEDIA, utc_label


@admin.register(StatusUpdate)
class StatusUpdateAdmin(DateHierarchyAdmin):
    class Media:
        css = BADGE_MEDIA

    list_display = ["at_utc", "milestone", "party", "kind", "from_status", "to_status", "by"]
    list_filter = ["kind", "to_status"]
    list_select_related = ["milestone", "party", "by"]
    search_fields = ["milestone__title", "note"]
    date_hierarchy = "at"
    formfield_overrides = HTTPS_URLS

    @admin.display(description="at (UTC)", ordering="at")
    def at_utc(self, obj: StatusUpdate) -> str:
        """One zone for the column: the rows belong to different agreements."""
        return utc_label(obj.at)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
