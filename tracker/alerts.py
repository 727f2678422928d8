"""Who is told what: writing Alert rows (the outbox) for milestones.

Every function here writes alerts with ``ignore_conflicts``: the unique key
(milestone, kind, recipient, due date) makes writing the same alert twice a no-op,
which is what makes a doubled sweep or a retried transaction harmless.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from commitments import deadlines
from commitments.models import Milestone, Status, StatusUpdate

from .models import DEFAULT_LEAD_DAYS, Alert, AlertKind, OptOut, Subscription

CHUNK = 2000


@dataclass(frozen=True)
class Recipient:
    email: str
    kinds: frozenset[str]
    lead_days: tuple[int, ...]


class Audience:
    """Active subscriptions and opt-outs, read once per run (a handful of rows), then
    matched against milestones in memory: constant queries however many milestones."""

    def __init__(self) -> None:
        self.subscriptions = list(Subscription.objects.filter(active=True).select_related("user"))
        self.opted_out = set(OptOut.objects.values_list("email", flat=True))

    def for_milestone(self, m: Milestone) -> list[Recipient]:
        found: dict[str, Recipient] = {}
        owner = m.owner or m.commitment.owner
        if owner is not None and owner.email:
            found[owner.email.lower()] = Recipient(
                owner.email.lower(),
                frozenset({"due_soon", "overdue", "completed"}),
                tuple(DEFAULT_LEAD_DAYS),
            )
        for s in self.subscriptions:
            if not _covers(s, m):
                continue
            email = s.address
            if not email:
                continue
            prev = found.get(email)
            kinds = frozenset(s.kinds) | (prev.kinds if prev else frozenset())
            leads = tuple(sorted({*s.lead_days, *(prev.lead_days if prev else ())}))
            found[email] = Recipient(email, kinds, leads)
        return [r for e, r in found.items() if e not in self.opted_out]

    def scoped(self, queryset: QuerySet[Milestone]) -> QuerySet[Milestone]:
        """Narrow to milestones anyone could hear about: owned, or in a subscription's
        scope. Everything, if someone subscribed to everything."""
        if any(
            not (s.agreement_id or s.commitment_id or s.milestone_id) for s in self.subscriptions
        ):
            return queryset
        scope = Q(owner__isnull=False) | Q(commitment__owner__isnull=False)
        for s in self.subscriptions:
            if s.milestone_id:
                scope |= Q(pk=s.milestone_id)
            elif s.commitment_id:
                scope |= Q(commitment_id=s.commitment_id)
            elif s.agreement_id:
                scope |= Q(commitment__agreement_id=s.agreement_id)
        return queryset.filter(scope)


def _covers(s: Subscription, m: Milestone) -> bool:
    if s.milestone_id:
        return s.milestone_id == m.pk
    if s.commitment_id:
        return s.commitment_id == m.commitment_id
    if s.agreement_id:
        return s.agreement_id == m.commitment.agreement_id
    return True


def _with_people(queryset: QuerySet[Milestone]) -> Iterator[Milestone]:
    return queryset.select_related("owner", "commitment__owner", "commitment__agreement").iterator(
        chunk_size=CHUNK
    )


def _write(alerts: Iterable[Alert]) -> None:
    batch: list[Alert] = []
    for alert in alerts:
        batch.append(alert)
        if len(batch) >= CHUNK:
            Alert.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    if batch:
        Alert.objects.bulk_create(batch, ignore_conflicts=True)


def _alert(m: Milestone, kind: str, email: str, on: dt.date, now: dt.datetime) -> Alert:
    return Alert(
        milestone=m, kind=kind, recipient=email, due_on=on, created_at=now, next_attempt_at=now
    )


def queue_overdue(flagged: QuerySet[Milestone], stamp: dt.datetime, audience: Audience) -> None:
    """One "overdue" alert per recipient for each milestone the sweep just flagged.
    ``stamp`` is the wall-clock time the alerts are written (and may be sent)."""

    def rows() -> Iterator[Alert]:
        for m in _with_people(audience.scoped(flagged)):
            for r in audience.for_milestone(m):
                if "overdue" in r.kinds and m.due_on:
                    yield _alert(m, AlertKind.OVERDUE, r.email, m.due_on, stamp)

    _write(rows())


def queue_due_soon(now: dt.datetime, stamp: dt.datetime, audience: Audience) -> None:
    """For each open milestone coming due, the alert of the nearest lead time that has
    been reached (due in 3 days with leads 30/7/1: the "due_7" alert), once."""
    max_lead = max([*DEFAULT_LEAD_DAYS, *(d for s in audience.subscriptions for d in s.lead_days)])
    today = now.date()
    # A day either side of UTC's date covers every time zone; the exact count of days
    # is taken below, in each agreement's zone.
    window = Milestone.objects.open().filter(
        due_on__gte=today - dt.timedelta(days=1),
        due_on__lte=today + dt.timedelta(days=max_lead + 1),
        overdue_since__isnull=True,
    )

    def rows() -> Iterator[Alert]:
        for m in _with_people(audience.scoped(window)):
            left = deadlines.days_remaining(m.due_on, now=now, time_zone=m.time_zone())
            if left is None or left < 0:
                continue
            for r in audience.for_milestone(m):
                leads = [d for d in r.lead_days if d >= left]
                if "due_soon" in r.kinds and leads:
                    yield _alert(m, AlertKind.due(min(leads)), r.email, m.due_on, stamp)

    _write(rows())


def queue_completed(update: StatusUpdate) -> None:
    """Called by the status service, inside its transaction: a completion alerts
    everyone who follows the milestone."""
    if update.to_status != Status.COMPLETED or update.party_id or not update.completed_on:
        return
    m = Milestone.objects.select_related("owner", "commitment__owner", "commitment__agreement").get(
        pk=update.milestone_id
    )
    audience = Audience()
    _write(
        _alert(m, AlertKind.COMPLETED, r.email, update.completed_on, update.at)
        for r in audience.for_milestone(m)
        if "completed" in r.kinds
    )
