"""Parties, agreements and commitments."""

from __future__ import annotations

from django.contrib import admin

from .. import services
from ..models import Agreement, Commitment, Party
from .filters import ArchiveFilter, JapaneseFilter, NotCheckedFilter
from .inlines import (
    AgreementSourceInline,
    CommitmentInline,
    CommitmentSourceInline,
    LeadInline,
    LogAddInline,
    LogInline,
    MilestoneInline,
)
from .records import LoggedRecordAdmin, RecordAdmin, RecordWrites


@admin.register(Party)
class PartyAdmin(admin.ModelAdmin[Party]):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(Agreement)
class AgreementAdmin(RecordAdmin):
    list_display = ["short_name", "signed_on", "signed_at", "time_zone", "binding", "archived"]
    list_filter = [ArchiveFilter]
    search_fields = ["title", "short_name", "slug"]
    prepopulated_fields = {"slug": ["short_name"]}
    filter_horizontal = ["parties"]
    inlines = [CommitmentInline, AgreementSourceInline]
    readonly_fields = ["version", "archived_at"]
    edit_fields = services.AGREEMENT_FIELDS
    # The signature date and the time zone are anchors: the edit service moves every
    # deadline that counts from them, in the same transaction.
    writes = RecordWrites(services.agreement_edit, services.agreement_archive, "agreement")
    zone_path = "time_zone"


@admin.register(Commitment)
class CommitmentAdmin(LoggedRecordAdmin):
    list_display = ["title", "agreement", "category", "assessment", "owner", "archived"]
    list_filter = [
        ArchiveFilter,
        NotCheckedFilter,
        JapaneseFilter,
        "agreement",
        "category",
        "assessment",
        "parties",
    ]
    list_select_related = ["agreement", "owner"]
    search_fields = ["title", "summary", "sources__reference", "sources__fact", "leads__title"]
    raw_id_fields = ["owner"]
    filter_horizontal = ["parties"]
    inlines = [LeadInline, MilestoneInline, CommitmentSourceInline, LogInline, LogAddInline]
    readonly_fields = ["version", "archived_at"]
    edit_fields = services.COMMITMENT_FIELDS
    writes = RecordWrites(services.commitment_edit, services.commitment_archive, "commitment")
    zone_path = "agreement__time_zone"
