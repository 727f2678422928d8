"""The staff admin. Status and deadline changes, from the form or an action, go
through ``commitments.services``; nothing here writes them directly."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from . import deadlines, services
from .deadlines import Anchor, DeadlineRule, RuleKind
from .models import (
    Agreement,
    Commitment,
    DeadlineRevision,
    Lead,
    Milestone,
    MilestonePart,
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


def can_set_status(request: HttpRequest) -> bool:
    return request.user.has_perm(services.STATUS_PERMISSION)


# --- Inlines ----------------------------------------------------------------------


class SourceInline(admin.TabularInline):
    model = Source
    extra = 0
    fields = ["reference", "fact"]


class AgreementSourceInline(SourceInline):
    fk_name = "agreement"


class CommitmentSourceInline(SourceInline):
    fk_name = "commitment"


class MilestoneSourceInline(SourceInline):
    fk_name = "milestone"


class CommitmentInline(admin.TabularInline):
    model = Commitment
    extra = 0
    fields = ["number", "title", "category", "assessment", "owner"]
    readonly_fields = ["assessment"]
    show_change_link = True
    raw_id_fields = ["owner"]

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
    fields = ["key", "title", "rule_text", "due_on", "status_display", "owner"]
    readonly_fields = ["rule_text", "due_on", "status_display"]
    show_change_link = True
    raw_id_fields = ["owner"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Milestone]:
        return super().get_queryset(request).select_related("rule_anchor_milestone", "owner")

    @admin.display(description="deadline rule")
    def rule_text(self, obj: Milestone) -> str:
        return obj.rule.describe()

    @admin.display(description="status")
    def status_display(self, obj: Milestone) -> str:
        return status_badge(obj.status, obj.get_status_display())


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


class StatusUpdateInline(ReadOnlyInline):
    model = StatusUpdate
    verbose_name_plural = "status history"
    fields = [
        "at",
        "by_label",
        "party",
        "kind",
        "from_status",
        "to_status",
        "note",
        "evidence_url",
        "completed_on",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[StatusUpdate]:
        return super().get_queryset(request).select_related("by", "party")

    @admin.display(description="by")
    def by_label(self, obj: StatusUpdate) -> str:
        return obj.by_label


class DeadlineRevisionInline(ReadOnlyInline):
    model = DeadlineRevision
    fields = ["at", "by", "old_rule", "old_due_on", "new_rule", "new_due_on", "reason", "source"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[DeadlineRevision]:
        return super().get_queryset(request).select_related("by")


# --- Agreement, commitment, party ----------------------------------------------------


@admin.register(Party)
class PartyAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = ["short_name", "signed_on", "signed_at", "time_zone", "binding"]
    search_fields = ["title", "short_name", "slug"]
    prepopulated_fields = {"slug": ["short_name"]}
    filter_horizontal = ["parties"]
    inlines = [CommitmentInline, AgreementSourceInline]

    def save_model(self, request: HttpRequest, obj: Agreement, form: Any, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            # The signature date and the time zone are anchors: every deadline that
            # counts from them moves with them, in the same transaction.
            if change and {"signed_on", "time_zone"} & set(form.changed_data):
                moved = services.refresh_deadlines(obj)
                self.message_user(request, f"{moved} milestone deadline(s) recomputed.")


@admin.register(Commitment)
class CommitmentAdmin(admin.ModelAdmin):
    class Media:
        css = BADGE_MEDIA

    list_display = ["title", "agreement", "category", "assessment", "owner"]
    list_filter = ["agreement", "category", "assessment", "parties"]
    list_select_related = ["agreement", "owner"]
    search_fields = ["title", "summary", "sources__reference", "sources__fact", "leads__title"]
    raw_id_fields = ["owner"]
    filter_horizontal = ["parties"]
    inlines = [LeadInline, MilestoneInline, CommitmentSourceInline]


# --- Milestones -------------------------------------------------------------------


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Overdue"), ("no", "Not overdue")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Milestone]) -> QuerySet:
        now = timezone.now()
        if self.value() == "yes":
            return queryset.overdue_at(now)
        if self.value() == "no":
            return queryset.not_overdue_at(now)
        return queryset


class DueSoonFilter(admin.SimpleListFilter):
    title = "due soon"
    parameter_name = "due_within"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("7", "Next 7 days"), ("30", "Next 30 days")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Milestone]) -> QuerySet:
        if self.value() in {"7", "30"}:
            return queryset.due_within(timezone.now(), int(self.value()))
        return queryset


RULE_FIELDS = services.RULE_FIELDS


class MilestoneForm(forms.ModelForm):
    """Status and rule are plain form fields, not model fields: saving the form never
    writes them; ``MilestoneAdmin.save_model`` hands them to the services."""

    new_status = forms.ChoiceField(label="Status", choices=Status.choices)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    evidence = forms.URLField(
        label="Evidence address",
        required=False,
        assume_scheme="https",
        help_text="Required to mark the milestone completed.",
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
    seen_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    rule_kind = forms.ChoiceField(choices=[(k.value, k.value) for k in RuleKind])
    rule_amount = forms.IntegerField(min_value=0, required=False)
    rule_anchor = forms.ChoiceField(choices=[(a.value, a.value) for a in Anchor])
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
            self.fields["party"].queryset = Party.objects.filter(milestone_parts__milestone=m)
            self.fields["rule_anchor_milestone"].queryset = Milestone.objects.filter(
                commitment__agreement_id=m.commitment.agreement_id
            ).exclude(pk=m.pk)
            self.initial.update(
                new_status=m.status,
                evidence=m.evidence_url,
                completed=m.completed_on,
                seen_version=m.version,
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
        if data.get("seen_version") not in (None, m.version):
            raise forms.ValidationError(
                "Someone else changed this milestone while you were editing it. "
                "Reload the page to see their change, then make yours again."
            )
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


_FORM_FIELD = {"status": "new_status", "evidence_url": "evidence", "completed_on": "completed"}


@admin.register(Milestone)
class MilestoneAdmin(admin.ModelAdmin):
    class Media:
        css = BADGE_MEDIA

    form = MilestoneForm
    list_display = [
        "title",
        "agreement",
        "rule_text",
        "due_on",
        "days_left",
        "status_badge",
        "overdue_flag",
        "owner_display",
        "updated_local",
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
    actions = ["mark_in_progress", "mark_completed_today"]
    inlines = [
        MilestonePartInline,
        StatusUpdateInline,
        DeadlineRevisionInline,
        MilestoneSourceInline,
    ]
    readonly_fields = [
        "rule_text",
        "due_on",
        "original_due_on",
        "overdue_since",
        "days_left",
        "version",
        "updated_at",
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Milestone | None = None) -> Any:
        status = ["new_status", "party", "note", "evidence", "completed", "seen_version"]
        rule = [*RULE_FIELDS, "revision_reason", "revision_source"]
        if obj is None or not self.has_change_permission(request, obj):
            # Viewers (and the add page) see what is, not the controls to change it.
            return [
                (None, {"fields": ["commitment", "key", "title", "owner"]}),
                ("Deadline", {"fields": ["rule_text", "due_on", "original_due_on"]}),
            ]
        if not can_set_status(request):
            status = []
        return [
            (None, {"fields": ["commitment", "key", "title", "owner", "version", "updated_at"]}),
            ("Status", {"fields": status}),
            (
                "Deadline",
                {
                    "fields": [
                        "rule_text",
                        "due_on",
                        "original_due_on",
                        "days_left",
                        "overdue_since",
                        *rule,
                    ]
                },
            ),
        ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Milestone]:
        return (
            super()
            .get_queryset(request)
            .select_related(
                "commitment__agreement", "commitment__owner", "owner", "rule_anchor_milestone"
            )
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
            return f"{-days} days overdue"
        return "due today" if days == 0 else f"{days} days left"

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Milestone) -> str:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="overdue", boolean=True)
    def overdue_flag(self, obj: Milestone) -> bool:
        return obj.is_overdue_at(timezone.now())

    @admin.display(description="updated", ordering="updated_at")
    def updated_local(self, obj: Milestone) -> str:
        """In the agreement's time zone, like every time on this page."""
        local = timezone.localtime(obj.updated_at, zoneinfo.ZoneInfo(obj.time_zone()))
        return local.strftime("%Y-%m-%d %H:%M %Z")

    @admin.display(description="owner")
    def owner_display(self, obj: Milestone) -> str:
        owner = obj.owner or obj.commitment.owner
        return owner.get_username() if owner else "—"

    # Saving ------------------------------------------------------------------------

    def save_model(
        self, request: HttpRequest, obj: Milestone, form: MilestoneForm, change: bool
    ) -> None:
        with transaction.atomic():
            if not change:
                super().save_model(request, obj, form, change)
                services.refresh_deadlines(obj.commitment.agreement)
                return
            # Lock the row and compare versions: an editor who loaded the page before
            # someone else's change must not silently overwrite it.
            current = Milestone.objects.select_for_update().get(pk=obj.pk)
            seen = form.cleaned_data.get("seen_version")
            if seen is not None and seen != current.version:
                raise services.ConflictError(
                    "Someone else changed this milestone while you were editing it; "
                    "nothing was saved. Reload the page and make your change again."
                )
            plain = [f for f in form.changed_data if f in MilestoneForm.Meta.fields]
            if plain:
                # updated_at moves with every change a poller can see (updated_since).
                obj.updated_at = timezone.now()
                obj.save(update_fields=[*plain, "updated_at"])
            data = form.cleaned_data
            if form.rule_changed():
                services.milestone_revise_deadline(
                    milestone=obj,
                    rule=form.rule(),
                    reason=data["revision_reason"],
                    source=data["revision_source"],
                    by=request.user,
                )
                obj.refresh_from_db()
            if form.status_changed() and can_set_status(request):
                services.milestone_set_status(
                    milestone=obj,
                    status=data["new_status"],
                    by=request.user,
                    note=data.get("note") or "",
                    evidence_url=data.get("evidence") or "",
                    completed_on=data.get("completed"),
                    party=data.get("party"),
                )

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        # Times on a milestone's page read in its agreement's zone (stored in UTC).
        zone = (
            Milestone.objects.filter(pk=object_id)
            .values_list("commitment__agreement__time_zone", flat=True)
            .first()
            if object_id and object_id.isdigit()
            else None
        )
        try:
            with timezone.override(zone or timezone.get_current_timezone()):
                response = super().changeform_view(request, object_id, *args, **kwargs)
                if hasattr(response, "render"):
                    response.render()
                return response
        except services.TransitionError as exc:
            # A race lost between the form's check and the save: nothing was written.
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.path)

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

    @admin.action(description="Mark selected milestones completed (today)")
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
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
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
                        by=request.user,
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
    evidence = forms.URLField(label="Evidence address", assume_scheme="https")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


@admin.register(StatusUpdate)
class StatusUpdateAdmin(admin.ModelAdmin):
    """The whole history, read-only: an audit trail is not edited."""

    list_display = ["at", "milestone", "party", "kind", "from_status", "to_status", "by"]
    list_filter = ["kind", "to_status"]
    list_select_related = ["milestone", "party", "by"]
    search_fields = ["milestone__title", "note"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
