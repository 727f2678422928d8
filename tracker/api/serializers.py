"""Representations. Dates are ISO 8601; instants are UTC ("Z").

Everything derived from time (``is_overdue``, ``days_remaining``, progress) is computed
at the request's one ``now`` (``context["now"]``), the same moment its ETag was made at.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from commitments import deadlines
from commitments.models import (
    Agreement,
    Commitment,
    LogEntry,
    Milestone,
    MilestonePart,
    Party,
    Source,
    Status,
    StatusUpdate,
)
from commitments.selectors import (
    Outcome,
    SeriesSummary,
    derived_status,
    end_of_day,
    occurrence_state_now,
    progress_of,
    series_rule_words,
)

from .filters import DERIVED_STATUSES


class UtcDateTimeField(serializers.DateTimeField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=dt.UTC, **kwargs)


class AddressField(serializers.URLField):
    """An address, or null where none was given (the model keeps "")."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_null=True, read_only=True, **kwargs)

    # Null instead of "" is this field's point; the stubs type a URLField's output as str.
    def to_representation(self, value: str) -> str | None:  # type: ignore[override]
        return value or None


def _link(context: dict[str, Any], kind: str, key: object) -> str:
    return f"{context['base_url']}{kind}/{key}/"


# --- The record's two languages ----------------------------------------------------------
#
# The API does not negotiate on Accept-Language (one address, one answer, cacheable):
# each text is given in English ("title", read from title_en whatever language is
# active) and in Japanese ("title_ja", null where there is none), with where the
# Japanese comes from ("ja_is_translation").


def english(name: str) -> serializers.CharField:
    return serializers.CharField(source=f"{name}_en", read_only=True, help_text="In English.")


def japanese(name: str) -> serializers.CharField:
    """Declared as ``<name>_ja``: the field's own name is its source."""
    return serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text=f"In Japanese; null where there is no Japanese version (read {name}). "
        "Whose words they are: ja_is_translation.",
    )


def ja_origin() -> serializers.BooleanField:
    return serializers.BooleanField(
        read_only=True,
        help_text="True: this record's Japanese texts are the tracker's translation. "
        "False: they are the words of a Japanese source quoted among its sources "
        "(language ja).",
    )


class PartySerializer(serializers.ModelSerializer[Any]):
    class Meta:
        model = Party
        fields = ["code", "name"]


# The tracker's own copy of a cited page (tracker/archive): its banner page, and when it
# was fetched (UTC); null while there is none. Inline, not a nullable $ref, which
# OpenAPI 3.0 cannot say (an example's null would not match it).
@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "properties": {
            "url": {"type": "string", "format": "uri"},
            "fetched_at": {"type": "string", "format": "date-time"},
        },
        "required": ["url", "fetched_at"],
    }
)
class ArchivedCopyField(serializers.ReadOnlyField):
    """From the annotations of tracker.archive.selectors.with_archive."""

    def __init__(self) -> None:
        super().__init__(source="*")

    def to_representation(self, obj: Any) -> dict[str, Any] | None:
        pk = getattr(obj, "archive_id", None)
        if pk is None:
            return None
        path = reverse("tracker:archive_copy", args=[pk])
        request = self.context.get("request")
        return {
            "url": request.build_absolute_uri(path) if request is not None else path,
            "fetched_at": UtcDateTimeField().to_representation(obj.archive_fetched_at),
        }


class SourceSerializer(serializers.ModelSerializer[Any]):
    archived_copy = ArchivedCopyField()

    class Meta:
        model = Source
        fields = ["reference", "fact", "archived_copy"]


class LeadSerializer(serializers.Serializer[Any]):
    title = serializers.CharField()
    party = serializers.CharField(source="party.code", allow_null=True, default=None)


class ProgressSerializer(serializers.Serializer[Any]):
    total = serializers.IntegerField()
    not_started = serializers.IntegerField()
    in_progress = serializers.IntegerField()
    at_risk = serializers.IntegerField()
    completed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    overdue = serializers.IntegerField(help_text="Open milestones past their due date.")
    percent_complete = serializers.FloatField(
        help_text="Completed, as a share of milestones not cancelled."
    )
    next_deadline = serializers.DateField(
        allow_null=True, help_text="The earliest due date of an open, not yet overdue milestone."
    )


class DeadlineRuleSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=[k.value for k in deadlines.RuleKind])
    amount = serializers.IntegerField(allow_null=True)
    anchor = serializers.ChoiceField(choices=[a.value for a in deadlines.Anchor], allow_null=True)
    anchor_milestone = serializers.IntegerField(allow_null=True)
    fixed_date = serializers.DateField(allow_null=True)
    rrule = serializers.CharField(allow_null=True)
    text = serializers.CharField(help_text='For people: "180 days after signature".')


class PartStatusSerializer(serializers.ModelSerializer[Any]):
    party = serializers.CharField(source="party.code")

    class Meta:
        model = MilestonePart
        fields = ["party", "status", "completed_on"]


# --- Milestones -------------------------------------------------------------------------


class MilestoneBriefSerializer(serializers.ModelSerializer[Any]):
    """The status document's line per milestone. Expects ``commitment__agreement``
    selected. Judged at ``context["now"]``, or with ``context["as_of_day"]`` at the end
    of that day in the agreement's zone."""

    url = serializers.SerializerMethodField()
    agreement = serializers.CharField(source="commitment.agreement.slug")
    is_overdue = serializers.SerializerMethodField()
    overdue_from = UtcDateTimeField(
        read_only=True,
        allow_null=True,
        help_text="The deadline moment: the first instant after the due date in the "
        "agreement's time zone (time_zone), in UTC. Open and past it is overdue. Null "
        "without a due date.",
    )
    time_zone = serializers.CharField(
        source="commitment.agreement.time_zone",
        help_text="The agreement's IANA time zone, in which due dates are judged.",
    )
    flagged_overdue_at = UtcDateTimeField(
        source="overdue_since",
        read_only=True,
        allow_null=True,
        help_text="When the deadline sweep noticed it overdue, at most a minute after "
        "overdue_from (null when not flagged, and in an as_of document).",
    )
    days_remaining = serializers.SerializerMethodField()
    title = english("title")
    title_ja = japanese("title")
    ja_is_translation = ja_origin()

    class Meta:
        model = Milestone
        fields = [
            "id", "url", "agreement", "commitment", "title", "title_ja", "ja_is_translation",
            "due_on", "status", "is_overdue", "overdue_from", "time_zone", "flagged_overdue_at",
            "days_remaining",
        ]  # fmt: skip
        read_only_fields = fields

    def get_url(self, obj: Milestone) -> str:
        return _link(self.context, "milestones", obj.pk)

    def _at(self, obj: Milestone) -> dt.datetime:
        day = self.context.get("as_of_day")
        if day is None:
            return self.context["now"]
        return end_of_day(day, obj.commitment.agreement.time_zone)

    @extend_schema_field(
        serializers.BooleanField(
            help_text="Open and past its deadline moment (overdue_from), now or at the end "
            "of an as_of day."
        )
    )
    def get_is_overdue(self, obj: Milestone) -> bool:
        return obj.is_overdue_at(self._at(obj))

    @extend_schema_field(
        serializers.IntegerField(
            allow_null=True,
            help_text="Days to the due date in the agreement's time zone; negative once "
            "overdue; null without a due date or once completed or cancelled.",
        )
    )
    def get_days_remaining(self, obj: Milestone) -> int | None:
        if obj.is_closed:
            return None
        return deadlines.days_remaining(
            obj.due_on, now=self._at(obj), time_zone=obj.commitment.agreement.time_zone
        )


