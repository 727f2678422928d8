"""The sourced log: what happened since signature, with its source."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .. import services
from ..models import LogEntry
from .filters import ArchiveFilter
from .records import RecordAdmin, RecordWrites


@admin.register(LogEntry)
class LogEntryAdmin(RecordAdmin):
    """The sourced log. Entries never change a status or an assessment."""

    list_display = ["on", "kind", "subject", "text", "source_address", "by", "archived"]
    list_filter = [ArchiveFilter, "kind", "source_kind"]
    list_select_related = ["agreement", "commitment", "milestone", "by"]
    search_fields = ["text", "source_address", "source_passage", "key"]
    date_hierarchy = "on"
    fields = [
        "on",
        "kind",
        "text",
        "ja_is_translation",
        "source_address",
        "source_kind",
        "source_passage",
        "subject",
        "by",
        "version",
        "archived_at",
        "seen_version",
    ]
    readonly_fields = ["subject", "by", "version", "archived_at"]
    edit_fields = services.LOGENTRY_FIELDS
    writes = RecordWrites(services.logentry_edit, services.logentry_archive, "entry")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Added from the commitment's or milestone's page, which names what it is about.
        return False

    @admin.display(description="about")
    def subject(self, obj: LogEntry) -> str:
        return str(obj.milestone or obj.commitment or obj.agreement)
