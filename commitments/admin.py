"""The staff admin. Every save of an agreement, commitment, milestone or log entry,
and every status, deadline and archive change, goes through ``commitments.services``;
nothing here writes them directly. Records with history are archived, never deleted.

Times are labelled with their zone: a milestone's page reads in its agreement's zone,
list columns that mix agreements read in UTC."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from . import deadlines, selectors, services
from .deadlines import Anchor, DeadlineRule, RuleKind
from .models import (
    CLOSED_STATUSES,
    Agreement,
    Commitment,
    DeadlineRevision,
    Lead,
    LogEntry,
    Milestone,
    MilestonePart,
    MilestoneQuerySet,
    Party,
    Source,
    Status,
    StatusUpdate,
)


def status_badge(status: str, label: str) -> str:
    # Coloured by class (commitments/static/commitments/admin.css): no inline style
    # for the content security policy to allow.
    return format_html('<span class="status-badge status-{}">{}</span>', status, label)


BADGE_MEDIA = {"all": ["commitments/admin.css"]}


def overdue_badge(days: int) -> str:
    return format_html(
        '<span class="overdue-badge">overdue {} day{}</span>',
        days,
        "" if days == 1 else "s",
    )


def archived_badge() -> str:
    return format_html('<span class="archived-badge">{}</span>', "Archived")


def zone_label(moment: dt.datetime, time_zone: str) -> str:
    """Local wall time with its zone named: "2026-04-27 00:00 JST"; zones without a
    lettered abbreviation read "2026-04-27 00:00 UTC+07"."""
    local = moment.astimezone(zoneinfo.ZoneInfo(time_zone))
    abbr = local.tzname() or time_zone
    if abbr[:1] in "+-":
        abbr = f"UTC{abbr}"
    return f"{local:%Y-%m-%d %H:%M} {abbr}"


def utc_label(moment: dt.datetime | None) -> str:
    return zone_label(moment, "UTC") if moment else "—"


def can_set_status(request: HttpRequest) -> bool:
    return request.user.has_perm(services.STATUS_PERMISSION)


def staff(request: HttpRequest) -> User:
    """Who the services record. The admin site serves only logged-in staff
    (``AdminSite.has_permission``), so this is never the anonymous user; the stubs type
    ``request.user`` for any request, and mypy cannot follow the site's check."""
    return cast(User, request.user)


# --- Versioned saves: the form carries the version it loaded ------------------------


class VersionedForm(forms.ModelForm):
    """Carries the version the editor loaded. The check itself is the service's; when
    it refuses, the admin shows this form again with the editor's input and the
    refusal (``refusal``) as an error."""

    seen_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    refusal: services.TransitionError | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["seen_version"] = self.instance.version
            self.fields["seen_version"].required = True

    def clean(self) -> dict[str, Any]:
        super().clean()  # a ModelForm's returns ``cleaned_data``; the stubs allow None
        if self.refusal is not None:
            name = _FORM_FIELD.get(self.refusal.field or "", self.refusal.field)
            self.add_error(name if name in self.fields else None, self.refusal.message)
        return self.cleaned_data

    def edited(self, allowed: frozenset[str]) -> dict[str, Any]:
        """The fields this editor changed, and only those."""
        return {n: self.cleaned_data[n] for n in self.changed_data if n in allowed}


_FORM_FIELD = {"status": "new_status", "evidence_url": "evidence", "completed_on": "completed"}
# The column's width: a longer address is a form error that states the limit.
EVIDENCE_MAX_LENGTH = Milestone._meta.get_field("evidence_url").max_length


