"""The weekly link check: every cited address asked again, with a conditional GET
when the last answer gave a validator. Records whether it still answers and whether
each quoted passage cited with it is still in its text (tracker.archive.text). Nothing
in the record changes: staff see the result in "needs attention", readers on the
page beside the archived copy."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from commitments.models import LogEntry, Source, SourceKind
from tracker import fetch
from tracker.public.citations import web_address

from . import services, text
from .models import LinkCheck

log = logging.getLogger(__name__)

# Outcomes that say nothing about the page (robots.txt, the host's backoff): the last
# answer stands. too_large: it answers, and is too big to read for the passages.
UNKNOWN = ("robots", "busy", "backoff")
ANSWERS = ("ok", "not_modified", "too_large")
# A run's share of the task's time limit (CELERY_TASK_SOFT_TIME_LIMIT, 240 s).
BUDGET_SECONDS = 150.0


@dataclass
class Run:
    checks: list[LinkCheck] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)


def quoted_passages() -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    sources = Source.objects.filter(kind=SourceKind.QUOTE).exclude(passage="")
    for address, passage in sources.values_list("reference", "passage"):
        found[address.strip()].append(passage)
    entries = LogEntry.objects.filter(source_kind=SourceKind.QUOTE).exclude(source_passage="")
    for address, passage in entries.values_list("source_address", "source_passage"):
        found[address.strip()].append(passage)
    return found


def check_due(now: dt.datetime | None = None, budget_seconds: float = BUDGET_SECONDS) -> Run:
    """The cited addresses not checked for TRACKER_LINK_CHECK_INTERVAL, never-checked
    and oldest first, for at most ``budget_seconds`` (beat runs this hourly: each
    address is checked once a week, and no run comes near the task's time limit)."""
    now = now or timezone.now()
    last = dict(LinkCheck.objects.values_list("address", "checked_at"))
    since = now - dt.timedelta(seconds=settings.TRACKER_LINK_CHECK_INTERVAL)
    due = [a for a in services.cited_addresses() if last.get(a) is None or last[a] <= since]
    due.sort(key=lambda a: (a in last, last.get(a) or now))
    return check_all(now, addresses=due, budget_seconds=budget_seconds)


def check_all(
    now: dt.datetime | None = None,
    addresses: list[str] | None = None,
    budget_seconds: float | None = None,
) -> Run:
    now = now or timezone.now()
    passages = quoted_passages()
    run = Run()
    started = time.monotonic()
    for address in addresses if addresses is not None else services.cited_addresses():
        try:
            check = check_address(address, passages.get(address, []), now=now)
        except SoftTimeLimitExceeded:
            raise
        except Exception:  # one page's bug must not stop the others
            log.exception("link check: %s could not be checked", address)
            run.outcomes["error"] += 1
            continue
        run.checks.append(check)
        run.outcomes[check.outcome] += 1
        if budget_seconds is not None and time.monotonic() - started > budget_seconds:
            break  # the rest at the next run
    return run


def check_address(address: str, passages: list[str], *, now: dt.datetime) -> LinkCheck:
    address = web_address(address)
    check = LinkCheck.objects.filter(address=address).first() or LinkCheck(address=address)
    result = fetch.fetch(address, etag=check.etag, last_modified=check.last_modified)
    check.checked_at, check.outcome, check.status = now, result.outcome, result.status
    check.error = result.error[:2000]
    if result.outcome not in UNKNOWN:
        check.answers = result.outcome in ANSWERS
    if result.ok:
        check.etag, check.last_modified = result.etag[:500], result.last_modified[:100]
        words = text.page_words(result.body, result.content_type, result.charset)
        if words is not None:
            gone = [p for p in passages if text.normalise(p) not in words]
            check.passages = len(passages)
            check.missing = " ".join(dict.fromkeys(text.passage_key(p) for p in gone))
    elif check.answers is False:
        # Gone: the validators of a page that is no more would only confuse the next ask.
        check.etag, check.last_modified = "", ""
    check.save()
    return check
