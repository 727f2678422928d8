"""Every write of the intake: items and their findings, and staff decisions on them."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from commitments import services as record
from commitments.models import Commitment, LogEntry, Milestone

from .matching import Match, Matcher
from .models import Finding, Item, Keyword, Suggestion, WatchedSource
from .parsing import Candidate
from .selectors import ranked_suggestions


def address_key(address: str) -> str:
    return hashlib.sha256(address.strip().encode()).hexdigest()


def content_hash(title: str, text: str) -> str:
    """The same words, however spaced or capitalised, hash alike."""
    normal = " ".join(f"{title}\n{text}".lower().split())
    return hashlib.sha256(normal.encode()).hexdigest()


@dataclass
class Ingested:
    candidate: Candidate
    finding: Finding
    created: bool
    # What the finding suggests, best first: from the matcher for a new finding and
    # from its stored rows otherwise.
    suggestions: list[Match]


def stored_suggestions(finding: Finding) -> list[Match]:
    return [
        Match(
            commitment_id=s.commitment_id,
            agreement=s.commitment.agreement.slug,
            commitment=s.commitment.key,
            title=s.commitment.title,
            score=s.score,
            sentences=s.sentences,
            terms=s.terms,
        )
        for s in finding.suggestions.all()
    ]


BATCH = 500


def items_ingest(
    candidates: Iterable[Candidate],
    *,
    source: WatchedSource | None,
    matcher: Matcher,
    now: dt.datetime | None = None,
) -> list[Ingested]:
    """A finding for each candidate not seen before (by address or by content), with
    its ranked suggestions; a candidate seen before gives back the existing finding.
    Safe to run twice and concurrently: the unique keys decide. What exists is looked
    up a batch at a time (three queries per 500 candidates)."""
    now = now or timezone.now()
    agreement_ids = None
    if source is not None and source.pk:
        agreement_ids = [a.pk for a in source.agreements.all()] or None
    pending = list(candidates)
    out = []
    for start in range(0, len(pending), BATCH):
        rows = [
            (c, address_key(c.address), content_hash(c.title, c.text))
            for c in pending[start : start + BATCH]
        ]
        known = _known([k for _, k, _ in rows], [d for _, _, d in rows])
        for candidate, key, digest in rows:
            existing = known.get(key) or known.get(digest)
            if existing is None:
                matches = matcher.match(
                    candidate.title, candidate.text, agreement_ids=agreement_ids
                )
                created = _create(candidate, key, digest, source, matches, now)
                if created is not None:
                    known[key] = known[digest] = created
                    out.append(Ingested(candidate, created, True, matches))
                    continue
                again = _known([key], [digest])  # stored by another worker meanwhile
                existing = again.get(key) or again.get(digest)
                assert existing is not None
            out.append(Ingested(candidate, existing, False, stored_suggestions(existing)))
    return out


def _known(keys: list[str], digests: list[str]) -> dict[str, Finding]:
    found: dict[str, Finding] = {}
    for finding in (
        Finding.objects.filter(Q(item__key__in=keys) | Q(item__content_hash__in=digests))
        .select_related("item")
        .prefetch_related(ranked_suggestions())
        .order_by("id")
    ):
        found.setdefault(finding.item.key, finding)
        found.setdefault(finding.item.content_hash, finding)
    return found


def _create(
    candidate: Candidate,
    key: str,
    digest: str,
    source: WatchedSource | None,
    matches: list[Match],
    now: dt.datetime,
) -> Finding | None:
    try:
        with transaction.atomic():
            item = Item.objects.create(
                source=source,
                address=candidate.address[:1000],
                key=key,
                content_hash=digest,
                title=candidate.title[:500],
                published_at=candidate.published,
                text=candidate.text,
                created_at=now,
            )
            finding = Finding.objects.create(
                item=item, top_score=matches[0].score if matches else 0.0, created_at=now
            )
            Suggestion.objects.bulk_create(
                Suggestion(
                    finding=finding,
                    commitment_id=m.commitment_id,
                    rank=rank,
                    score=m.score,
                    sentences=m.sentences,
                    terms=m.terms,
                )
                for rank, m in enumerate(matches, start=1)
            )
    except IntegrityError:
        return None  # another worker stored the same item first
    return finding


# --- Staff decisions -----------------------------------------------------------------


class DecisionError(Exception):
    pass


def _decide(finding: Finding, state: str, by: User | None, **fields: object) -> Finding:
    """Only a pending finding is decided (a conditional update: two editors deciding
    at once, the second is told)."""
    now = timezone.now()
    updated = Finding.objects.filter(pk=finding.pk, state=Finding.State.PENDING).update(
        state=state, decided_by=by, decided_at=now, **fields
    )
    if updated != 1:
        raise DecisionError(f"“{finding}” was already decided")
    finding.refresh_from_db()
    return finding


@transaction.atomic
def finding_log(
    *,
    finding: Finding,
    by: User,
    on: dt.date,
    kind: str,
    text: str,
    source_address: str,
    source_passage: str,
    commitment: Commitment | None = None,
    milestone: Milestone | None = None,
) -> LogEntry:
    """Log a finding: a new sourced log entry (through the record's service), and the
    finding marked logged with it. Nothing else changes."""
    entry = record.logentry_create(
        by=by,
        on=on,
        kind=kind,
        text=text,
        source_address=source_address,
        source_kind="quote",
        source_passage=source_passage,
        commitment=None if milestone is not None else commitment,
        milestone=milestone,
    )
    _decide(finding, Finding.State.LOGGED, by, log_entry=entry)
    return entry


@transaction.atomic
def findings_dismiss(
    *,
    findings: Iterable[Finding],
    by: User | None,
    reason: str,
    negative_keyword: str = "",
) -> int:
    """Mark findings not relevant, with the reason; with ``negative_keyword``, the
    phrase becomes a negative keyword of the agreements they were matched to, so that
    the next item saying it scores lower there."""
    done = 0
    agreement_ids: set[int] = set()
    for finding in findings:
        try:
            _decide(finding, Finding.State.NOT_RELEVANT, by, reason=reason)
        except DecisionError:
            continue
        done += 1
        agreement_ids |= set(finding.suggestions.values_list("commitment__agreement_id", flat=True))
    phrase = " ".join(negative_keyword.split())
    if phrase:
        for agreement_id in sorted(agreement_ids):
            Keyword.objects.get_or_create(
                agreement_id=agreement_id,
                commitment=None,
                phrase=phrase,
                negative=True,
                defaults={"note": f"from a “not relevant” reason: {reason}"[:300]},
            )
    return done


def finding_mark_duplicate(*, finding: Finding, of: Finding | None, by: User | None) -> Finding:
    if of is not None and of.pk == finding.pk:
        raise DecisionError("a finding cannot duplicate itself")
    return _decide(finding, Finding.State.DUPLICATE, by, duplicate_of=of)