class ArchiveFilter(admin.SimpleListFilter):
    title = "archived"
    parameter_name = "archived"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Current"), ("yes", "Archived")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "no":
            return queryset.filter(archived_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(archived_at__isnull=False)
        return queryset


class NotCheckedFilter(admin.SimpleListFilter):
    """Nothing in the sourced log for 90 days (or ever)."""

    title = "last checked"
    parameter_name = "unchecked"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("90", f"Not checked for {selectors.UNCHECKED_DAYS} days")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "90":
            stale = selectors.not_checked_since(queryset.model.objects.all(), timezone.now())
            return queryset.filter(pk__in=stale.values("pk"))
        return queryset


class RecordAdmin(SimpleHistoryAdmin):
    """What agreements, commitments, milestones and log entries share: saves through
    an edit service with the loaded version, an audit trail (the History button),
    archive instead of delete, an "Archived" badge and filter."""

    class Media:
        css = BADGE_MEDIA

    form = VersionedForm
    change_form_template = "admin/commitments/record_change_form.html"
    edit_fields: frozenset[str] = frozenset()
    actions = ["archive_selected"]

    def edit(self, request: HttpRequest, obj: Any, version: int, changes: dict) -> None:
        raise NotImplementedError

    def archive(self, request: HttpRequest, obj: Any) -> None:
        raise NotImplementedError

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Everything here has an audit trail: archive it instead.
        return False

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kw: Any):
        form = super().get_form(request, obj, change, **kw)
        refusal = getattr(request, "_record_refusal", None)
        if refusal is not None:
            form = type(form.__name__, (form,), {"refusal": refusal})
        return form

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        changes = form.edited(self.edit_fields)
        if changes:
            self.edit(request, obj, form.cleaned_data["seen_version"], changes)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST" and "_archive" in request.POST and object_id:
            return self._archive_view(request, object_id)
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except services.TransitionError as exc:
            if request.method != "POST":
                raise
            # The refused save rolled back whole (changeform_view is atomic). Show the
            # form again with what the editor typed and the refusal: nothing is lost.
            request._record_refusal = exc  # type: ignore[attr-defined]
            return super().changeform_view(request, object_id, form_url, extra_context)

    def _archive_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_change_permission(request, obj):
            raise PermissionDenied
        try:
            self.archive(request, obj)
            self.message_user(request, f"“{obj}” is archived.", messages.SUCCESS)
        except services.TransitionError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        return HttpResponseRedirect(request.path)

    @admin.action(description="Archive the selected records (they stay, marked archived)")
    def archive_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for obj in queryset:
            try:
                self.archive(request, obj)
                done += 1
            except services.TransitionError as exc:
                self.message_user(request, f"{obj}: {exc.message}", messages.WARNING)
        if done:
            self.message_user(request, f"{done} archived.", messages.SUCCESS)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if not self.has_change_permission(request):
            actions.pop("archive_selected", None)
        return actions

    @admin.display(description="archived", ordering="archived_at")
    def archived(self, obj: Any) -> str:
        return archived_badge() if obj.archived_at else ""


# --- Inlines ----------------------------------------------------------------------


class SourceInline(admin.TabularInline):
    model = Source
    extra = 0
    fields = ["reference", "kind", "passage", "fact"]


class AgreementSourceInline(SourceInline):
    fk_name = "agreement"


class CommitmentSourceInline(SourceInline):
    fk_name = "commitment"


class MilestoneSourceInline(SourceInline):
    fk_name = "milestone"


class CommitmentInline(admin.TabularInline):
    """A summary with links: commitments are edited on their own page, through the
    service, with their version."""

    model = Commitment
    extra = 0
    max_num = 0
    can_delete = False
    fields = ("number", "title", "category", "assessment", "owner", "archived")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="archived")
    def archived(self, obj: Commitment) -> str:
        return archived_badge() if obj.archived_at else ""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Commitment]:
        return super().get_queryset(request).select_related("owner")


class LeadInline(admin.TabularInline):
    model = Lead
    extra = 0


class MilestoneInline(admin.TabularInline):
    """Milestones on their commitment's page: a summary with a link; status and
    deadlines are changed on the milestone's own page, through the services."""

    model = Milestone
    extra = 0
    max_num = 0
    can_delete = False
    fields = ("key", "title", "rule_text", "due_local", "status_display", "owner")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Milestone]:
        return (
            super()
            .get_queryset(request)
            .select_related("rule_anchor_milestone", "owner", "commitment__agreement")
        )

    @admin.display(description="deadline rule")
    def rule_text(self, obj: Milestone) -> str:
        return obj.rule.describe()

    @admin.display(description="status")
    def status_display(self, obj: Milestone) -> str:
        return milestone_badges(obj, timezone.now())

    @admin.display(description="due on")
    def due_local(self, obj: Milestone) -> str:
        return due_label(obj)