class SeriesSerializer(serializers.Serializer[Any]):
    """The recurring obligation a milestone is, or is one occurrence of: its rule in
    words, and its occurrences counted at the request's moment."""

    id = serializers.IntegerField(
        help_text="The recurring obligation's own milestone id; its occurrences are "
        "/api/v1/milestones/?series=<id>."
    )
    url = serializers.URLField()
    rule = serializers.CharField(
        allow_null=True,
        help_text='Its rule in words: "every 3 months from 26 January 2026". Null once '
        "its rule no longer recurs (its past occurrences stay).",
    )
    met = serializers.IntegerField(help_text="Occurrences completed.")
    late = serializers.IntegerField(help_text="Of those met, how many after their date.")
    missed = serializers.IntegerField(help_text="Occurrences past their date and still open.")
    cancelled = serializers.IntegerField()
    next_due = serializers.DateField(
        allow_null=True, help_text="The date of the next occurrence due, if any."
    )
    summary = serializers.CharField(help_text='For people: "1 met, 3 missed; next due 2027-01-26".')


class OccurrenceSerializer(serializers.Serializer[Any]):
    """One occurrence of a recurring obligation, as its series lists it."""

    id = serializers.IntegerField()
    url = serializers.URLField()
    due_on = serializers.DateField()
    status = serializers.ChoiceField(choices=Status.choices)
    completed_on = serializers.DateField(allow_null=True)
    outcome = serializers.ChoiceField(
        choices=Outcome.choices,
        help_text="met (completed), missed (past its date and open), cancelled, next_due "
        "(the open one due first), or ahead (open, due later).",
    )


class InlineMilestoneSerializer(MilestoneBriefSerializer):
    """A milestone inside its commitment. Expects ``rule_anchor_milestone`` and
    ``series`` selected, and the occurrences of each series among them loaded
    (``commitments.selectors.load_series``)."""

    deadline_rule = serializers.SerializerMethodField()
    note = serializers.CharField(source="last_note")
    evidence_url = AddressField()
    updated_at = UtcDateTimeField()
    history_url = serializers.SerializerMethodField()
    last_checked_on = serializers.DateField(
        read_only=True,
        allow_null=True,
        help_text="The date of its newest log entry (any kind, 'checked, nothing found' "
        "included): when someone last looked. Null before anyone did.",
    )
    series = serializers.SerializerMethodField()

    class Meta(MilestoneBriefSerializer.Meta):
        fields = [
            "id", "url", "commitment", "agreement", "key", "title", "title_ja",
            "ja_is_translation", "deadline_rule", "due_on",
            "original_due_on", "status", "is_overdue", "overdue_from", "time_zone",
            "flagged_overdue_at", "completed_on", "days_remaining", "evidence_url", "note",
            "version", "series", "last_checked_on", "updated_at", "history_url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_history_url(self, obj: Milestone) -> str:
        return _link(self.context, "milestones", f"{obj.pk}/history")

    def _summary(self, head: Milestone, at: dt.datetime) -> SeriesSummary:
        """Counted once per series and request (a page may hold many of its occurrences)."""
        found: dict[int, SeriesSummary] = self.context.setdefault("series_summaries", {})
        if head.pk not in found:
            found[head.pk] = SeriesSummary.of(
                occurrence_state_now(o, at) for o in head.occurrences.all()
            )
        return found[head.pk]

    @extend_schema_field(
        SeriesSerializer(
            allow_null=True,
            help_text="For a recurring obligation and each of its occurrences: the "
            "obligation. Null for any other milestone.",
        )
    )
    def get_series(self, obj: Milestone) -> dict[str, Any] | None:
        head = obj if obj.is_series else obj.series if obj.series_id is not None else None
        if head is None:
            return None
        summary = self._summary(head, self._at(obj))
        return {
            "id": head.pk,
            "url": _link(self.context, "milestones", head.pk),
            "rule": series_rule_words(head, obj.commitment.agreement.signed_on),
            "met": summary.met,
            "late": summary.late,
            "missed": summary.missed,
            "cancelled": summary.cancelled,
            "next_due": summary.next_due.isoformat() if summary.next_due else None,
            "summary": summary.words,
        }

    @extend_schema_field(DeadlineRuleSerializer)
    def get_deadline_rule(self, obj: Milestone) -> dict[str, object]:
        return obj.rule.as_dict()


class MilestoneSerializer(InlineMilestoneSerializer):
    """Also expects ``parts__party`` prefetched."""

    parties = PartStatusSerializer(
        source="parts", many=True, help_text="Each responsible party's part of it."
    )
    occurrences = serializers.SerializerMethodField()

    class Meta(InlineMilestoneSerializer.Meta):
        fields = [
            *InlineMilestoneSerializer.Meta.fields[:-4],
            "parties",
            "series",
            "occurrences",
            *InlineMilestoneSerializer.Meta.fields[-3:],
        ]
        read_only_fields = fields

    @extend_schema_field(
        OccurrenceSerializer(
            many=True,
            allow_null=True,
            help_text="For a recurring obligation: each of its occurrences so far and the "
            "next one ahead, by due date; each is a milestone of its own (its history, its "
            "evidence). Null for any other milestone.",
        )
    )
    def get_occurrences(self, obj: Milestone) -> list[dict[str, Any]] | None:
        if not obj.is_series:
            return None
        at = self._at(obj)
        summary = self._summary(obj, at)
        return [
            {
                "id": o.pk,
                "url": _link(self.context, "milestones", o.pk),
                "due_on": o.due_on.isoformat() if o.due_on else None,
                "status": o.status,
                "completed_on": o.completed_on.isoformat() if o.completed_on else None,
                "outcome": summary.outcome(occurrence_state_now(o, at)),
            }
            for o in obj.occurrences.all()
        ]


PATCHABLE = ("status", "note", "evidence_url", "completed_on")


class MilestoneStatusSerializer(serializers.Serializer[Any]):
    """The body of a PATCH: these four fields only; any other is refused."""

    # Any other field is refused, and said so in the schema (schema.document_answers).
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=5000, trim_whitespace=True
    )
    evidence_url = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="http(s) address; required for 'completed'.",
    )
    completed_on = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="With 'completed' only; today in the agreement's zone if left out.",
    )

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(PATCHABLE))
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [
                            f"'{name}' cannot be changed here; a PATCH may only set "
                            f"{', '.join(PATCHABLE)}."
                        ]
                        for name in unknown
                    }
                )
            if not data:
                raise serializers.ValidationError(
                    {"non_field_errors": [f"Send at least one of {', '.join(PATCHABLE)}."]}
                )
        return super().to_internal_value(data)


