"""Fetching the watched sources whose time has come, one at a time, each outcome
recorded on its source; one source's fault never stops the others.

A source is claimed with a conditional update of ``next_fetch_at`` (two workers never
fetch the same source), fetched through ``tracker.fetch`` (which keeps the per-host
rules: one request at a time, backoff, Retry-After, robots.txt), and rescheduled: after
a success at its interval; after a failure at twice the interval per failure in a row
(at most ``MAX_BACKOFF``), and never before the host's Retry-After."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

from celery.exceptions import SoftTimeLimitExceeded
from django.db.models import F
from django.utils import timezone

from tracker import fetch

from . import parsing, services
from .matching import Matcher
from .models import FetchTally, WatchedSource

log = logging.getLogger(__name__)

MAX_BACKOFF = dt.timedelta(days=1)


def run_due(now: dt.datetime | None = None) -> Counter[str]:
    now = now or timezone.now()
    due = WatchedSource.objects.filter(enabled=True, next_fetch_at__lte=now).order_by(
        "next_fetch_at", "id"
    )
    outcomes: Counter[str] = Counter()
    matcher: Matcher | None = None
    for source in due:
        # Claimed for one interval; the outcome sets the real next time below.
        claimed = WatchedSource.objects.filter(
            pk=source.pk, next_fetch_at=source.next_fetch_at
        ).update(next_fetch_at=now + source.interval)
        if claimed != 1:
            continue  # another worker has it
        matcher = matcher or Matcher.from_db()
        try:
            outcome = fetch_source(source, matcher=matcher, now=now)
        except SoftTimeLimitExceeded:
            raise  # the claim expires; the next run takes it up
        except Exception as exc:  # a bug with one source must not stop the others
            log.exception("intake: source %s could not be fetched", source.pk)
            outcome, error = "error", f"{type(exc).__name__}: {exc}"[:2000]
            WatchedSource.objects.filter(pk=source.pk).update(
                last_fetched_at=now, last_outcome=outcome, last_error=error
            )
            tally(outcome)
        outcomes[outcome] += 1
    return outcomes


def fetch_source(source: WatchedSource, *, matcher: Matcher, now: dt.datetime) -> str:
    """Fetch one source, turn what is new into findings, record the outcome on the
    source. Returns the outcome ("ok", "not_modified", a fetch failure, or "parse_error")."""
    result = fetch.fetch(source.url, etag=source.etag, last_modified=source.last_modified)
    outcome, error, created = result.outcome, result.error, 0
    if result.ok:
        try:
            created = _ingest(source, result, matcher, now)
        except parsing.ParseError as exc:
            outcome, error = "parse_error", str(exc)
        except Exception as exc:  # one source's bad document must not stop the others
            log.exception("intake: source %s could not be read", source.pk)
            outcome, error = "parse_error", f"{type(exc).__name__}: {exc}"
        else:
            error = source.last_error  # a malformed feed's warning, read all the same
    _record(source, result, outcome, error, now)
    tally(outcome)
    log.info("intake: %s -> %s (%d new)", source.url, outcome, created)
    return outcome


def _ingest(source: WatchedSource, result: fetch.FetchResult, matcher: Matcher, now) -> int:
    if source.kind == WatchedSource.Kind.PAGE:
        title, text = parsing.page_text(result.body)
        candidates = parsing.page_candidates(source.url, title, source.last_text, text)
        source.last_text = text
        warning = ""
    else:
        candidates, warning = parsing.parse_feed(
            result.body, content_type=result.headers.get("content-type", "")
        )
    source.last_error = warning
    done = services.items_ingest(candidates, source=source, matcher=matcher, now=now)
    return sum(1 for d in done if d.created)


def _record(
    source: WatchedSource, result: fetch.FetchResult, outcome: str, error: str, now: dt.datetime
) -> None:
    fields: dict[str, object] = {
        "last_fetched_at": now,
        "last_outcome": outcome,
        "last_status": result.status,
        "last_error": error[:2000],
    }
    if outcome in ("ok", "not_modified"):
        fields.update(consecutive_failures=0, next_fetch_at=now + source.interval)
        if outcome == "ok":
            fields.update(
                etag=result.etag[:500],
                last_modified=result.last_modified[:100],
                last_text=source.last_text,
            )
    elif outcome in fetch.NOT_TRIED:
        wait = dt.timedelta(seconds=result.retry_after or 0) or fetch.NOT_TRIED_WAIT
        fields["next_fetch_at"] = now + wait
    else:
        failures = source.consecutive_failures + 1
        wait = min(MAX_BACKOFF, source.interval * 2 ** min(failures, 16))
        if result.retry_after is not None:
            wait = max(wait, dt.timedelta(seconds=result.retry_after))
        fields.update(consecutive_failures=F("consecutive_failures") + 1, next_fetch_at=now + wait)
    WatchedSource.objects.filter(pk=source.pk).update(**fields)


def tally(outcome: str) -> None:
    """Count one fetch (for /metrics); a row per outcome, added to in the database so
    that every worker's fetches are counted."""
    if not FetchTally.objects.filter(outcome=outcome).update(count=F("count") + 1):
        FetchTally.objects.get_or_create(outcome=outcome)
        FetchTally.objects.filter(outcome=outcome).update(count=F("count") + 1)
