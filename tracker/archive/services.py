"""Archiving cited pages: which addresses are cited, one fetch made into a copy, and
the captures whose (re)try is due. One address's fault never stops the others.

A capture is claimed with a conditional update of ``next_try`` (two workers never
fetch the same address); a failure is recorded with its error and tried again after
``TRACKER_ARCHIVE_RETRY_SECONDS``, doubling per attempt, until
``TRACKER_ARCHIVE_MAX_ATTEMPTS`` (then ``next_try`` is cleared: staff see it in the
admin, and ``archive_evidence ADDRESS`` tries again by hand). An archived copy is
never replaced: it is the page as it was when the record cited it."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from commitments.models import LogEntry, Milestone, Source, StatusUpdate
from tracker import fetch
from tracker.public.citations import web_address

from . import warc
from .models import Capture

log = logging.getLogger(__name__)


def cited_addresses() -> list[str]:
    """Every web address the record cites (sources, log entries, evidence), once each,
    sorted; seed file names and the tracker's own searches are not web addresses."""
    found: set[str] = set()
    found.update(Source.objects.values_list("reference", flat=True))
    found.update(LogEntry.objects.values_list("source_address", flat=True))
    found.update(Milestone.objects.exclude(evidence_url="").values_list("evidence_url", flat=True))
    found.update(
        StatusUpdate.objects.exclude(evidence_url="").values_list("evidence_url", flat=True)
    )
    return sorted({a for a in (web_address(v or "") for v in found) if a})


def capture_wanted(address: str) -> bool:
    """Make the address's capture row if it has none (pending, due now). True if it
    was made: the caller rings the worker."""
    address = web_address(address or "")
    if not address:
        return False
    _, created = Capture.objects.get_or_create(address=address)
    return created


def archive_address(address: str, *, now: dt.datetime | None = None) -> Capture:
    """Fetch ``address`` now and keep the copy, unless one is kept already. Returns the
    capture (``state`` says how it went; never raises for the remote side's faults)."""
    now = now or timezone.now()
    capture, _ = Capture.objects.get_or_create(address=address)
    if capture.archived:
        return capture
    result = fetch.fetch(address)
    if result.ok:
        try:
            written = warc.write(result, now)
        except Exception as exc:  # the store failed (disk full, S3 down): retried
            log.exception("archive: could not store the copy of %s", address)
            return _failed(capture, result, f"storing the copy: {type(exc).__name__}: {exc}", now)
        fields = {
            "state": Capture.State.ARCHIVED,
            "outcome": result.outcome,
            "status": result.status,
            "error": "",
            "sha256": written.sha256,
            "content_type": result.content_type[:200],
            "size": len(result.body),
            "warc": written.name,
            "warc_size": written.size,
            "fetched_at": now,
            "attempts": capture.attempts + 1,
            "next_try": None,
        }
    elif result.outcome in fetch.NOT_TRIED:
        wait = dt.timedelta(seconds=result.retry_after or 0) or fetch.NOT_TRIED_WAIT
        fields = {"outcome": result.outcome, "error": result.error, "next_try": now + wait}
    else:
        return _failed(capture, result, result.error or result.outcome, now)
    # Guarded: a copy kept meanwhile by another worker (or the command) stays the copy.
    if (
        not Capture.objects.filter(pk=capture.pk)
        .exclude(state=Capture.State.ARCHIVED)
        .update(**fields)
        and result.ok
    ):
        warc.storage().delete(written.name)
    capture.refresh_from_db()
    log.info("archive: %s -> %s", address, capture.state)
    return capture


def _failed(capture: Capture, result: fetch.FetchResult, error: str, now: dt.datetime) -> Capture:
    attempts = capture.attempts + 1
    next_try = None
    if attempts < settings.TRACKER_ARCHIVE_MAX_ATTEMPTS:
        wait = settings.TRACKER_ARCHIVE_RETRY_SECONDS * 2 ** (attempts - 1)
        next_try = now + dt.timedelta(seconds=max(wait, result.retry_after or 0))
    Capture.objects.filter(pk=capture.pk).exclude(state=Capture.State.ARCHIVED).update(
        state=Capture.State.FAILED,
        outcome=result.outcome,
        status=result.status,
        error=error[:2000],
        attempts=attempts,
        next_try=next_try,
    )
    capture.refresh_from_db()
    log.info("archive: %s failed (%s), attempt %d", capture.address, error, attempts)
    return capture


def archive_due(now: dt.datetime | None = None, limit: int = 200) -> Counter[str]:
    now = now or timezone.now()
    due = (
        Capture.objects.filter(~Q(state=Capture.State.ARCHIVED), next_try__lte=now)
        .order_by("next_try", "id")
        .values_list("pk", "next_try")[:limit]
    )
    states: Counter[str] = Counter()
    for pk, next_try in list(due):
        # Claimed for the longest a fetch may take; the outcome sets the real next try.
        claim = now + dt.timedelta(seconds=settings.TRACKER_FETCH_TOTAL_SECONDS * 2)
        if Capture.objects.filter(pk=pk, next_try=next_try).update(next_try=claim) != 1:
            continue  # another worker has it
        address = Capture.objects.values_list("address", flat=True).get(pk=pk)
        try:
            states[archive_address(address, now=now).state] += 1
        except SoftTimeLimitExceeded:
            raise  # the claim expires; the next run takes it up
        except Exception:  # a bug with one address must not stop the others
            log.exception("archive: %s could not be archived", address)
            states["error"] += 1
    return states


def archive_all(now: dt.datetime | None = None) -> list[Capture]:
    """Every cited address archived that is not yet (the operator's one-off after
    loading the record); run twice, it fetches nothing the second time."""
    return [archive_address(a, now=now) for a in cited_addresses()]


def discover(now: dt.datetime | None = None) -> int:
    """A pending capture for every cited address that has none: the saves the signals
    do not hear (edits written with a conditional ``update()``, rows loaded raw).
    Returns how many were made."""
    have = set(Capture.objects.values_list("address", flat=True))
    missing = [a for a in cited_addresses() if a not in have]
    Capture.objects.bulk_create(
        [Capture(address=a, next_try=now or timezone.now()) for a in missing],
        ignore_conflicts=True,
    )
    return len(missing)


SEED = "seed"  # Capture.outcome of a seed's copy: read from a file, not fetched


def cited_seeds() -> list[str]:
    """The seed file names the record cites (tracker.public.citations knows them)."""
    from tracker.public.citations import seeds

    known = {seed.name for seed in seeds()}
    found = set(Source.objects.values_list("reference", flat=True))
    found.update(LogEntry.objects.values_list("source_address", flat=True))
    return sorted({v.strip() for v in found} & known)


def archive_seed(name: str, text: bytes, *, now: dt.datetime | None = None) -> Capture:
    """Keep a seed's text as its archived copy (once: a kept copy is never replaced)."""
    now = now or timezone.now()
    capture, _ = Capture.objects.get_or_create(address=name)
    if capture.archived:
        return capture
    written = warc.write_resource(name, text, "text/plain; charset=utf-8", now)
    Capture.objects.filter(pk=capture.pk).update(
        state=Capture.State.ARCHIVED,
        outcome=SEED,
        status=None,
        error="",
        sha256=written.sha256,
        content_type="text/plain",
        size=len(text),
        warc=written.name,
        warc_size=written.size,
        fetched_at=now,
        attempts=capture.attempts + 1,
        next_try=None,
    )
    capture.refresh_from_db()
    return capture
