"""Who hears about an event: the rule, in one place. The dispatcher asks it when it
turns an event into alerts, and delivery asks it again just before sending, so that
an opt-out or a subscription switched off in the meantime is obeyed.

Recipients of an event on milestone M:
  the owner of M (or of its commitment), for due-soon, overdue and completed news,
  + every active, confirmed subscription covering M that wants that kind (one to a
    recurring obligation covers each of its occurrences),
  + every active webhook endpoint covering M's agreement that wants that kind (due-soon
    at the default lead times, 30, 7 and 1 days, as for owners),
  - addresses that opted out of everything, and subscriptions opted out of,
  and nothing at all for an archived milestone (or one of an archived commitment or
  agreement).

A due-soon event ``due_N`` reaches a recipient whose nearest lead time reached when
the event was written is N (so one reminder per lead time, as the days go by).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Lower

from commitments import deadlines
from commitments.models import Milestone

from ..models import (
    DEFAULT_LEAD_DAYS,
    KNOWN_KINDS,
    LEAD_DAYS_MAX,
    LEAD_DAYS_MIN,
    AlertEvent,
    Channel,
    LeadTimes,
    OptOut,
    Subscription,
    WebhookEndpoint,
)

log = logging.getLogger(__name__)
OWNER_KINDS = frozenset({"due_soon", "overdue", "completed"})


def lead_days_problem(value: object) -> str:
    """Why ``value`` is not a list of lead times (whole days, 1 to 366), or ""."""
    if not isinstance(value, list):
        return f"lead days {value!r} is not a list"
    for day in value:
        if isinstance(day, bool) or not isinstance(day, int):
            return f"lead day {day!r} is not a whole number"
        if not LEAD_DAYS_MIN <= day <= LEAD_DAYS_MAX:
            return f"lead day {day} is not between {LEAD_DAYS_MIN} and {LEAD_DAYS_MAX}"
    return ""


def kinds_problem(value: object) -> str:
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        return f"kinds {value!r} is not a list of names"
    unknown = sorted(set(value) - set(KNOWN_KINDS))
    return f"unknown kind(s) {', '.join(unknown)}" if unknown else ""


@dataclass(frozen=True)
class Recipient:
    channel: str
    address: str  # an email address, or webhook:<id>
    subscription_id: int | None = None
    endpoint_id: int | None = None


@dataclass
class Audience:
    """Subscriptions, opt-outs and endpoints, read once (a handful of rows), matched
    against events in memory: constant queries however many events. A subscription
    whose stored values are unusable is left out, and listed in ``problems``."""

    subscriptions: list[Subscription] = field(default_factory=list)
    endpoints: list[WebhookEndpoint] = field(default_factory=list)
    opted_out: set[str] = field(default_factory=set)
    silenced: set[int] = field(default_factory=set)
    problems: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(cls, addresses: Collection[str] | None = None) -> Audience:
        """Everyone; or, given ``addresses`` (lower-case emails), only the
        subscriptions and opt-outs of those addresses, for which ``recipients`` then
        answers as it would with everyone (delivery asks about one batch's
        recipients: 500 rows, not every subscription, per batch)."""
        audience = cls()
        subscriptions = listening()
        opt_outs = OptOut.objects.all()
        if addresses is not None:
            wanted = set(addresses)
            subscriptions = subscriptions.alias(
                own=Lower("email"), users=Lower("user__email")
            ).filter(Q(own__in=wanted) | Q(users__in=wanted))
        for sub in subscriptions.select_related("user"):
            if addresses is not None and sub.address not in wanted:
                continue  # its own email is another address than its user's
            problem = lead_days_problem(sub.lead_days) or kinds_problem(sub.kinds)
            if problem:
                audience.problems[sub.pk] = problem
            else:
                audience.subscriptions.append(sub)
        if addresses is not None:
            loaded = [s.pk for s in audience.subscriptions]
            opt_outs = opt_outs.alias(address=Lower("email")).filter(
                Q(address__in=wanted, subscription__isnull=True) | Q(subscription_id__in=loaded)
            )
        audience.endpoints = list(
            WebhookEndpoint.objects.filter(active=True, disabled_at__isnull=True).prefetch_related(
                "agreements"
            )
        )
        for email, sub_id in opt_outs.values_list("email", "subscription_id"):
            if sub_id is None:
                audience.opted_out.add(email.lower())
            else:
                audience.silenced.add(sub_id)
        return audience

    def recipients(self, event: AlertEvent, m: Milestone) -> list[Recipient]:
        """``m`` is the event's milestone, loaded with owner, commitment__owner and
        commitment__agreement."""
        if _archived(m):
            return []
        kind = "due_soon" if event.kind.startswith("due_") else event.kind  # due_7 → due_soon
        left = None
        if kind == "due_soon":
            left = deadlines.days_remaining(event.due_on, now=event.at, time_zone=m.time_zone())
        found: dict[str, Recipient] = {}
        owner = m.owner or m.commitment.owner
        # Owners and endpoints have no lead times of their own: the defaults (30, 7, 1).
        default_hears = kind != "due_soon" or _nearest(DEFAULT_LEAD_DAYS, left) == event.lead_days
        if owner is not None and owner.email and kind in OWNER_KINDS and default_hears:
            found[owner.email.lower()] = Recipient(Channel.EMAIL, owner.email.lower())
        for sub in self.subscriptions:
            if sub.pk in self.silenced or not sub.address or not sub.covers(m):
                continue
            if kind not in sub.kinds or sub.address in found:
                continue
            if kind == "due_soon" and _nearest(sub.lead_days, left) != event.lead_days:
                continue
            found[sub.address] = Recipient(Channel.EMAIL, sub.address, subscription_id=sub.pk)
        people = [r for a, r in found.items() if a not in self.opted_out]
        hooks = [
            Recipient(Channel.WEBHOOK, e.recipient, endpoint_id=e.pk)
            for e in self.endpoints
            if kind in e.kinds and default_hears and _endpoint_covers(e, m)
        ]
        return people + hooks


def _nearest(lead_days: list[int], left: int | None) -> int | None:
    """The nearest lead time already reached ``left`` days before the due date."""
    if left is None or left < 0:
        return None
    reached = [d for d in lead_days if d >= left]
    return min(reached) if reached else None


def _archived(m: Milestone) -> bool:
    """Of a milestone in hand; in SQL, ``commitments.models.nothing_archived``."""
    return bool(m.archived_at or m.commitment.archived_at or m.commitment.agreement.archived_at)


def _endpoint_covers(endpoint: WebhookEndpoint, m: Milestone) -> bool:
    agreements = [a.pk for a in endpoint.agreements.all()]  # prefetched
    return not agreements or m.commitment.agreement_id in agreements


def listening() -> QuerySet[Subscription]:
    """Subscriptions that hear anything: active and confirmed. (Frozen in the triggers
    that keep ``LeadTimes``: a change here needs a migration there.)"""
    return Subscription.objects.filter(active=True, pending_since__isnull=True)


def reminder_lead_days() -> tuple[set[int], list[tuple[Q, str]]]:
    """Every lead time anyone wants (the sweep writes a reminder event for each),
    read from ``LeadTimes``, the distinct values the database keeps: a handful of rows,
    however many subscribe. And the unusable values, each with the rows that hold it
    and its problem."""
    wanted, problems = set(DEFAULT_LEAD_DAYS), []
    values = LeadTimes.objects.order_by("pk").values_list("lead_days", "kinds")
    for lead_days, kinds in values:
        problem = lead_days_problem(lead_days) or kinds_problem(kinds)
        if problem:
            problems.append((Q(lead_days=lead_days, kinds=kinds), problem))
        elif "due_soon" in kinds:
            wanted.update(lead_days)
    return wanted, problems


def scope(milestones: QuerySet[Milestone]) -> QuerySet[Milestone]:
    """Narrow to milestones anyone could hear about (the sweep writes reminders for
    these only): owned, or in a subscription's or an endpoint's scope. Subqueries: the
    same statement however many subscribe."""
    subs = listening()
    hooks = WebhookEndpoint.objects.filter(active=True, disabled_at__isnull=True)
    agreement = OuterRef("commitment__agreement_id")
    return milestones.filter(
        Q(owner__isnull=False)
        | Q(commitment__owner__isnull=False)
        | Q(Exists(subs.filter(milestone=OuterRef("pk"))))
        | Q(Exists(subs.filter(milestone=OuterRef("series_id"))))
        | Q(Exists(subs.filter(commitment=OuterRef("commitment_id"))))
        | Q(Exists(subs.filter(agreement=agreement)))
        | Q(Exists(subs.filter(milestone=None, commitment=None, agreement=None)))
        | Q(Exists(hooks.filter(agreements=agreement)))
        | Q(Exists(hooks.filter(agreements=None)))
    )


def milestones_for(events: list[AlertEvent]) -> dict[int, Milestone]:
    ids = {e.milestone_id for e in events}
    return {
        m.pk: m
        for m in Milestone.objects.filter(pk__in=ids).select_related(
            "owner", "commitment__owner", "commitment__agreement"
        )
    }
