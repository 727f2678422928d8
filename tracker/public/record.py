"""What a public page judges: the moment (now, or the end of an "as of" day), and the
milestones loaded with their state at that moment, in a constant number of queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

from django.db.models import Max, Prefetch, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from commitments import deadlines
from commitments.deadlines import Anchor, RuleKind
from commitments.models import Agreement, LogEntry, Milestone, MilestonePart
from commitments.selectors import (
    AsOfError,
    MilestoneState,
    end_of_day,
    milestone_state_now,
    milestone_states_as_of,
    parse_as_of,
)

BadAsOf = AsOfError


@dataclass(frozen=True)
class Moment:
    """Now, or the end of ``as_of`` in each agreement's zone."""

    now: dt.datetime
    as_of: dt.date | None = None

    def at(self, time_zone: str) -> dt.datetime:
        return end_of_day(self.as_of, time_zone) if self.as_of else self.now

    def today(self, time_zone: str) -> dt.date:
        return self.as_of or deadlines.local_today(self.now, time_zone)

    @property
    def query(self) -> str:
        """What links carry so that a reader stays on the same day."""
        return f"?as_of={self.as_of.isoformat()}" if self.as_of else ""


def moment_of(request: HttpRequest) -> Moment:
    now = timezone.now()
    return Moment(now=now, as_of=parse_as_of(request.GET.get("as_of"), now))


def milestones() -> QuerySet[Milestone]:
    """Milestones with what their page, their state and their rule need."""
    return Milestone.objects.select_related(
        "commitment__agreement", "rule_anchor_milestone"
    ).prefetch_related(Prefetch("parts", queryset=MilestonePart.objects.select_related("party")))


def _days(n: int) -> str:
    return f"{n} day{'s' if n != 1 else ''}"


def verdict(row: Row | Brief) -> tuple[str, str]:
    """(class, words) for one milestone at the page's moment."""
    s = row.s
    if s.status == "completed" and s.days_late is not None:
        if s.days_late == 0:
            return "ok", "completed on time"
        return "late", f"completed {_days(s.days_late)} late"
    if s.status == "completed":
        return "ok", "completed"
    if s.overdue:
        return "overdue", f"overdue {_days(s.days_overdue)}"
    if s.status == "cancelled":
        return "muted", "cancelled"
    if s.due_on is None:
        return "muted", "no dated deadline"
    return "due", f"due {s.due_on.isoformat()}"


@dataclass
class Row:
    """A milestone beside its state at the page's moment."""

    m: Milestone
    s: MilestoneState
    anchor_state: MilestoneState | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @cached_property
    def verdict(self) -> tuple[str, str]:
        return verdict(self)

    @cached_property
    def parts(self) -> list[dict[str, str]]:
        """Each party's part at the page's moment (parts prefetched with their party)."""
        return [
            {
                "party": p.party.name,
                "responsible": p.responsible,
                "amount": p.amount,
                "status": self.s.parts.get(p.party_id, p.status),
            }
            for p in self.m.parts.all()
        ]

    @property
    def rule_sentence(self) -> str:
        return rule_sentence(self.m, self.anchor_state)

    @property
    def overdue_since_text(self) -> str:
        return moment_text(self.s.overdue_from, self.m.commitment.agreement.time_zone)


def rows_for(ms: list[Milestone], moment: Moment) -> list[Row]:
    """Every milestone with its state: two more queries for a past day, none for now."""
    if moment.as_of:
        states = milestone_states_as_of(ms, moment.as_of)
    else:
        states = {m.pk: milestone_state_now(m, moment.at(m.time_zone())) for m in ms}
    return [Row(m, states[m.pk], states.get(m.rule_anchor_milestone_id or 0)) for m in ms]


@dataclass(frozen=True)
class Brief:
    """A milestone in brief with its state at the page's moment: what counting, the
    deadline days and the timeline need, for every milestone of an agreement."""

    pk: int
    commitment_id: int
    title: str
    rule_kind: str
    rule_rrule: str
    s: MilestoneState

    @classmethod
    def of(cls, row: Row) -> Brief:
        m = row.m
        return cls(m.pk, m.commitment_id, m.title, m.rule_kind, m.rule_rrule, row.s)

    @cached_property
    def verdict(self) -> tuple[str, str]:
        return verdict(self)


