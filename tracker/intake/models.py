"""Watched sources, the items they bring, and the findings staff review."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from commitments.models import Agreement, Commitment, LogEntry


class WatchedSource(models.Model):
    class Kind(models.TextChoices):
        FEED = "feed", "RSS or Atom feed"
        PAGE = "page", "Web page (new paragraphs become items)"

    name = models.CharField(max_length=200)
    url = models.URLField(max_length=1000, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.FEED)
    agreements = models.ManyToManyField(
        Agreement,
        blank=True,
        related_name="watched_sources",
        help_text="What it concerns; empty: matched against every agreement",
    )
    enabled = models.BooleanField(default=False)
    interval_minutes = models.PositiveIntegerField(default=60)
    note = models.TextField(blank=True, help_text="Who publishes it and why it is watched")
    # What the last fetch said (tracker.fetch outcomes), for staff and for /metrics.
    last_fetched_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_outcome = models.CharField(max_length=20, blank=True, editable=False)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    etag = models.CharField(max_length=500, blank=True, editable=False)
    last_modified = models.CharField(max_length=100, blank=True, editable=False)
    # A page's main text at the last fetch: the next one's new paragraphs become items.
    last_text = models.TextField(blank=True, editable=False)
    next_fetch_at = models.DateTimeField(default=timezone.now, db_index=True)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def interval(self) -> dt.timedelta:
        return dt.timedelta(minutes=max(1, self.interval_minutes))


class Item(models.Model):
    """One piece of news: a feed entry, or the new paragraphs of a watched page.
    De-duplicated by its address (``key``) and by its content (``content_hash``)."""

    source = models.ForeignKey(
        WatchedSource, null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )
    address = models.CharField(max_length=1000, help_text="Where a reader opens it")
    key = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the address")
    content_hash = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=500, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    text = models.TextField(blank=True, help_text="The item's own words, tags removed")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title or self.address


class Finding(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "To review"
        LOGGED = "logged", "Logged"
        NOT_RELEVANT = "not_relevant", "Not relevant"
        DUPLICATE = "duplicate", "Duplicate"

    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="finding")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    # The best suggestion's score (0 when none): the list sorts and filters on it.
    top_score = models.FloatField(default=0.0)
    reason = models.TextField(blank=True, help_text="Why it is not relevant")
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    log_entry = models.ForeignKey(
        LogEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(state="pending"), name="finding_pending_idx"
            )
        ]

    def __str__(self) -> str:
        return str(self.item)


class Suggestion(models.Model):
    """A commitment a finding may bear on, with why: the sentences and terms matched."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="suggestions")
    commitment = models.ForeignKey(Commitment, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField()
    score = models.FloatField()
    sentences = models.JSONField(default=list, help_text="The item's sentences that matched")
    terms = models.JSONField(default=list, help_text="The terms that matched")

    class Meta:
        ordering = ["finding", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["finding", "rank"], name="suggestion_rank_unique")
        ]

    def __str__(self) -> str:
        return f"{self.commitment} ({self.score:.2f})"


class Keyword(models.Model):
    """A phrase staff keep for one agreement or one commitment: project and company
    names, agencies, "price floor". Positive ones add to a match; a negative one
    (a recurring "not relevant" reason) takes away from it."""

    agreement = models.ForeignKey(
        Agreement, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    commitment = models.ForeignKey(
        Commitment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    phrase = models.CharField(max_length=200)
    negative = models.BooleanField(default=False)
    weight = models.FloatField(default=1.0)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["phrase"]
        constraints = [
            models.CheckConstraint(
                name="keyword_has_one_owner",
                condition=Q(agreement__isnull=False, commitment__isnull=True)
                | Q(agreement__isnull=True, commitment__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["agreement", "commitment", "phrase", "negative"], name="keyword_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{'−' if self.negative else '+'}{self.phrase}"


class FetchTally(models.Model):
    """How many fetches ended with each outcome, since the start: a counter every
    worker adds to (a conditional ``F() + 1``) and /metrics reads."""

    outcome = models.CharField(max_length=20, unique=True)
    count = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.outcome}: {self.count}"
