"""A copy of each cited page (``Capture``, its WARC in the "archive" storage) and what
the weekly link check last found at the address (``LinkCheck``). Both are keyed by
the address, not by the record that cites it: one page cited ten times is kept once."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Capture(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be fetched"
        ARCHIVED = "archived", "Archived"
        FAILED = "failed", "Failed (retried with backoff)"

    address = models.CharField(max_length=1000, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    # What the last fetch said (tracker.fetch outcome, HTTP status, error).
    outcome = models.CharField(max_length=20, blank=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="HTTP status")
    error = models.TextField(blank=True)
    # The copy, once archived: never replaced (the page as it was when cited).
    sha256 = models.CharField(max_length=64, blank=True, help_text="Of the response body")
    content_type = models.CharField(max_length=200, blank=True)
    size = models.PositiveIntegerField(default=0, help_text="Response body, bytes")
    warc = models.CharField(max_length=500, blank=True, help_text="Name in the archive storage")
    warc_size = models.PositiveIntegerField(default=0, help_text="WARC file, bytes (gzip)")
    fetched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # When to try again; None once archived or given up.
    next_try = models.DateTimeField(null=True, blank=True, default=timezone.now, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["address"]

    def __str__(self) -> str:
        return self.address

    @property
    def archived(self) -> bool:
        return self.state == self.State.ARCHIVED


class LinkCheck(models.Model):
    """The last link check of one cited address: does it still answer, and are the
    quoted passages cited with it still in its text? Nothing in the record changes."""

    address = models.CharField(max_length=1000, unique=True)
    checked_at = models.DateTimeField()
    outcome = models.CharField(max_length=20)
    status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="HTTP status")
    # True: it answers; False: gone (4xx, 5xx, no server); None: we could not ask
    # (robots.txt, the host's backoff) and the last answer stands.
    answers = models.BooleanField(null=True)
    passages = models.PositiveIntegerField(default=0, help_text="Quoted passages checked")
    # The passages no longer found: short hashes of their normalised text, space-separated
    # (tracker.archive.text.passage_key), so that a page can tell each source apart.
    missing = models.TextField(blank=True)
    etag = models.CharField(max_length=500, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["address"]

    def __str__(self) -> str:
        return self.address

    @property
    def passages_gone(self) -> int:
        return len(self.missing.split())