class StatusUpdateSerializer(serializers.ModelSerializer[Any]):
    at = UtcDateTimeField()
    by = serializers.SerializerMethodField()
    party = serializers.CharField(source="party.code", allow_null=True, default=None)
    evidence_url = AddressField()

    class Meta:
        model = StatusUpdate
        fields = [
            "id", "at", "kind", "party", "by", "from_status", "to_status", "note", "evidence_url",
            "completed_on", "due_on",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(
        serializers.ChoiceField(
            choices=["staff", "system"],
            help_text='"staff" for a person (their accounts are not published), '
            '"system" for the tracker itself (the deadline sweep).',
        )
    )
    def get_by(self, obj: StatusUpdate) -> str:
        return "system" if obj.by_id is None else "staff"


# --- Agreements and commitments ---------------------------------------------------------


class ProgressMixin(serializers.Serializer[Any]):
    progress = serializers.SerializerMethodField()

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, obj: Any) -> dict[str, Any]:
        """From the row's annotations, or ``context["progress"]`` (a past day's)."""
        past = self.context.get("progress")
        return past[obj.pk] if past is not None else progress_of(obj)


class AgreementBriefSerializer(ProgressMixin, serializers.ModelSerializer[Any]):
    url = serializers.SerializerMethodField()
    short_name = english("short_name")
    short_name_ja = japanese("short_name")

    class Meta:
        model = Agreement
        fields = ["slug", "url", "short_name", "short_name_ja", "time_zone", "progress"]
        read_only_fields = fields

    def get_url(self, obj: Agreement) -> str:
        return _link(self.context, "agreements", obj.slug)


