"""The staff's forms on a finding: log it (a new sourced log entry, prefilled), mark
it not relevant (with a reason, optionally a negative keyword), mark it a duplicate."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.utils import timezone

from commitments.models import Commitment, LogEntry, Milestone

from .matching import sentences
from .models import Finding, Suggestion


class LogFindingForm(forms.Form):
    """The entry as it will be written: the source's own words are the sentences staff
    tick (copied from the item, never typed), so a quotation stays a quotation."""

    commitment = forms.ModelChoiceField(
        Commitment.objects.filter(archived_at__isnull=True).select_related("agreement")
    )
    milestone = forms.ModelChoiceField(
        Milestone.objects.none(),
        required=False,
        help_text="Leave empty to log it on the commitment itself",
    )
    on = forms.DateField(help_text="When it happened, in the agreement's time zone")
    kind = forms.ChoiceField(choices=LogEntry.Kind.choices, initial=LogEntry.Kind.CONTEXT)
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text="Short and neutral, in our words"
    )
    source_address = forms.CharField(max_length=500)
    quoted = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        label="The source's own words",
        help_text="The sentences to quote, in the item's order",
    )

    def __init__(
        self,
        *args: Any,
        finding: Finding,
        suggestion: Suggestion | None,
        milestone: str | None = None,
        **kw: Any,
    ):
        super().__init__(*args, **kw)
        item = finding.item
        self.item_sentences = sentences(f"{item.title}\n{item.text}")
        quoted = self.fields["quoted"]
        assert isinstance(quoted, forms.MultipleChoiceField)
        quoted.choices = [(str(i), s) for i, s in enumerate(self.item_sentences)]
        commitment = suggestion.commitment if suggestion else None
        zone = zoneinfo.ZoneInfo(commitment.agreement.time_zone if commitment else "UTC")
        chosen = str(self.data.get("commitment") or (commitment.pk if commitment else ""))
        milestones = self.fields["milestone"]
        assert isinstance(milestones, forms.ModelChoiceField)
        milestones.queryset = Milestone.objects.filter(
            # Anything but a number is the commitment field's error, not the query's.
            commitment_id=int(chosen) if chosen.isdecimal() else 0,
            archived_at__isnull=True,
        )
        # The milestone the review page's button named, if it is one of the
        # commitment's (any other address is ignored, not trusted).
        named = milestone if milestone and milestone.isascii() and milestone.isdigit() else None
        self.initial.update(
            commitment=commitment,
            milestone=milestones.queryset.filter(pk=named).first() if named else None,
            on=timezone.localtime(item.published_at or finding.created_at, zone).date(),
            text=item.title,
            source_address=item.address,
            quoted=[
                str(i)
                for i, s in enumerate(self.item_sentences)
                if suggestion and s in suggestion.sentences
            ],
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        milestone, commitment = data.get("milestone"), data.get("commitment")
        if milestone and commitment and milestone.commitment_id != commitment.pk:
            self.add_error("milestone", "This milestone belongs to another commitment.")
        return data

    @property
    def passage(self) -> str:
        return " ".join(
            self.item_sentences[int(i)] for i in sorted(self.cleaned_data["quoted"], key=int)
        )


class DismissForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    negative_keyword = forms.CharField(
        required=False,
        max_length=200,
        help_text=(
            "A phrase that marks such items (e.g. “tariff truce”): it becomes a negative "
            "keyword of the agreements they were matched to"
        ),
    )


class DuplicateForm(forms.Form):
    duplicate_of = forms.ModelChoiceField(
        Finding.objects.select_related("item"),
        required=False,
        widget=forms.NumberInput,
        help_text="The finding it repeats (its number), if you know it",
    )