BRIEF_FIELDS = ("id", "commitment_id", "title", "rule_kind", "rule_rrule")
LIVE_FIELDS = ("status", "completed_on", "due_on", "overdue_from")


def briefs_for(
    moment: Moment, time_zone: str, **where: object
) -> tuple[list[Brief], dict[int, Row]]:
    """Every milestone matching ``where`` in brief, in their order (due date, id), and
    the full rows that were loaded on the way (by id).

    Today: one query of plain values, no model instances and no parts (1,000
    milestones in a few ms; instances with their parts cost ten times that); the
    state is the row's own, as ``milestone_state_now`` reads it, without the parts.
    A past day: the full rows, whose states are rebuilt from history (four queries),
    returned for reuse. Either way the query count does not grow with the rows."""
    if moment.as_of:
        rows = rows_for(list(milestones().filter(**where)), moment)
        return [Brief.of(r) for r in rows], {r.m.pk: r for r in rows}
    at = moment.at(time_zone)
    out = []
    found = Milestone.objects.filter(**where).values_list(*BRIEF_FIELDS, *LIVE_FIELDS)
    for pk, commitment_id, title, kind, rrule, status, completed_on, due_on, overdue in found:
        state = MilestoneState(pk, at, status, completed_on, due_on, overdue, parts={})
        out.append(Brief(pk, commitment_id, title, kind, rrule, state))
    return out, {}


def full_rows(ids: list[int], moment: Moment, loaded: dict[int, Row]) -> list[Row]:
    """The full rows (parts, rule, anchor) of the milestones a page lists, in the
    order of ``ids``: from ``loaded`` when a past day loaded them already, else two
    queries (the milestones, their parts)."""
    missing = [pk for pk in ids if pk not in loaded]
    if missing:
        found = rows_for(list(milestones().filter(pk__in=missing)), moment)
        loaded = {**loaded, **{r.m.pk: r for r in found}}
    return [loaded[pk] for pk in ids]


def rule_sentence(m: Milestone, anchor: MilestoneState | None = None) -> str:
    """The rule in words with the date it counts from: "180 days after signature on
    2025-10-28 in Tokyo"."""
    agreement = m.commitment.agreement
    where = agreement.signed_at or agreement.time_zone
    signed = f"signature on {agreement.signed_on.isoformat()} in {where}"
    rule = m.rule
    if rule.kind in (RuleKind.DAYS_AFTER, RuleKind.MONTHS_AFTER):
        if rule.anchor == Anchor.SIGNATURE:
            return rule.describe().replace("signature", signed)
        done = anchor.completed_on if anchor and anchor.status == "completed" else None
        counted = (
            f"completed on {done.isoformat()}" if done else "not completed yet, so no date yet"
        )
        return f"{rule.describe()} ({counted})"
    if rule.kind == RuleKind.RECURRING:
        return f"Recurring ({rule.rrule}), counted from {signed}"
    if rule.kind == RuleKind.FIXED and rule.fixed_date:
        return f"By {rule.fixed_date.isoformat()}, a date the text gives"
    return "No deadline: the text gives no date"


def moment_text(instant: dt.datetime | None, time_zone: str) -> str:
    """An instant in the agreement's zone, named: "2026-04-27 00:00 JST (Asia/Tokyo)"."""
    return deadlines.zone_label(instant, time_zone) if instant else ""


def last_checked(agreement_ids: list[int], as_of: dt.date | None) -> dict[int, dt.date]:
    """The last day anyone logged anything about each agreement (its own log, its
    commitments' and its milestones'): one query."""
    entries = LogEntry.objects.all()
    if as_of:
        entries = entries.filter(on__lte=as_of)
    found: dict[int, dt.date] = {}
    rows = (
        entries.filter(
            Q(agreement_id__in=agreement_ids)
            | Q(commitment__agreement_id__in=agreement_ids)
            | Q(milestone__commitment__agreement_id__in=agreement_ids)
        )
        .values("agreement_id", "commitment__agreement_id", "milestone__commitment__agreement_id")
        .annotate(last=Max("on"))
    )
    for row in rows:
        key = (
            row["agreement_id"]
            or row["commitment__agreement_id"]
            or row["milestone__commitment__agreement_id"]
        )
        if key not in found or row["last"] > found[key]:
            found[key] = row["last"]
    return found


def agreements() -> QuerySet[Agreement]:
    return Agreement.objects.prefetch_related("parties")
