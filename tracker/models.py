"""The tracking machinery's own state: sweep runs, alerts (an outbox) and
subscriptions."""

from __future__ import annotations

from django.db import models

from commitments.models import Milestone


class SweepRun(models.Model):
    """One run of the deadline sweep: when, and what it changed."""

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
    DIGEST = "digest"

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
DEFAULT_KINDS = ["due_soon", "overdue", "completed", "digest"]


def default_lead_days() -> list[int]:
    return list(DEFAULT_LEAD_DAYS)


def default_kinds() -> list[str]:
    return list(DEFAULT_KINDS)


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
    active = models.BooleanField(default=True)
    # Set when a reader follows by email from a public page, cleared when they confirm
    # from the emailed link (double opt-in). Nothing is sent while it is set.
    pending_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

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
        return (self.email or (self.user.email if self.user_id else "")).lower()

    # Which milestones a subscription covers, once in Python and once in SQL: the
    # alerts decide in memory, the digest and the sweep's narrowing ask the database.

    @property
    def covers_everything(self) -> bool:
        return not (self.agreement_id or self.commitment_id or self.milestone_id)

    def covers(self, milestone: Milestone) -> bool:
        if self.milestone_id:
            return self.milestone_id == milestone.pk
        if self.commitment_id:
            return self.commitment_id == milestone.commitment_id
        if self.agreement_id:
            return self.agreement_id == milestone.commitment.agreement_id
        return True

    def milestone_filter(self, prefix: str = "") -> models.Q:
        """The same rule as ``covers``, for milestones reached through ``prefix``
        (e.g. ``"milestone__"`` from a status update)."""
        if self.milestone_id:
            return models.Q(**{f"{prefix}pk": self.milestone_id})
        if self.commitment_id:
            return models.Q(**{f"{prefix}commitment_id": self.commitment_id})
        if self.agreement_id:
            return models.Q(**{f"{prefix}commitment__agreement_id": self.agreement_id})
        return models.Q()


class OptOut(models.Model):
    """An address that used an unsubscribe link: it gets no more alerts, whether it
    was subscribed or is an owner."""

    email = models.EmailField(unique=True)
    at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.email


class Alert(models.Model):
    """The outbox. A row is written in the same transaction as the change that makes
    it due; delivery sends pending rows and marks them sent. The unique constraint
    makes a doubled or retried sweep harmless, and lets a deadline moved later alert
    again (the due date is part of the key)."""

    # No index of its own: the unique constraint below leads with milestone.
    milestone = models.ForeignKey(
        "commitments.Milestone", on_delete=models.CASCADE, related_name="alerts", db_index=False
    )
    kind = models.CharField(max_length=16)
    recipient = models.EmailField()
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
                fields=["milestone", "kind", "recipient", "due_on"], name="alert_once"
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
        constraints = [
            models.UniqueConstraint(fields=["subscription", "week_of"], name="digest_once"),
        ]

    def __str__(self) -> str:
        return f"digest for {self.subscription_id}, week of {self.week_of}"
