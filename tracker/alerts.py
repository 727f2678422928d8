"""Who is told what: writing Alert rows (the outbox) for milestones.

Every function here writes alerts ignoring conflicts: the unique key (milestone, kind,
recipient, due date) makes writing the same alert twice a no-op, which is what makes a
doubled sweep or a retried transaction harmless.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.db import connection
from django.db.models import Case, F, Min, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce

from commitments import deadlines
from commitments.models import Milestone, Status, StatusUpdate

from .models import DEFAULT_LEAD_DAYS, Alert, AlertKind, OptOut, Subscription

CHUNK = 2000
# Rows of the recipients table sent with one INSERT: six parameters each, well under
# SQLite's limit of 32,766 parameters per statement (PostgreSQL's is 65,535).
FAN_OUT_ROWS = 4000

# What decides a milestone's alerts: (kind, recipient) pairs for that milestone.
Decide = Callable[[Milestone], Iterable[tuple[str, str]]]


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
            if not s.covers(m):
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
        if any(s.covers_everything for s in self.subscriptions):
            return queryset
        scope = Q(owner__isnull=False) | Q(commitment__owner__isnull=False)
        for s in self.subscriptions:
            scope |= s.milestone_filter()
        return queryset.filter(scope)


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


def queue_overdue(flagged: QuerySet[Milestone], stamp: dt.datetime, audience: Audience) -> int:
    """One "overdue" alert per recipient for each milestone the sweep just flagged.
    ``stamp`` is the wall-clock time the alerts are written (and may be sent). Returns
    the number of alerts written."""

    def decide(m: Milestone) -> list[tuple[str, str]]:
        return [
            (AlertKind.OVERDUE, r.email) for r in audience.for_milestone(m) if "overdue" in r.kinds
        ]

    dated = audience.scoped(flagged).filter(due_on__isnull=False)
    return _fan_out(dated, decide, audience, stamp, by_due_date=False)


def queue_due_soon(now: dt.datetime, stamp: dt.datetime, audience: Audience) -> int:
    """For each open milestone coming due, the alert of the nearest lead time that has
    been reached (due in 3 days with leads 30/7/1: the "due_7" alert), once. Returns
    the number of alerts written."""
    max_lead = max([*DEFAULT_LEAD_DAYS, *(d for s in audience.subscriptions for d in s.lead_days)])
    today = now.date()
    # A day either side of UTC's date covers every time zone; the exact count of days
    # is taken below, in each agreement's zone.
    window = Milestone.objects.open().filter(
        due_on__gte=today - dt.timedelta(days=1),
        due_on__lte=today + dt.timedelta(days=max_lead + 1),
        overdue_since__isnull=True,
    )

    def decide(m: Milestone) -> Iterator[tuple[str, str]]:
        left = deadlines.days_remaining(m.due_on, now=now, time_zone=m.time_zone())
        if left is None or left < 0:
            return
        for r in audience.for_milestone(m):
            leads = [d for d in r.lead_days if d >= left]
            if "due_soon" in r.kinds and leads:
                yield AlertKind.due(min(leads)), r.email

    return _fan_out(audience.scoped(window), decide, audience, stamp, by_due_date=True)


def _fan_out(
    milestones: QuerySet[Milestone],
    decide: Decide,
    audience: Audience,
    stamp: dt.datetime,
    *,
    by_due_date: bool,
) -> int:
    """Write ``decide(m)``'s alerts for every milestone in ``milestones``.

    ``decide`` looks only at what a milestone shares with many others: its owner, its
    commitment (so the agreement and the commitment's owner), its due date if
    ``by_due_date``, and its own id only when a subscription names it. So it is asked
    once per group of milestones alike in those, about one of them, and the database
    writes the alerts of the whole group: the work in Python grows with the number of
    groups, not of milestones, and so does the memory."""
    keyed, key = _keyed(milestones, audience, by_due_date)
    # In order of commitment (the key's first column), so that a batch of groups
    # covers a narrow range of commitments.
    groups = (
        keyed.order_by()
        .values(*key)
        .annotate(sample=Min("pk"))
        .order_by(*key)
        .iterator(chunk_size=CHUNK)
    )
    written = 0
    for batch in _batches(groups, CHUNK):
        samples = _with_people(Milestone.objects.filter(pk__in=[g["sample"] for g in batch]))
        by_pk = {m.pk: m for m in samples}
        rows = [
            (*(g[k] for k in key), kind, email)
            for g in batch
            for kind, email in decide(by_pk[g["sample"]])
        ]
        for part in _batches(iter(rows), FAN_OUT_ROWS):
            written += _insert_fanned_out(keyed, key, part, stamp)
    return written


def _keyed(
    milestones: QuerySet[Milestone], audience: Audience, by_due_date: bool
) -> tuple[QuerySet[Milestone], list[str]]:
    """The milestones, with the columns that tell ``_fan_out``'s groups apart (never
    NULL, so that they can be joined on)."""
    named = sorted({s.milestone_id for s in audience.subscriptions if s.milestone_id})
    alone = Case(When(pk__in=named, then=F("pk")), default=Value(0)) if named else Value(0)
    keyed = milestones.annotate(group_owner=Coalesce(F("owner_id"), Value(0)), group_named=alone)
    key = ["commitment_id", "group_owner", "group_named"]
    return keyed, [*key, "due_on"] if by_due_date else key


def _insert_fanned_out(
    keyed: QuerySet[Milestone], key: list[str], rows: list[tuple[Any, ...]], stamp: dt.datetime
) -> int:
    """One INSERT … SELECT: the milestones of ``keyed`` joined on their group's key
    with ``rows`` (key, kind, recipient). Narrowed to the commitments these rows
    cover, since the groups come in order of commitment."""
    commitments = [row[0] for row in rows]
    scope = keyed.filter(
        commitment_id__gte=min(commitments), commitment_id__lte=max(commitments)
    ).order_by()
    fields = dict.fromkeys(["pk", "due_on", *key])
    select, select_params = scope.values(*fields).query.sql_with_params()
    columns = [*key, "kind", "recipient"]
    values = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(rows))
    joined = " AND ".join(f"m.{k} = r.{k}" for k in key)
    defaults = _alert_defaults()
    # The WITH goes after INSERT INTO: in front, Python's sqlite3 reports no rowcount.
    sql = (
        f"INSERT INTO {Alert._meta.db_table} (milestone_id, kind, recipient, due_on, "
        f"created_at, next_attempt_at{''.join(', ' + c for c in defaults)}) "
        f"WITH r ({', '.join(columns)}) AS (VALUES {values}) "
        f"SELECT m.pk, r.kind, r.recipient, m.due_on, %s, %s"
        f"{', %s' * len(defaults)} FROM ({select}) AS m JOIN r ON {joined} "
        # WHERE: without it SQLite would read ON CONFLICT as part of the join.
        "WHERE true ON CONFLICT DO NOTHING"
    )
    at = connection.ops.adapt_datetimefield_value(stamp)
    params = [*(_adapt(v) for row in rows for v in row), at, at, *defaults.values(), *select_params]
    with connection.cursor() as cursor, _hash_join(cursor):
        cursor.execute(sql, params)
        return cursor.rowcount


@contextmanager
def _hash_join(cursor: Any) -> Iterator[None]:
    """On PostgreSQL, join by hashing for one statement. The planner's statistics know
    nothing yet of the rows this sweep has just flagged, so it expects a handful and
    loops over them once per recipient row: 2.2 million rows read for 70,000 flagged
    and 35 recipient rows (1.2 s of 4.9 s), and far worse with thousands of groups.
    If the INSERT fails, the rollback (of the transaction or a savepoint) undoes the SET."""
    if connection.vendor != "postgresql":
        yield
        return
    cursor.execute("SET LOCAL enable_nestloop = off")
    yield
    cursor.execute("SET LOCAL enable_nestloop TO DEFAULT")


def _alert_defaults() -> dict[str, Any]:
    """Every other column of a new alert, with the model's default (attempts 0, not
    sent, not failed…), so that this INSERT cannot drift from ``Alert()``."""
    given = {"id", "milestone_id", "kind", "recipient", "due_on", "created_at", "next_attempt_at"}
    return {
        f.column: f.get_db_prep_save(f.get_default(), connection)
        for f in Alert._meta.concrete_fields
        if f.attname not in given
    }


def _adapt(value: Any) -> Any:
    return connection.ops.adapt_datefield_value(value) if isinstance(value, dt.date) else value


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while batch := list(islice(items, size)):
        yield batch


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
