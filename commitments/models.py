"""The domain: agreements, the commitments they make, and the milestones that show
whether a commitment is being kept.

Status changes go through ``commitments.services`` only; deadline arithmetic lives in
``commitments.deadlines``. These models hold state and the predicates over it.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from . import deadlines
from .deadlines import Anchor, DeadlineRule, RuleKind

# The translated records' managers and querysets are django-modeltranslation's (a
# query on "title" reads the active language's, commitments/translation.py), declared
# here rather than patched in at registration, so that they have names the type
# checker resolves; to it they are Django's own, whose types they keep.
if TYPE_CHECKING:
    MultilingualManager = models.Manager
    MultilingualQuerySet = models.QuerySet
else:
    from modeltranslation.manager import MultilingualManager, MultilingualQuerySet


def validate_time_zone(value: str) -> None:
    try:
        deadlines.validate_time_zone(value)
    except deadlines.RuleError as exc:
        raise ValidationError(str(exc)) from None


def validate_single_line(value: str) -> None:
    """Titles end up in email subjects, where a line break is a header injection, and in
    feeds, calendars and pictures, which cannot carry control characters."""
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValidationError(
            "Line breaks are not allowed here (this text can appear in an email subject), "
            "nor other control characters."
        )


class AuditFields(models.Model):
    """Added to every historical (audit) row: the editor's username, copied, so the
    trail still says who made a change after their account is deleted (the user
    foreign key then becomes empty)."""

    history_username = models.CharField(max_length=150, blank=True)

    class Meta:
        abstract = True


def audit_trail(**kwargs: object) -> HistoricalRecords:
    """Old -> new of every field, with the staff user and the time. Rows written by
    ``QuerySet.update`` are recorded by the services, which write them explicitly."""
    return HistoricalRecords(bases=[AuditFields], user_related_name="+", **kwargs)


def ja_origin() -> models.BooleanField[bool, bool]:
    """Where a record's Japanese text comes from (commitments/translation.py): True,
    the tracker's translation (the pages say 当サイトによる翻訳); False, the words of a
    Japanese source quoted among its sources (language "ja")."""
    return models.BooleanField(
        default=True,
        verbose_name="Japanese is our translation",
        help_text="Untick only when the Japanese text is the words of a Japanese source "
        "quoted among this record's sources",
    )


def one_owner(name: str) -> models.CheckConstraint:
    """Attached to exactly one of agreement, commitment and milestone."""
    return models.CheckConstraint(
        name=name,
        condition=(
            Q(agreement__isnull=False, commitment__isnull=True, milestone__isnull=True)
            | Q(agreement__isnull=True, commitment__isnull=False, milestone__isnull=True)
            | Q(agreement__isnull=True, commitment__isnull=True, milestone__isnull=False)
        ),
    )


class Status(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    AT_RISK = "at_risk", "At risk"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


CLOSED_STATUSES = (Status.COMPLETED, Status.CANCELLED)


def is_overdue(overdue_from: dt.datetime | None, status: str, now: dt.datetime) -> bool:
    """``Milestone.is_overdue_at`` on plain values (rows read with ``values_list``)."""
    return overdue_from is not None and now >= overdue_from and status not in CLOSED_STATUSES


class Assessment(models.TextChoices):
    NOT_YET_RATED = "not_yet_rated", "Not yet rated"
    ON_TRACK = "on_track", "On track"
    PARTLY_KEPT = "partly_kept", "Partly kept"
    KEPT = "kept", "Kept"
    BROKEN = "broken", "Broken"


class Category(models.TextChoices):
    INVESTMENT = "investment", "Investment and finance"
    PERMITTING = "permitting", "Permitting"
    STOCKPILING = "stockpiling", "Stockpiling"
    RECYCLING = "recycling", "Recycling"
    MAPPING = "mapping", "Geological mapping"
    INSTITUTIONS = "institutions", "Institutions and meetings"
    PARTNERS = "partners", "Like-minded partners"
    MARKETS = "markets", "Fair markets"
    SECURITY = "security", "Investment security"
    PRODUCTION = "production", "Production"


class PartyManager(models.Manager["Party"]):
    def get_by_natural_key(self, code: str) -> Party:
        return self.get(code=code)


class Party(models.Model):
    code = models.CharField(max_length=16, unique=True, help_text="ISO 3166 alpha-2 or short code")
    name = models.CharField(max_length=200)

    objects = PartyManager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "parties"

    def __str__(self) -> str:
        return self.name

    def natural_key(self) -> tuple[str]:
        return (self.code,)


class AgreementManager(MultilingualManager["Agreement"]):
    def get_by_natural_key(self, slug: str) -> Agreement:
        return self.get(slug=slug)


class Agreement(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=300, validators=[validate_single_line])
    short_name = models.CharField(max_length=100, validators=[validate_single_line])
    signed_on = models.DateField(help_text="Date of signature in the agreement's time zone")
    signed_at = models.CharField(max_length=200, blank=True, help_text="Place of signature")
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="IANA name; deadlines are judged in this zone (Asia/Tokyo for Tokyo)",
    )
    binding = models.BooleanField(default=False)
    summary = models.TextField(blank=True)
    parties = models.ManyToManyField(Party, related_name="agreements")
    ja_is_translation = ja_origin()
    # Bumped on every change; optimistic concurrency for the admin (see services).
    version = models.PositiveIntegerField(default=1, editable=False)
    # Records with history are archived, never deleted; archived ones stay visible,
    # marked as such, and the loader does not bring them back.
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AgreementManager()
    history = audit_trail(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-signed_on", "slug"]

    def __str__(self) -> str:
        return self.short_name or self.title

    def natural_key(self) -> tuple[str]:
        return (self.slug,)


class SourceKind(models.TextChoices):
    QUOTE = "quote", "Quotation"
    SUMMARY = "summary", "Summary or computed figure"


class Source(models.Model):
    """Where a fact comes from: a seed file name or a public address, with the fact
    it supports. Attached to exactly one agreement, commitment or milestone."""

    agreement = models.ForeignKey(
        Agreement, null=True, blank=True, on_delete=models.CASCADE, related_name="sources"
    )
    commitment = models.ForeignKey(
        "Commitment", null=True, blank=True, on_delete=models.CASCADE, related_name="sources"
    )
    milestone = models.ForeignKey(
        "Milestone", null=True, blank=True, on_delete=models.CASCADE, related_name="sources"
    )
    reference = models.CharField(
        max_length=500, help_text="A page address (https://…) or a seed file name; never a domain"
    )
    kind = models.CharField(max_length=8, choices=SourceKind.choices, default=SourceKind.QUOTE)
    passage = models.TextField(
        blank=True, help_text="The source's own words, exactly as they appear in it"
    )
    # A quotation stays in the language its source wrote it in; pages mark it (lang).
    language = models.CharField(
        max_length=16, default="en", help_text="Language of the passage (BCP 47, e.g. en, ja)"
    )
    fact = models.TextField(help_text="The fact it supports, in our words")

    history = audit_trail()

    class Meta:
        ordering = ["id"]
        constraints = [one_owner("source_has_one_owner")]

    def __str__(self) -> str:
        return self.reference


def last_checked(entries: models.QuerySet[LogEntry]) -> models.Subquery:
    """The date of the newest current (not archived) log entry among ``entries``,
    which refer to the outer row with ``OuterRef``; None when there is none."""
    newest = entries.filter(archived_at__isnull=True).order_by("-on").values("on")[:1]
    return models.Subquery(newest, output_field=models.DateField())


class CommitmentQuerySet(MultilingualQuerySet["Commitment"]):
    def with_last_checked(self) -> CommitmentQuerySet:
        """Annotates ``last_checked_on``: the newest check of the commitment, that is
        of a log entry on the commitment itself or on any of its milestones (a check
        of a milestone is a check of its commitment). One subquery, no extra rows."""
        entries = LogEntry.objects.filter(
            Q(commitment=models.OuterRef("pk")) | Q(milestone__commitment=models.OuterRef("pk"))
        )
        return self.annotate(last_checked_on=last_checked(entries))


class CommitmentManager(MultilingualManager["Commitment"]):
    def get_by_natural_key(self, agreement_slug: str, key: str) -> Commitment:
        return self.get(agreement__slug=agreement_slug, key=key)


class Commitment(models.Model):
    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="commitments")
    key = models.SlugField(max_length=100, help_text="Stable name within the agreement")
    number = models.PositiveSmallIntegerField(default=0, help_text="Order in the agreement")
    title = models.CharField(max_length=300, validators=[validate_single_line])
    summary = models.TextField(blank=True)
    category = models.CharField(max_length=32, choices=Category.choices)
    section = models.CharField(
        max_length=100,
        blank=True,
        help_text="Section or paragraph of the text, e.g. 'Section 2(a)'",
    )
    parties = models.ManyToManyField(Party, related_name="commitments")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_commitments",
        help_text="Staff member responsible for keeping this current",
    )
    # The assessment says whether the promise was kept; progress (the milestones)
    # says what was done. They are kept apart, as promise trackers do.
    assessment = models.CharField(
        max_length=32, choices=Assessment.choices, default=Assessment.NOT_YET_RATED
    )
    assessment_note = models.TextField(blank=True)
    assessment_evidence_url = models.URLField(max_length=500, blank=True)
    assessed_on = models.DateField(null=True, blank=True)
    ja_is_translation = ja_origin()
    version = models.PositiveIntegerField(default=1, editable=False)
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CommitmentManager.from_queryset(CommitmentQuerySet)()
    history = audit_trail(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["agreement", "number", "id"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "key"], name="commitment_key_unique"),
        ]

    def __str__(self) -> str:
        return self.title

    def natural_key(self) -> tuple[str, str]:
        return (self.agreement.slug, self.key)

    natural_key.dependencies = ["commitments.agreement"]  # type: ignore[attr-defined]


class Lead(models.Model):
    """Who leads a commitment: "U.S. Secretary of Energy", "Japan METI Minister"."""

    commitment = models.ForeignKey(Commitment, on_delete=models.CASCADE, related_name="leads")
    title = models.CharField(max_length=200)
    party = models.ForeignKey(Party, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title


def nothing_archived(prefix: str = "") -> Q:
    """A milestone, its commitment and its agreement all current (not archived);
    ``prefix`` is the way to the milestone from another model ("milestone__")."""
    return Q(
        **{
            f"{prefix}{way}archived_at": None
            for way in ("", "commitment__", "commitment__agreement__")
        }
    )


class MilestoneQuerySet(MultilingualQuerySet["Milestone"]):
    def open(self) -> MilestoneQuerySet:
        return self.exclude(status__in=CLOSED_STATUSES)

    def overdue_at(self, now: dt.datetime) -> MilestoneQuerySet:
        """Same predicate as ``Milestone.is_overdue_at``, in SQL."""
        return self.filter(overdue_from__lte=now).exclude(status__in=CLOSED_STATUSES)

    def not_overdue_at(self, now: dt.datetime) -> MilestoneQuerySet:
        return self.filter(
            Q(overdue_from__isnull=True) | Q(overdue_from__gt=now) | Q(status__in=CLOSED_STATUSES)
        )

    def with_last_checked(self) -> MilestoneQuerySet:
        """Annotates ``last_checked_on``: the newest current log entry on the milestone
        (None if none); ``CommitmentQuerySet.with_last_checked`` counts these too."""
        entries = LogEntry.objects.filter(milestone=models.OuterRef("pk"))
        return self.annotate(last_checked_on=last_checked(entries))

    def due_within(self, now: dt.datetime, days: int) -> MilestoneQuerySet:
        """Open milestones whose due date falls in the next ``days`` days (UTC)."""
        today = now.date()
        return self.open().filter(due_on__gte=today, due_on__lte=today + dt.timedelta(days=days))


class MilestoneManager(MultilingualManager["Milestone"]):
    def get_by_natural_key(self, agreement_slug: str, commitment_key: str, key: str) -> Milestone:
        return self.get(
            commitment__agreement__slug=agreement_slug, commitment__key=commitment_key, key=key
        )


class Milestone(models.Model):
    commitment = models.ForeignKey(Commitment, on_delete=models.CASCADE, related_name="milestones")
    key = models.SlugField(max_length=100, help_text="Stable name within the commitment")
    title = models.CharField(max_length=300, validators=[validate_single_line])
    parties: models.ManyToManyField[Party, MilestonePart] = models.ManyToManyField(
        Party, through="MilestonePart", related_name="milestones"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_milestones",
        help_text="Defaults to the commitment's owner",
    )

    # The deadline rule (see commitments.deadlines). Changed only through
    # services.milestone_revise_deadline, which keeps the revision.
    rule_kind = models.CharField(
        max_length=16,
        choices=[(k.value, deadlines.RULE_KIND_LABELS[k]) for k in RuleKind],
        default=RuleKind.NONE,
    )
    rule_amount = models.PositiveIntegerField(null=True, blank=True)
    rule_anchor = models.CharField(
        max_length=16,
        choices=[(a.value, deadlines.ANCHOR_LABELS[a]) for a in Anchor],
        default=Anchor.SIGNATURE,
    )
    rule_anchor_milestone = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="dependents"
    )
    rule_fixed_date = models.DateField(null=True, blank=True)
    rule_rrule = models.CharField(
        max_length=200, blank=True, help_text="e.g. FREQ=MONTHLY;INTERVAL=3"
    )
    # A recurring obligation (rule_kind "recurring") is a series: it has no due date
    # of its own, and each of its occurrences is a milestone of the same commitment,
    # due on its date (a fixed rule), met or not on its own, with its own evidence.
    # Written by series.series_extend only. No index of its own:
    # milestone_occurrence_unique (series, original_due_on) leads with it.
    series = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.CASCADE,
        related_name="occurrences",
        db_index=False,
        help_text="The recurring obligation this is one occurrence of",
    )

    # What the rule gives. due_on is computed, never typed in.
    due_on = models.DateField(null=True, blank=True, editable=False)
    original_due_on = models.DateField(
        null=True, blank=True, editable=False, help_text="The due date before any revision"
    )
    # The UTC instant the whole due date has passed in the agreement's time zone:
    # the overdue predicate compares against it, in Python and in SQL alike.
    overdue_from = models.DateTimeField(null=True, blank=True, editable=False)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NOT_STARTED)
    completed_on = models.DateField(null=True, blank=True)
    evidence_url = models.URLField(max_length=500, blank=True)
    last_note = models.TextField(blank=True)
    ja_is_translation = ja_origin()
    # Set and cleared by the sweep (tracker.alerts.sweep); nothing else writes it.
    overdue_since = models.DateTimeField(null=True, blank=True, editable=False)
    # Bumped on every change; optimistic concurrency for the admin and API (If-Match).
    version = models.PositiveIntegerField(default=1, editable=False)
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    objects = MilestoneManager.from_queryset(MilestoneQuerySet)()
    # The sweep's flag and the derived dates move without an editor: not audited.
    history = audit_trail(excluded_fields=["updated_at", "overdue_since", "due_on", "overdue_from"])

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["commitment", "key"], name="milestone_key_unique"),
            # One occurrence per date of the rule: the date it was first due (a
            # revision moves its due date, never this).
            models.UniqueConstraint(
                fields=["series", "original_due_on"],
                condition=Q(series__isnull=False),
                name="milestone_occurrence_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["updated_at", "id"], name="milestone_updated_idx"),
            models.Index(fields=["due_on", "id"], name="milestone_due_idx"),
            # The sweep's two questions, each answered from a small partial index: which
            # open, unflagged milestones have passed their deadline, and which flagged
            # ones no longer should be. A sweep that finds nothing reads almost nothing.
            models.Index(
                fields=["overdue_from"],
                condition=Q(overdue_since__isnull=True) & ~Q(status__in=list(CLOSED_STATUSES)),
                name="milestone_to_flag_idx",
            ),
            models.Index(
                fields=["overdue_since"],
                condition=Q(overdue_since__isnull=False),
                name="milestone_flagged_idx",
            ),
            # The clearing question (flagged, but closed or no longer past due) from
            # two indexes that hold only the rows to clear: at a backlog of 700,000
            # flagged rows it takes 0.07 ms instead of 281 ms through the one above.
            models.Index(
                fields=["overdue_from"],
                condition=Q(overdue_since__isnull=False),
                name="milestone_flagged_from_idx",
            ),
            models.Index(
                fields=["id"],
                condition=Q(overdue_since__isnull=False, status__in=list(CLOSED_STATUSES)),
                name="milestone_flagged_closed_idx",
            ),
            # The sweep's first question, "which series miss an occurrence?"
            # (series.series_extend): the few recurring rows, not every milestone.
            # At 100,000 milestones it takes that question from 55 ms to well under 1.
            models.Index(
                fields=["id"],
                condition=Q(rule_kind=RuleKind.RECURRING),
                name="milestone_series_idx",
            ),
        ]
        permissions = [("set_milestone_status", "Can set a milestone's status")]

    def __str__(self) -> str:
        return self.title

    def natural_key(self) -> tuple[str, str, str]:
        return (self.commitment.agreement.slug, self.commitment.key, self.key)

    natural_key.dependencies = ["commitments.commitment"]  # type: ignore[attr-defined]

    @property
    def rule(self) -> DeadlineRule:
        return DeadlineRule(
            kind=RuleKind(self.rule_kind),
            amount=self.rule_amount,
            anchor=Anchor(self.rule_anchor),
            anchor_milestone_id=self.rule_anchor_milestone_id,
            anchor_title=(
                self.rule_anchor_milestone.title if self.rule_anchor_milestone is not None else ""
            ),
            fixed_date=self.rule_fixed_date,
            rrule=self.rule_rrule,
        )

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    @property
    def is_series(self) -> bool:
        """A recurring obligation: its occurrences carry the due dates."""
        return self.rule_kind == RuleKind.RECURRING

    def is_overdue_at(self, now: dt.datetime) -> bool:
        """Same predicate as ``Milestone.objects.overdue_at``."""
        return is_overdue(self.overdue_from, self.status, now)

    def time_zone(self) -> str:
        return self.commitment.agreement.time_zone


class MilestonePart(models.Model):
    """One party's part of a shared milestone: Japan may have done its part while the
    United States has not."""

    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="parts")
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="milestone_parts")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NOT_STARTED)
    completed_on = models.DateField(null=True, blank=True)
    responsible = models.CharField(
        max_length=200, blank=True, help_text="The agency the text names, if it names one"
    )
    amount = models.CharField(
        max_length=200, blank=True, help_text="The sum the text names, in its words"
    )

    class Meta:
        ordering = ["party__code"]
        constraints = [
            models.UniqueConstraint(fields=["milestone", "party"], name="milestone_part_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.party.code}: {self.get_status_display()}"


class StatusUpdate(models.Model):
    """History: one row per status change, and per overdue flag set or cleared."""

    class Kind(models.TextChoices):
        STATUS = "status", "Status change"
        OVERDUE_FLAGGED = "overdue_flagged", "Flagged overdue"
        OVERDUE_CLEARED = "overdue_cleared", "Overdue flag cleared"
        DEADLINE = "deadline", "Deadline changed"

    # No index of its own: statusupdate_ms_at_idx (milestone, -at) leads with it.
    milestone = models.ForeignKey(
        Milestone, on_delete=models.CASCADE, related_name="updates", db_index=False
    )
    party = models.ForeignKey(
        Party, null=True, blank=True, on_delete=models.PROTECT, help_text="Set for one party's part"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.STATUS)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text="Empty when the system made the change",
    )
    at = models.DateTimeField(default=timezone.now, db_index=True)
    from_status = models.CharField(max_length=16, choices=Status.choices)
    to_status = models.CharField(max_length=16, choices=Status.choices)
    note = models.TextField(blank=True)
    evidence_url = models.URLField(max_length=500, blank=True)
    completed_on = models.DateField(null=True, blank=True)
    due_on = models.DateField(null=True, blank=True, help_text="The due date at the time")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["milestone", "-at"], name="statusupdate_ms_at_idx")]

    def __str__(self) -> str:
        # The admin heads each history row with this: in words, as the page reads.
        if self.from_status == self.to_status:
            return f"{self.get_kind_display()} ({self.get_to_status_display()})"
        return (
            f"{self.get_kind_display()}: "
            f"{self.get_from_status_display()} → {self.get_to_status_display()}"
        )

    @property
    def by_label(self) -> str:
        return self.by.get_username() if self.by is not None else "system"


class DeadlineRevision(models.Model):
    """A deadline moved by the parties (or a rule corrected): both dates are kept, with
    the reason and its source."""

    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="revisions")
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    old_rule = models.CharField(max_length=300)
    new_rule = models.CharField(max_length=300)
    old_due_on = models.DateField(null=True, blank=True)
    new_due_on = models.DateField(null=True, blank=True)
    reason = models.TextField()
    source = models.CharField(max_length=500)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"due {self.old_due_on or 'none'} → {self.new_due_on or 'none'}"


class LogEntryManager(MultilingualManager["LogEntry"]):
    pass


class LogEntry(models.Model):
    """What happened since signature, with its source: apart from status. An entry
    never completes a milestone or sets an assessment; staff decide those."""

    class Kind(models.TextChoices):
        PROGRESS = "progress", "Progress"
        SETBACK = "setback", "Setback"
        CONTEXT = "context", "Context"
        CHECKED = "checked_nothing_found", "Checked, nothing found"

    key = models.SlugField(max_length=100, help_text="Stable name (for the loader)")
    agreement = models.ForeignKey(
        Agreement, null=True, blank=True, on_delete=models.CASCADE, related_name="log"
    )
    commitment = models.ForeignKey(
        Commitment, null=True, blank=True, on_delete=models.CASCADE, related_name="log"
    )
    milestone = models.ForeignKey(
        Milestone, null=True, blank=True, on_delete=models.CASCADE, related_name="log"
    )
    on = models.DateField(help_text="When it happened (or when we looked)")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    text = models.TextField(help_text="Short and neutral")
    source_address = models.CharField(
        max_length=500, help_text="A page address (https://…) or a seed file name"
    )
    source_kind = models.CharField(
        max_length=8, choices=SourceKind.choices, default=SourceKind.QUOTE
    )
    source_passage = models.TextField(blank=True, help_text="The source's own words")
    source_language = models.CharField(
        max_length=16, default="en", help_text="Language of the passage (BCP 47, e.g. en, ja)"
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="record_log_entries",
    )
    ja_is_translation = ja_origin()
    version = models.PositiveIntegerField(default=1, editable=False)
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    objects = LogEntryManager()
    history = audit_trail(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-on", "-id"]
        verbose_name_plural = "log entries"
        constraints = [
            one_owner("logentry_has_one_owner"),
            models.UniqueConstraint(fields=["key"], name="logentry_key_unique"),
        ]
        indexes = [
            models.Index(fields=["commitment", "-on"], name="logentry_commitment_idx"),
            models.Index(fields=["milestone", "-on"], name="logentry_milestone_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.on}: {self.get_kind_display()}"


class StaffProfile(models.Model):
    """What the public sees of a staff member: a display name they choose, or
    "staff". Usernames are never shown outside the admin."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    public_name = models.CharField(max_length=100, blank=True)

    def __str__(self) -> str:
        return self.public_name or "staff"


class LoadedRecord(models.Model):
    """What the loader last wrote for one shipped record (by natural key). The loader
    changes a record only while its fields still equal this snapshot, that is while
    no one has edited it since; otherwise it reports a conflict and keeps the staff's
    version. A snapshot whose record is gone means staff removed it: not re-created."""

    model = models.CharField(max_length=64)
    key = models.CharField(max_length=300)
    data = models.JSONField()
    loaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "key"], name="loadedrecord_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.key}"