class MilestonePartInline(admin.TabularInline):
    model = MilestonePart
    extra = 0
    fields = ["party", "status", "completed_on"]
    readonly_fields = ["status", "completed_on"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[MilestonePart]:
        return super().get_queryset(request).select_related("party")


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def current_zone_label(moment: dt.datetime | None) -> str:
    """In the zone the page reads in (the agreement's, on a milestone's page)."""
    return zone_label(moment, timezone.get_current_timezone_name()) if moment else "—"


class StatusUpdateInline(ReadOnlyInline):
    model = StatusUpdate
    verbose_name_plural = "status history"
    fields = (
        "at_local",
        "by_label",
        "party",
        "kind",
        "from_status",
        "to_status",
        "note",
        "evidence_url",
        "completed_on",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[StatusUpdate]:
        return super().get_queryset(request).select_related("by", "party")

    @admin.display(description="by")
    def by_label(self, obj: StatusUpdate) -> str:
        return obj.by_label

    @admin.display(description="at")
    def at_local(self, obj: StatusUpdate) -> str:
        return current_zone_label(obj.at)


class DeadlineRevisionInline(ReadOnlyInline):
    model = DeadlineRevision
    fields = (
        "at_local",
        "by",
        "old_rule",
        "old_due_on",
        "new_rule",
        "new_due_on",
        "reason",
        "source",
    )
    readonly_fields = fields

    @admin.display(description="at")
    def at_local(self, obj: DeadlineRevision) -> str:
        return current_zone_label(obj.at)

    def get_queryset(self, request: HttpRequest) -> QuerySet[DeadlineRevision]:
        return super().get_queryset(request).select_related("by")


class LogInline(ReadOnlyInline):
    """The sourced log of what happened since signature, newest first, read-only here
    (each entry is edited on its own page, with its version)."""

    model = LogEntry
    verbose_name = "log entry"
    verbose_name_plural = "sourced log (what happened since signature)"
    fields = ("on", "kind", "text", "source_address", "source_passage", "by", "archived")
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[LogEntry]:
        return super().get_queryset(request).select_related("by")

    @admin.display(description="archived")
    def archived(self, obj: LogEntry) -> str:
        return archived_badge() if obj.archived_at else ""


LOG_ADD_FIELDS = ("on", "kind", "text", "source_address", "source_kind", "source_passage")


class LogAddInline(admin.StackedInline):
    """Add an entry to the sourced log: saved through ``services.logentry_create``."""

    model = LogEntry
    extra = 0
    can_delete = False
    verbose_name = "new log entry"
    verbose_name_plural = "add to the sourced log"
    fields = LOG_ADD_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[LogEntry]:
        return super().get_queryset(request).none()


class LoggedRecordAdmin(RecordAdmin):
    """A record with a sourced log: new entries go through the service."""

    log_owner = ""

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not LogEntry:
            super().save_formset(request, form, formset, change)
            return
        # What the admin's change message reads (new_objects and the rest).
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for entry_form in formset.extra_forms:
            if not entry_form.has_changed():
                continue
            data = entry_form.cleaned_data
            entry = services.logentry_create(
                by=staff(request),
                **{self.log_owner: form.instance},
                **{f: data[f] for f in LOG_ADD_FIELDS if f in data},
            )
            formset.new_objects.append(entry)


# --- Agreement, commitment, party ----------------------------------------------------


@admin.register(Party)
class PartyAdmin(admin.ModelAdmin):
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

    def edit(self, request: HttpRequest, obj: Agreement, version: int, changes: dict) -> None:
        # The signature date and the time zone are anchors: the service moves every
        # deadline that counts from them, in the same transaction.
        services.agreement_edit(
            agreement=obj, expected_version=version, changes=changes, by=staff(request)
        )

    def archive(self, request: HttpRequest, obj: Agreement) -> None:
        services.agreement_archive(agreement=obj, by=staff(request))


@admin.register(Commitment)
class CommitmentAdmin(LoggedRecordAdmin):
    list_display = ["title", "agreement", "category", "assessment", "owner", "archived"]
    list_filter = [
        ArchiveFilter,
        NotCheckedFilter,
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
    log_owner = "commitment"

    def edit(self, request: HttpRequest, obj: Commitment, version: int, changes: dict) -> None:
        services.commitment_edit(
            commitment=obj, expected_version=version, changes=changes, by=staff(request)
        )

    def archive(self, request: HttpRequest, obj: Commitment) -> None:
        services.commitment_archive(commitment=obj, by=staff(request))


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

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Added from the commitment's or milestone's page, which names what it is about.
        return False

    def edit(self, request: HttpRequest, obj: LogEntry, version: int, changes: dict) -> None:
        services.logentry_edit(
            entry=obj, expected_version=version, changes=changes, by=staff(request)
        )

    def archive(self, request: HttpRequest, obj: LogEntry) -> None:
        services.logentry_archive(entry=obj, by=staff(request))

    @admin.display(description="about")
    def subject(self, obj: LogEntry) -> str:
        return str(obj.milestone or obj.commitment or obj.agreement)


# --- Milestones -------------------------------------------------------------------


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Overdue"), ("no", "Not overdue")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Milestone]) -> QuerySet[Milestone]:
        # The milestone changelist's queryset comes from Milestone.objects; the filter's
        # signature (any model's QuerySet) cannot say so.
        milestones = cast(MilestoneQuerySet, queryset)
        now = timezone.now()
        if self.value() == "yes":
            return milestones.overdue_at(now)
        if self.value() == "no":
            return milestones.not_overdue_at(now)
        return queryset


class DueSoonFilter(admin.SimpleListFilter):
    title = "due soon"
    parameter_name = "due_within"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("7", "Next 7 days"), ("30", "Next 30 days")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Milestone]) -> QuerySet[Milestone]:
        days = self.value()
        if days in {"7", "30"}:
            due = selectors.milestones_due_within(timezone.now(), int(days))
            return queryset.filter(pk__in=due.values("pk"))
        return queryset


RULE_FIELDS = services.RULE_FIELDS


class MilestoneForm(VersionedForm):
    """Status and rule are plain form fields, not model fields: saving the form never
    writes them; ``MilestoneAdmin.save_model`` hands them to the services."""

    new_status = forms.ChoiceField(label="Status", choices=Status.choices)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    evidence = forms.URLField(
        label="Evidence address",
        required=False,
        assume_scheme="https",
        max_length=EVIDENCE_MAX_LENGTH,
        help_text=(
            f"Required to mark the milestone completed. At most {EVIDENCE_MAX_LENGTH} characters."
        ),
    )
    completed = forms.DateField(
        label="Completed on",
        required=False,
        help_text="The day it was done (today if left empty), in the agreement's time zone.",
    )
    party = forms.ModelChoiceField(
        Party.objects.none(),
        required=False,
        empty_label="The whole milestone",
        help_text="Or one party's part of a shared milestone.",
    )

    rule_kind = forms.ChoiceField(
        label="Deadline rule", choices=list(deadlines.RULE_KIND_LABELS.items())
    )
    rule_amount = forms.IntegerField(label="N (days or months)", min_value=0, required=False)
    rule_anchor = forms.ChoiceField(
        label="Counted from", choices=list(deadlines.ANCHOR_LABELS.items())
    )
    rule_anchor_milestone = forms.ModelChoiceField(Milestone.objects.none(), required=False)
    rule_fixed_date = forms.DateField(required=False)
    rule_rrule = forms.CharField(required=False, help_text="e.g. FREQ=MONTHLY;INTERVAL=3")
    revision_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when the rule changes: why the deadline moved.",
    )
    revision_source = forms.CharField(
        required=False, help_text="Required when the rule changes: who reports it (address)."
    )

    class Meta:
        model = Milestone
        fields = ["commitment", "key", "title", "owner"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        m = self.instance
        if m.pk:
            # Both are declared above as ModelChoiceFields; ``fields`` is typed by Field.
            party = cast(forms.ModelChoiceField, self.fields["party"])
            anchor = cast(forms.ModelChoiceField, self.fields["rule_anchor_milestone"])
            party.queryset = Party.objects.filter(milestone_parts__milestone=m)
            anchor.queryset = Milestone.objects.filter(
                commitment__agreement_id=m.commitment.agreement_id
            ).exclude(pk=m.pk)
            # Dates that depend on a zone say which: the agreement's.
            zone = m.commitment.agreement.time_zone
            today = deadlines.local_today(timezone.now(), zone)
            self.fields["completed"].label = f"Completed on ({zone})"
            self.fields["completed"].help_text = (
                f"The day it was done, in the agreement's zone ({zone}); "
                f"empty means today there, {today.isoformat()}."
            )
            self.initial.update(
                new_status=m.status,
                evidence=m.evidence_url,
                completed=m.completed_on,
                **{
                    f: getattr(m, f + ("_id" if f == "rule_anchor_milestone" else ""))
                    for f in RULE_FIELDS
                },
            )

    def rule(self) -> DeadlineRule:
        d = self.cleaned_data
        anchor = d.get("rule_anchor_milestone")
        return DeadlineRule(
            kind=RuleKind(d["rule_kind"]),
            amount=d.get("rule_amount"),
            anchor=Anchor(d["rule_anchor"]),
            anchor_milestone_id=anchor.pk if anchor else None,
            fixed_date=d.get("rule_fixed_date"),
            rrule=d.get("rule_rrule") or "",
        )

    def rule_changed(self) -> bool:
        return bool(set(RULE_FIELDS) & set(self.changed_data))

    def status_changed(self) -> bool:
        return bool(
            {"new_status", "note", "evidence", "completed", "party"} & set(self.changed_data)
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        m = self.instance
        if not m.pk or self.errors:
            return data
        if self.status_changed():
            try:
                services.check_status_change(
                    m,
                    data["new_status"],
                    data.get("evidence") or "",
                    data.get("completed"),
                    now=timezone.now(),
                )
            except services.TransitionError as exc:
                self.add_error(_FORM_FIELD.get(exc.field or ""), exc.message)
        if self.rule_changed():
            try:
                self.rule().validate()
            except deadlines.RuleError as exc:
                self.add_error("rule_kind", str(exc))
            for name in ("revision_reason", "revision_source"):
                if not data.get(name, "").strip():
                    self.add_error(name, "Required when the deadline rule changes.")
        return data


def milestone_badges(obj: Milestone, now: dt.datetime) -> str:
    """The status, a red "overdue N days" beside it (days in the agreement's zone),
    and "Archived"."""
    html = status_badge(obj.status, obj.get_status_display())
    if obj.is_overdue_at(now) and obj.due_on is not None:
        days = deadlines.days_remaining(obj.due_on, now=now, time_zone=obj.time_zone())
        html += overdue_badge(-(days or 0))
    if obj.archived_at:
        html += archived_badge()
    return format_html("{}", html)


def due_label(obj: Milestone) -> str:
    """A due date is a date in the agreement's zone: say which."""
    if obj.due_on is None:
        return "no deadline"
    return f"{obj.due_on.isoformat()} ({obj.time_zone()})"


def overdue_first(now: dt.datetime) -> Case:
    """Overdue first, then open by due date, then closed; no deadline last."""
    return Case(
        When(Q(overdue_from__lte=now) & ~Q(status__in=CLOSED_STATUSES), then=Value(0)),
        When(due_on__isnull=True, then=Value(3)),
        When(status__in=CLOSED_STATUSES, then=Value(2)),
        default=Value(1),
        output_field=IntegerField(),
    )


@admin.register(Milestone)
class MilestoneAdmin(LoggedRecordAdmin):
    form = MilestoneForm
    list_display = [
        "title",
        "agreement",
        "rule_text",
        "due_local",
        "status_badge",
        "days_left",
        "owner_display",
        "updated_utc",
    ]
    list_select_related = [
        "commitment__agreement",
        "commitment__owner",
        "owner",
        "rule_anchor_milestone",
    ]
    list_filter = [
        ("commitment__agreement", admin.RelatedOnlyFieldListFilter),
        ("parties", admin.RelatedOnlyFieldListFilter),
        "status",
        OverdueFilter,
        DueSoonFilter,
        NotCheckedFilter,
        ArchiveFilter,
    ]
    search_fields = [
        "title",
        "commitment__title",
        "sources__reference",
        "sources__fact",
        "commitment__sources__reference",
        "commitment__sources__fact",
    ]
    date_hierarchy = "due_on"
    list_per_page = 100
    list_max_show_all = 2000
    raw_id_fields = ["owner"]
    actions = ["mark_in_progress", "mark_completed_today", "archive_selected"]
    inlines = [
        MilestonePartInline,
        StatusUpdateInline,
        DeadlineRevisionInline,
        MilestoneSourceInline,
        LogInline,
        LogAddInline,
    ]
    readonly_fields = [
        "rule_text",
        "due_local",
        "original_due_local",
        "overdue_display",
        "days_left",
        "version",
        "updated_local",
        "archived_at",
    ]
    edit_fields = services.MILESTONE_FIELDS
    log_owner = "milestone"

    def get_fieldsets(self, request: HttpRequest, obj: Milestone | None = None) -> Any:
        status = ["new_status", "party", "note", "evidence", "completed", "seen_version"]
        rule = [*RULE_FIELDS, "revision_reason", "revision_source"]
        if obj is None or not self.has_change_permission(request, obj):
            # Viewers (and the add page) see what is, not the controls to change it.
            return [
                (None, {"fields": ["commitment", "key", "title", "owner"]}),
                ("Deadline", {"fields": ["rule_text", "due_local", "original_due_local"]}),
            ]
        if not can_set_status(request):
            status = ["seen_version"]
        return [
            (
                None,
                {
                    "fields": [
                        "commitment",
                        "key",
                        "title",
                        "owner",
                        "version",
                        "updated_local",
                        "archived_at",
                    ]
                },
            ),
            ("Status", {"fields": status}),
            (
                "Deadline",
                {
                    "fields": [
                        "rule_text",
                        "due_local",
                        "original_due_local",
                        "days_left",
                        "overdue_display",
                        *rule,
                    ]
                },
            ),
        ]

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        return [overdue_first(timezone.now()).asc(), F("due_on").asc(nulls_last=True), "id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Milestone]:
        return (
            super()
            .get_queryset(request)
            .select_related(
                "commitment__agreement", "commitment__owner", "owner", "rule_anchor_milestone"
            )
            .annotate(overdue_rank=overdue_first(timezone.now()))
        )

    # Columns -----------------------------------------------------------------------

    @admin.display(description="agreement", ordering="commitment__agreement__short_name")
    def agreement(self, obj: Milestone) -> str:
        return str(obj.commitment.agreement)

    @admin.display(description="deadline rule")
    def rule_text(self, obj: Milestone) -> str:
        return obj.rule.describe()

    @admin.display(description="days left")
    def days_left(self, obj: Milestone) -> str:
        if obj.due_on is None:
            return "—"
        if obj.is_closed:
            return "—"
        days = deadlines.days_remaining(obj.due_on, now=timezone.now(), time_zone=obj.time_zone())
        assert days is not None
        if days < 0:
            return "—"  # the red badge beside the status says how overdue
        return "due today" if days == 0 else f"{days} days left"

    @admin.display(description="status", ordering="overdue_rank")
    def status_badge(self, obj: Milestone) -> str:
        return milestone_badges(obj, timezone.now())

    @admin.display(description="due on (the agreement's date)", ordering="due_on")
    def due_local(self, obj: Milestone) -> str:
        return due_label(obj)

    @admin.display(description="original due on")
    def original_due_local(self, obj: Milestone) -> str:
        """The due date before any revision, a date in the agreement's zone."""
        if obj.original_due_on is None:
            return "—"
        return f"{obj.original_due_on.isoformat()} ({obj.time_zone()})"

    @admin.display(description="overdue since")
    def overdue_display(self, obj: Milestone) -> str:
        """The deadline moment in the agreement's zone; the sweep's flag time (when the
        service first noticed) only as a detail."""
        now = timezone.now()
        if obj.overdue_from is None or not obj.is_overdue_at(now):
            return "not overdue"
        flagged = (
            f"; flagged by the sweep {zone_label(obj.overdue_since, obj.time_zone())}"
            if obj.overdue_since
            else "; not yet flagged by the sweep"
        )
        days = -(deadlines.days_remaining(obj.due_on, now=now, time_zone=obj.time_zone()) or 0)
        return format_html(
            "overdue since {} ({} day{}) <span class='help'>{}</span>",
            zone_label(obj.overdue_from, obj.time_zone()),
            days,
            "" if days == 1 else "s",
            flagged.lstrip("; "),
        )

    @admin.display(description="updated (UTC)", ordering="updated_at")
    def updated_utc(self, obj: Milestone) -> str:
        """One zone for the whole column: the rows belong to different agreements."""
        return utc_label(obj.updated_at)

    @admin.display(description="updated")
    def updated_local(self, obj: Milestone) -> str:
        """On the milestone's page: in the agreement's zone, named."""
        return zone_label(obj.updated_at, obj.time_zone())

    @admin.display(description="owner")
    def owner_display(self, obj: Milestone) -> str:
        owner = obj.owner or obj.commitment.owner
        return owner.get_username() if owner else "—"

    # Saving ------------------------------------------------------------------------

    def save_model(
        self, request: HttpRequest, obj: Milestone, form: MilestoneForm, change: bool
    ) -> None:
        if not change:
            with transaction.atomic():
                super().save_model(request, obj, form, change)
                services.refresh_deadlines(obj.commitment.agreement)
            return
        # Each service checks the version it is given (the one the editor loaded, then
        # the one the previous step left): a stale form changes nothing.
        version = form.cleaned_data["seen_version"]
        data = form.cleaned_data
        changes = form.edited(self.edit_fields)
        if changes:
            services.milestone_edit(
                milestone=obj, expected_version=version, changes=changes, by=staff(request)
            )
            version = obj.version
        if form.rule_changed():
            services.milestone_revise_deadline(
                milestone=obj,
                rule=form.rule(),
                reason=data["revision_reason"],
                source=data["revision_source"],
                by=staff(request),
                expected_version=version,
            )
            obj.refresh_from_db()
            version = obj.version
        if form.status_changed() and can_set_status(request):
            services.milestone_set_status(
                milestone=obj,
                status=data["new_status"],
                by=staff(request),
                note=data.get("note") or "",
                evidence_url=data.get("evidence") or "",
                completed_on=data.get("completed"),
                party=data.get("party"),
                expected_version=version,
            )

    def archive(self, request: HttpRequest, obj: Milestone) -> None:
        services.milestone_archive(milestone=obj, by=staff(request))

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # Times on a milestone's page read in its agreement's zone (stored in UTC).
        zone = (
            Milestone.objects.filter(pk=object_id)
            .values_list("commitment__agreement__time_zone", flat=True)
            .first()
            if object_id and object_id.isdigit()
            else None
        )
        with timezone.override(zone or timezone.get_current_timezone()):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render"):
                response.render()
            return response

    # Actions -----------------------------------------------------------------------

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if not can_set_status(request):
            actions.pop("mark_in_progress", None)
            actions.pop("mark_completed_today", None)
        return actions

    @admin.action(description="Mark selected milestones in progress")
    def mark_in_progress(self, request: HttpRequest, queryset: QuerySet[Milestone]) -> None:
        self._bulk_set(request, queryset, Status.IN_PROGRESS, note="", evidence="")

    @admin.action(description="Mark selected milestones completed (today in each agreement's zone)")
    def mark_completed_today(
        self, request: HttpRequest, queryset: QuerySet[Milestone]
    ) -> HttpResponse | None:
        form = BulkCompleteForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._bulk_set(
                request,
                queryset,
                Status.COMPLETED,
                note=form.cleaned_data["note"],
                evidence=form.cleaned_data["evidence"],
            )
            return None
        # Completion needs evidence: ask for it once, for the whole selection.
        return TemplateResponse(
            request,
            "admin/commitments/milestone/bulk_complete.html",
            {
                **self.admin_site.each_context(request),
                "title": "Mark milestones completed today",
                "opts": self.opts,
                "form": form,
                "milestones": queryset.select_related("commitment__agreement"),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    def _bulk_set(
        self,
        request: HttpRequest,
        queryset: QuerySet[Milestone],
        status: str,
        *,
        note: str,
        evidence: str,
    ) -> None:
        done, refused = 0, []
        for milestone in queryset.select_related("commitment__agreement"):
            try:
                with transaction.atomic():
                    services.milestone_set_status(
                        milestone=milestone,
                        status=status,
                        by=staff(request),
                        note=note,
                        evidence_url=evidence,
                    )
                done += 1
            except services.TransitionError as exc:
                refused.append(f"{milestone.title}: {exc.message}")
        if done:
            self.message_user(request, f"{done} milestone(s) set to {status}.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)


class BulkCompleteForm(forms.Form):
    evidence = forms.URLField(
        label="Evidence address", assume_scheme="https", max_length=EVIDENCE_MAX_LENGTH
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


@admin.register(StatusUpdate)
class StatusUpdateAdmin(admin.ModelAdmin):
    """The whole history, read-only: an audit trail is not edited."""

    class Media:
        css = BADGE_MEDIA

    list_display = ["at_utc", "milestone", "party", "kind", "from_status", "to_status", "by"]
    list_filter = ["kind", "to_status"]
    list_select_related = ["milestone", "party", "by"]
    search_fields = ["milestone__title", "note"]
    date_hierarchy = "at"

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