class AgreementSerializer(AgreementBriefSerializer):
    parties = PartySerializer(many=True)
    sources = SourceSerializer(many=True)
    updated_at = UtcDateTimeField()
    title = english("title")
    title_ja = japanese("title")
    summary = english("summary")
    summary_ja = japanese("summary")
    ja_is_translation = ja_origin()

    class Meta(AgreementBriefSerializer.Meta):
        fields = [
            "slug", "url", "title", "title_ja", "short_name", "short_name_ja",
            "ja_is_translation", "signed_on", "signed_at", "time_zone", "binding", "summary",
            "summary_ja", "parties", "sources", "progress", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class CommitmentSerializer(ProgressMixin, serializers.ModelSerializer[Any]):
    url = serializers.SerializerMethodField()
    last_checked_on = serializers.DateField(
        read_only=True,
        allow_null=True,
        help_text="The date of its newest log entry (any kind): when someone last looked.",
    )
    agreement = serializers.CharField(source="agreement.slug")
    parties: serializers.SlugRelatedField[Party] = serializers.SlugRelatedField(
        slug_field="code", many=True, read_only=True
    )
    leads = LeadSerializer(many=True)
    owner = serializers.SerializerMethodField()
    sources = SourceSerializer(many=True)
    status = serializers.SerializerMethodField()
    milestones = InlineMilestoneSerializer(many=True)
    updated_at = UtcDateTimeField()
    title = english("title")
    title_ja = japanese("title")
    summary = english("summary")
    summary_ja = japanese("summary")
    ja_is_translation = ja_origin()

    class Meta:
        model = Commitment
        fields = [
            "id", "url", "agreement", "key", "number", "title", "title_ja", "summary",
            "summary_ja", "ja_is_translation", "category", "parties",
            "leads", "owner", "assessment", "sources", "status", "progress", "milestones",
            "last_checked_on", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_url(self, obj: Commitment) -> str:
        return _link(self.context, "commitments", obj.pk)

    @extend_schema_field(
        serializers.CharField(allow_null=True, help_text="The owner's display name.")
    )
    def get_owner(self, obj: Commitment) -> str | None:
        owner = obj.owner
        return None if owner is None else owner.get_full_name() or owner.get_username()

    @extend_schema_field(
        serializers.ChoiceField(
            choices=DERIVED_STATUSES,
            help_text="From its milestones, worst news first: overdue, at_risk, ...",
        )
    )
    def get_status(self, obj: Commitment) -> str:
        return derived_status(progress_of(obj))


# --- The log -----------------------------------------------------------------------------


class LogSourceSerializer(serializers.Serializer[Any]):
    address = serializers.CharField(source="source_address")
    kind = serializers.CharField(source="source_kind")
    passage = serializers.CharField(source="source_passage")
    archived_copy = ArchivedCopyField()


class LogEntrySerializer(serializers.ModelSerializer[Any]):
    """What happened since signature, with its source; never a status or assessment."""

    # A field named like Field.source: the metaclass moves it off the class, the stubs
    # cannot know that.
    source = LogSourceSerializer(source="*")  # type: ignore[assignment]
    updated_at = UtcDateTimeField()
    text = english("text")
    text_ja = japanese("text")
    ja_is_translation = ja_origin()

    class Meta:
        model = LogEntry
        fields = [
            "id",
            "on",
            "kind",
            "text",
            "text_ja",
            "ja_is_translation",
            "source",
            "updated_at",
        ]
        read_only_fields = fields


# --- The status document ------------------------------------------------------------------


class OverdueSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField()
    truncated = serializers.BooleanField(
        help_text="True when there are more than listed; page through "
        "/api/v1/milestones/?overdue=true for all of them."
    )
    milestones = MilestoneBriefSerializer(many=True)


class StatusSerializer(serializers.Serializer[Any]):
    """Documents /status/; the view assembles the body itself (see views.StatusView)."""

    as_of = UtcDateTimeField(
        allow_null=True,
        help_text="The moment the document judges: when the deadline sweep last ran "
        "(null before its first run; also sent as the X-Tracker-As-Of header, on 304s "
        "too, and not part of the ETag); with ?as_of=DAY, the end of that day in the "
        "agreements' time zones (the last of them to end it).",
    )
    agreements = AgreementBriefSerializer(many=True)
    overdue = OverdueSerializer()
    next_deadlines = MilestoneBriefSerializer(many=True)
