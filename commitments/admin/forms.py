"""The admin's forms. A form carries the version its editor loaded; the milestone's
form carries status and rule as plain fields that only the services write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest
from django.utils import timezone

from .. import deadlines, services
from ..deadlines import Anchor, DeadlineRule, RuleKind
from ..models import Milestone, Party, Status

# An address typed without a scheme is https (Django 6.0's default; 5.2 warns unless a
# form field says so). For a ModelAdmin's or an inline's ``formfield_overrides``, which
# Django merges with its own (the admin's URL widget stays):
HTTPS_URLS: dict[type[models.Field[Any, Any]], dict[str, Any]] = {
    models.URLField: {"assume_scheme": "https"}
}


def https_urls(field: models.Field[Any, Any], **kwargs: Any) -> forms.Field | None:
    """A ModelForm's ``Meta.formfield_callback``: a model's URLField as a form field
    that assumes https, every other field as its own ``formfield`` makes it."""
    if isinstance(field, models.URLField):
        kwargs = {"assume_scheme": "https", **kwargs}
    return field.formfield(**kwargs)


class KeyedAutocomplete(AutocompleteSelect):
    """Django's autocomplete widget, minus its 500 when a form comes back with a value
    that is no key at all (``commitment=x``): Django looks the posted value up to show
    it again, and the lookup raises. Such a value is left out of the widget; the field
    itself says it is no valid choice."""

    def optgroups(self, name: str, value: Sequence[str], attr: Any = None) -> Any:
        key = self.field.target_field
        keys = []
        for v in value:
            try:
                key.to_python(v)
            except ValidationError:
                continue
            keys.append(v)
        return super().optgroups(name, keys, attr)


class KeyedAutocompleteAdmin(admin.ModelAdmin[Any]):
    """An admin whose ``autocomplete_fields`` use ``KeyedAutocomplete``."""

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kw: Any) -> Any:
        if db_field.name in self.autocomplete_fields:
            kw["widget"] = KeyedAutocomplete(db_field, self.admin_site, using=kw.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kw)


class VersionedForm(forms.ModelForm[Any]):
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
            name = FORM_FIELD.get(self.refusal.field or "", self.refusal.field)
            self.add_error(name if name in self.fields else None, self.refusal.message)
        return self.cleaned_data

    def edited(self, allowed: frozenset[str]) -> dict[str, Any]:
        """The fields this editor changed, and only those."""
        return {n: self.cleaned_data[n] for n in self.changed_data if n in allowed}


FORM_FIELD = {"status": "new_status", "evidence_url": "evidence", "completed_on": "completed"}
# The column's width: a longer address is a form error that states the limit.
EVIDENCE_MAX_LENGTH = Milestone._meta.get_field("evidence_url").max_length
# The rule columns, as milestone_revise_deadline (services.py) takes them.
RULE_FIELDS = [
    "rule_kind",
    "rule_amount",
    "rule_anchor",
    "rule_anchor_milestone",
    "rule_fixed_date",
    "rule_rrule",
]


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
        fields = ["commitment", "key", "title", "ja_is_translation", "owner"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        m = self.instance
        if m.pk:
            # Both are declared above as ModelChoiceFields; ``fields`` is typed by Field.
            party = cast(forms.ModelChoiceField[Any], self.fields["party"])
            anchor = cast(forms.ModelChoiceField[Any], self.fields["rule_anchor_milestone"])
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
                self.add_error(FORM_FIELD.get(exc.field or ""), exc.message)
        if self.rule_changed():
            try:
                self.rule().validate()
            except deadlines.RuleError as exc:
                self.add_error("rule_kind", str(exc))
            for name in ("revision_reason", "revision_source"):
                if not data.get(name, "").strip():
                    self.add_error(name, "Required when the deadline rule changes.")
        return data


class BulkCompleteForm(forms.Form):
    evidence = forms.URLField(
        label="Evidence address", assume_scheme="https", max_length=EVIDENCE_MAX_LENGTH
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
