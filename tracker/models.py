"""The tracking machinery's own state: sweep runs, events (the news, taken from the
domain's history rows or written by the sweep as due-soon reminders), alerts (one
delivery row per event, recipient and channel), subscriptions and webhook endpoints."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from commitments.models import Milestone


class SweepRun(models.Model):
    started_at = models.DateTimeField(db_index=True)
    evaluated_at = models.DateTimeField(help_text="The moment the sweep judged ('now')")
    finished_at = models.DateTimeField(null=True, blank=True)
    flagged = models.PositiveIntegerField(default=0)
    cleared = models.PositiveIntegerField(default=0)
    queued = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"
        # Pollers read the last finished sweep (as_of) on every request.
        indexes = [models.Index(fields=["-finished_at"], name="sweeprun_finished_idx")]

    def __str__(self) -> str:
        return f"sweep at {self.evaluated_at:%Y-%m-%d %H:%M}"


class AlertKind:
    """``due_N`` (N days before the due date, N from the subscription's lead times),
    ``overdue`` and ``completed``."""

    OVERDUE = "overdue"
    COMPLETED = "completed"

    @staticmethod
    def due(days: int) -> str:
        return f"due_{days}"

    @staticmethod
    def urgency(kind: str) -> int:
        """Lower is more urgent: overdue, then the nearest due-soon, then completed."""
        if kind == AlertKind.OVERDUE:
            return -1
        if kind.startswith("due_"):
            return int(kind.removeprefix("due_"))
        return 10_000


DEFAULT_LEAD_DAYS = [30, 7, 1]
KNOWN_KINDS = {
    "due_soon": "Due soon (at each lead time)",
    "overdue": "Overdue",
    "completed": "Completed",
    "digest": "Weekly digest",
}
# Lead times are whole days before the due date, at most a year and a day.
LEAD_DAYS_MIN, LEAD_DAYS_MAX = 1, 366


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


def default_lead_days() -> list[int]:
    return list(DEFAULT_LEAD_DAYS)


def default_kinds() -> list[str]:
    return ["due_soon", "overdue", "completed", "digest"]


class Subscription(models.Model):
    """Someone who wants alerts about an agreement, a commitment or a milestone (or,
    with none of them, everything)."""

    email = models.EmailField(blank=True, help_text="Or choose a user")
    user = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.CASCADE, related_name="subscriptions"
    )
    agreement = models.ForeignKey(
        "commitments.Agreement",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="subscriptions",
    )
    commitment = models.ForeignKey(
        "commitments.Commitment",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="subscriptions",
    )
    milestone = models.ForeignKey(
        "commitments.Milestone",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="subscriptions",
    )
    kinds = models.JSONField(
        default=default_kinds, help_text="Any of: due_soon, overdue, completed, digest"
    )
    lead_days = models.JSONField(
        default=default_lead_days, help_text="Days before the due date to warn, e.g. [30, 7, 1]"
    )
    time_zone = models.CharField(
        max_length=64, blank=True, help_text="For the Monday 09:00 digest; default: TIME_ZONE"
    )
    # The language of everything sent to this subscriber (alerts, digest, confirmation)
    # and of the pages its links open: chosen on the follow form, the page's by default.
    language = models.CharField(
        max_length=8,
        choices=settings.LANGUAGES,
        default="en",
        help_text="Language of the emails and of the pages they link to",
    )
    active = models.BooleanField(default=True)
    # Set when a reader follows by email from a public page, cleared when they confirm
    # from the emailed link (double opt-in). Nothing is sent while it is set.
    pending_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # A value the alert machinery could not use (a lead time of "7", a time zone that
    # does not exist), written there by the sweep, the dispatcher or the digests, which
    # skip the bad value and go on with everyone else.
    last_error = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                name="subscription_has_recipient",
                condition=~models.Q(email="") | models.Q(user__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        target = self.milestone or self.commitment or self.agreement or "everything"
        return f"{self.address} → {target}"

    @property
    def address(self) -> str:
        return (self.email or (self.user.email if self.user is not None else "")).lower()

    # Which milestones a subscription covers, once in Python and once in SQL: the
    # alerts decide in memory, the digest and the sweep's narrowing ask the database.

    def covers(self, milestone: Milestone) -> bool:
        """Following a recurring obligation is following each of its occurrences."""
        if self.milestone_id:
            return self.milestone_id in (milestone.pk, milestone.series_id)
        if self.commitment_id:
            return self.commitment_id == milestone.commitment_id
        if self.agreement_id:
            return self.agreement_id == milestone.commitment.agreement_id
        return True

    def milestone_filter(self, prefix: str = "") -> models.Q:
        """The same rule as ``covers``, for milestones reached through ``prefix``
        (e.g. ``"milestone__"`` from a status update)."""
        if self.milestone_id:
            return models.Q(**{f"{prefix}pk": self.milestone_id}) | models.Q(
                **{f"{prefix}series_id": self.milestone_id}
            )
        if self.commitment_id:
            return models.Q(**{f"{prefix}commitment_id": self.commitment_id})
        if self.agreement_id:
            return models.Q(**{f"{prefix}commitment__agreement_id": self.agreement_id})
        return models.Q()


class LeadTimes(models.Model):
    """How many listening subscriptions (active and confirmed: ``audience.listening``)
    hold each pair of lead times and kinds. Database triggers on the subscription table
    keep it, whatever writes there (a form, the admin, a bulk update, a delete), so the
    sweep reads a handful of rows every minute instead of every subscription (migration
    0009; a test holds it equal to ``listening()``)."""

    lead_days = models.JSONField()
    kinds = models.JSONField()
    subscriptions = models.PositiveIntegerField()

    class Meta:
        verbose_name_plural = "lead times"
        constraints = [
            models.UniqueConstraint(fields=["lead_days", "kinds"], name="lead_times_once"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_days} {self.kinds}: {self.subscriptions}"


class OptOut(models.Model):
    """An unsubscribe: of one subscription (``subscription`` set), or of everything
    to an address (``subscription`` empty: no more alerts, whether subscribed or an
    owner). Checked when an alert is sent, not only when it is queued."""

    email = models.EmailField()
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.CASCADE, related_name="opt_outs"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["email"],
                condition=models.Q(subscription__isnull=True),
                name="optout_address_once",
            ),
            models.UniqueConstraint(
                fields=["email", "subscription"],
                condition=models.Q(subscription__isnull=False),
                name="optout_subscription_once",
            ),
        ]

    def __str__(self) -> str:
        return self.email


class AlertEvent(models.Model):
    """One piece of news to tell people about: a milestone flagged overdue or completed
    (copied from the domain's history row, ``update``), or a due-soon reminder written
    by the sweep (one per milestone, lead time and due date)."""

    milestone = models.ForeignKey(
        "commitments.Milestone", on_delete=models.CASCADE, related_name="events", db_index=False
    )
    kind = models.CharField(max_length=16, help_text="overdue, completed or due_N")
    due_on = models.DateField(
        help_text="The due date the news is about (for 'completed': the completion date)"
    )
    at = models.DateTimeField(help_text="The moment of the news (the sweep's 'now')")
    update = models.OneToOneField(
        "commitments.StatusUpdate",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The history row this news comes from",
    )
    lead_days = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    failed = models.BooleanField(default=False, help_text="Gave up: see the error")

    class Meta:
        db_table = "tracker_event"  # its name before the feed's events had their own
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["milestone", "lead_days", "due_on"],
                condition=models.Q(lead_days__isnull=False),
                name="event_reminder_once",
            ),
        ]
        indexes = [
            models.Index(fields=["milestone", "-at"], name="event_milestone_idx"),
            # The dispatcher looks only at events not yet dispatched.
            models.Index(
                fields=["id"],
                condition=models.Q(dispatched_at__isnull=True, failed=False),
                name="event_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.milestone_id} ({self.due_on})"

    @property
    def state(self) -> str:
        if self.dispatched_at:
            return "dispatched"
        return "failed" if self.failed else "pending"


class DispatchCursor(models.Model):
    """How far the dispatcher has read the history: every alerting history row with
    an id at or below ``floor`` has its event. ``candidate`` is the highest id seen
    at ``candidate_seen_at``; it becomes the floor once TRACKER_DISPATCH_GRACE_SECONDS
    have passed (longer than any transaction), so that a row committed late, with a
    lower id than one already read, is still found. One row."""

    floor = models.BigIntegerField(default=0)
    candidate = models.BigIntegerField(default=0)
    candidate_seen_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"history read up to {self.floor}"


class Alert(models.Model):
    """One delivery: an event, to one recipient, by one channel (an email address, or
    a webhook endpoint). Written by the dispatcher; delivery sends pending rows and
    marks them sent. The unique constraint makes a doubled dispatcher harmless."""

    milestone = models.ForeignKey(
        "commitments.Milestone", on_delete=models.CASCADE, related_name="alerts"
    )
    event = models.ForeignKey(
        AlertEvent, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    subscription = models.ForeignKey(
        Subscription,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
        help_text="Empty for an owner's alert",
    )
    endpoint = models.ForeignKey(
        "WebhookEndpoint", null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    kind = models.CharField(max_length=16)
    recipient = models.CharField(max_length=254, help_text="An email address, or webhook:<id>")
    due_on = models.DateField(
        help_text="The due date the alert is about (for 'completed': the completion date)"
    )
    created_at = models.DateTimeField(db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True)
    failed = models.BooleanField(default=False, help_text="Gave up after too many attempts")
    skipped = models.BooleanField(
        default=False, help_text="Not sent: no longer true when its turn came"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "recipient", "channel"], name="alert_once_per_event"
            ),
        ]
        indexes = [
            # Delivery looks only at pending rows.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(sent_at__isnull=True, failed=False, skipped=False),
                name="alert_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.milestone_id} → {self.recipient}"

    @property
    def state(self) -> str:
        if self.sent_at:
            return "sent"
        if self.skipped:
            return "skipped"
        return "failed" if self.failed else "pending"


class DigestSent(models.Model):
    """One weekly digest per subscription per week: the unique key is the claim."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE)
    week_of = models.DateField(help_text="The Monday, in the subscriber's time zone")
    sent_at = models.DateTimeField()

    class Meta:
        verbose_name = "digest sent"
        verbose_name_plural = "digests sent"
        constraints = [
            models.UniqueConstraint(fields=["subscription", "week_of"], name="digest_once"),
        ]

    def __str__(self) -> str:
        return f"digest for {self.subscription_id}, week of {self.week_of}"


class WebhookEndpoint(models.Model):
    """A URL that receives events as signed JSON (Standard Webhooks)."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = models.CharField(
        max_length=200, help_text="whsec_ followed by base64; generated when left empty"
    )
    agreements = models.ManyToManyField(
        "commitments.Agreement", blank=True, help_text="None: every agreement"
    )
    kinds = models.JSONField(default=default_kinds, help_text="Any of the known kinds")
    active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name or self.url

    @property
    def recipient(self) -> str:
        return f"webhook:{self.pk}"


class WebhookAttempt(models.Model):
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="attempts_log")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="log")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return (
            f"{self.endpoint_id} at {self.at:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error}"
        )
