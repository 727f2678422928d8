"""Reads that more than one caller needs: derived progress, computed in the database,
and the record as it stood at the end of any past day."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import (
    Case,
    Count,
    F,
    Min,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
    prefetch_related_objects,
)
from django.utils.translation import gettext as _

from . import deadlines
from .deadlines import Anchor, RuleKind
from .models import (
    CLOSED_STATUSES,
    Agreement,
    Assessment,
    Commitment,
    CommitmentQuerySet,
    DeadlineRevision,
    Milestone,
    MilestonePart,
    MilestoneQuerySet,
    Status,
    StatusUpdate,
    is_overdue,
)

PROGRESS_KEYS = (
    "total",
    *Status.values,
    "overdue",
    "next_deadline",
)


def progress_aggregates(now: dt.datetime, prefix: str = "") -> dict[str, Any]:
    """Aggregate expressions for a set of milestones reached through ``prefix`` (e.g.
    ``"commitments__milestones__"`` from an agreement). Use with ``annotate`` (one row
    per parent) or ``aggregate`` (one total). A recurring obligation counts through
    its occurrences, each a deadline met or missed; the series itself is not counted
    (``progress_from_states`` alike)."""
    p = prefix
    counted = ~Q(**{f"{p}rule_kind": RuleKind.RECURRING})
    open_ = ~Q(**{f"{p}status__in": CLOSED_STATUSES})
    exprs: dict[str, Any] = {"progress_total": Count(f"{p}id", filter=counted, distinct=True)}
    for status in Status.values:
        exprs[f"progress_{status}"] = Count(
            f"{p}id", filter=Q(**{f"{p}status": status}) & counted, distinct=True
        )
    exprs["progress_overdue"] = Count(
        f"{p}id", filter=Q(**{f"{p}overdue_from__lte": now}) & open_, distinct=True
    )
    exprs["progress_next_deadline"] = Min(
        f"{p}due_on", filter=Q(**{f"{p}overdue_from__gt": now}) & open_
    )
    return exprs


def progress_of(obj: Any) -> dict[str, Any]:
    """The progress document of an object annotated with ``progress_aggregates``."""
    data = {key: getattr(obj, f"progress_{key}") for key in PROGRESS_KEYS}
    counted = data["total"] - data[Status.CANCELLED]
    data["percent_complete"] = round(100 * data[Status.COMPLETED] / counted, 1) if counted else 0.0
    return data


def agreements_with_progress(now: dt.datetime) -> QuerySet[Agreement]:
    return Agreement.objects.annotate(**progress_aggregates(now, "commitments__milestones__"))


def commitments_with_progress(now: dt.datetime) -> CommitmentQuerySet:
    return Commitment.objects.annotate(**progress_aggregates(now, "milestones__"))


def derived_status(progress: dict[str, Any]) -> str:
    """A commitment's status from its milestones' progress, worst news first."""
    if not progress["total"]:
        return "no_milestones"
    if progress["overdue"]:
        return "overdue"
    if progress[Status.AT_RISK]:
        return Status.AT_RISK
    if progress[Status.COMPLETED] + progress[Status.CANCELLED] == progress["total"]:
        return Status.COMPLETED
    if progress[Status.IN_PROGRESS] or progress[Status.COMPLETED]:
        return Status.IN_PROGRESS
    return Status.NOT_STARTED


def derived_status_expression() -> Case:
    """``derived_status`` in SQL, over the progress annotations (for filtering; a test
    holds the two against each other)."""
    return Case(
        When(progress_total=0, then=Value("no_milestones")),
        When(progress_overdue__gt=0, then=Value("overdue")),
        When(progress_at_risk__gt=0, then=Value(Status.AT_RISK.value)),
        When(
            progress_total=F("progress_completed") + F("progress_cancelled"),
            then=Value(Status.COMPLETED.value),
        ),
        When(
            Q(progress_in_progress__gt=0) | Q(progress_completed__gt=0),
            then=Value(Status.IN_PROGRESS.value),
        ),
        default=Value(Status.NOT_STARTED.value),
    )


# --- What needs attention (the admin's index and filters) ------------------------------

UNCHECKED_DAYS = 90


def milestones_due_within(now: dt.datetime, days: int) -> QuerySet[Milestone]:
    """Open, current milestones due in the next ``days`` days, the days counted in each
    agreement's own zone (today in Tokyo is not today in Washington). One query; the
    zones in use are read first (one more, small)."""
    zones = Agreement.objects.values_list("time_zone", flat=True).distinct().order_by()
    in_window = Q(pk__in=[])
    for zone in zones:
        today = deadlines.local_today(now, zone)
        in_window |= Q(
            commitment__agreement__time_zone=zone,
            due_on__gte=today,
            due_on__lte=today + dt.timedelta(days=days),
        )
    return Milestone.objects.open().filter(in_window, archived_at__isnull=True)


def not_checked_since(
    queryset: CommitmentQuerySet | MilestoneQuerySet, now: dt.datetime
) -> QuerySet[Any]:
    """Current commitments or milestones whose last check (``with_last_checked``: for a
    commitment, its milestones' entries count too) is older than ``UNCHECKED_DAYS``
    days (UTC dates), or that were never checked."""
    cutoff = now.date() - dt.timedelta(days=UNCHECKED_DAYS)
    return queryset.with_last_checked().filter(
        Q(last_checked_on__isnull=True) | Q(last_checked_on__lt=cutoff), archived_at__isnull=True
    )


def without_japanese(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """Current records (commitments, milestones) with no Japanese title: the pages show
    their English one, marked (commitments/translation.py)."""
    return queryset.filter(Q(title_ja__isnull=True) | Q(title_ja=""), archived_at__isnull=True)


# --- The record as it stood ("as of") -------------------------------------------------
#
# The state of each milestone at the end of a given day in its agreement's zone,
# rebuilt from history: StatusUpdate rows (every status change, by the services, with
# the completion date they set) and DeadlineRevision rows (a rule changed). The live
# state is produced by the same function (``milestone_state_now``), so that a page
# draws one kind of object whether it shows today or a past day.


@dataclass(frozen=True)
class MilestoneState:
    """What the record said about a milestone at ``at`` (an instant, UTC)."""

    milestone_id: int
    at: dt.datetime
    status: str
    completed_on: dt.date | None
    due_on: dt.date | None
    overdue_from: dt.datetime | None
    parts: dict[int, str]  # party id -> status of that party's part
    # A recurring obligation: never due itself, counted through its occurrences.
    is_series: bool = False

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    @property
    def overdue(self) -> bool:
        return is_overdue(self.overdue_from, self.status, self.at)

    @property
    def days_overdue(self) -> int:
        """Whole days since the deadline passed (1 on the first day overdue)."""
        if not self.overdue:
            return 0
        assert self.overdue_from is not None
        return (self.at - self.overdue_from).days + 1

    @property
    def days_late(self) -> int | None:
        """For a completed milestone: days after its due date (0 = on time)."""
        if self.status != Status.COMPLETED or not (self.completed_on and self.due_on):
            return None
        return max(0, (self.completed_on - self.due_on).days)


@dataclass(frozen=True)
class CommitmentState:
    commitment_id: int
    assessment: str
    assessed_on: dt.date | None
    # False when the assessment shown is today's, dated on or before the day asked
    # for: there is no history of assessments yet (see ``assessment_as_of``).
    assessment_from_history: bool
    note: str = ""
    evidence_url: str = ""


def end_of_day(day: dt.date, time_zone: str) -> dt.datetime:
    """The last instant of ``day`` in ``time_zone``, in UTC (one microsecond before the
    next local midnight): the moment an "as of" page judges."""
    return deadlines.overdue_at(day, time_zone) - dt.timedelta(microseconds=1)


def milestone_state_now(m: Milestone, now: dt.datetime) -> MilestoneState:
    """The live state, read from the row (parts from a prefetched ``parts``)."""
    return MilestoneState(
        milestone_id=m.pk,
        at=now,
        status=m.status,
        completed_on=m.completed_on,
        due_on=m.due_on,
        overdue_from=m.overdue_from,
        parts={p.party_id: p.status for p in m.parts.all()},
        is_series=m.is_series,
    )


def milestone_states_as_of(
    milestones: Iterable[Milestone], day: dt.date
) -> dict[int, MilestoneState]:
    """The state of each milestone at the end of ``day`` in its agreement's zone.

    ``milestones`` need ``commitment__agreement``, ``rule_anchor_milestone`` and
    ``parts`` loaded. Two queries whatever their number (history and revisions)."""
    ms = list(milestones)
    ids = [m.pk for m in ms]
    history: dict[int, list[StatusUpdate]] = defaultdict(list)
    for u in StatusUpdate.objects.filter(
        milestone_id__in=ids, kind=StatusUpdate.Kind.STATUS
    ).order_by("at", "id"):
        history[u.milestone_id].append(u)
    revisions: dict[int, list[DeadlineRevision]] = defaultdict(list)
    for r in DeadlineRevision.objects.filter(milestone_id__in=ids).order_by("at", "id"):
        revisions[r.milestone_id].append(r)

    by_id = {m.pk: m for m in ms}
    states: dict[int, MilestoneState] = {}

    def state(m: Milestone) -> MilestoneState:
        if m.pk not in states:
            states[m.pk] = _rebuild(m, day, history[m.pk], revisions[m.pk], by_id, state)
        return states[m.pk]

    for m in ms:
        state(m)
    return states


def _rebuild(
    m: Milestone,
    day: dt.date,
    updates: list[StatusUpdate],
    revisions: list[DeadlineRevision],
    by_id: dict[int, Milestone],
    state: Callable[[Milestone], MilestoneState],
) -> MilestoneState:
    agreement = m.commitment.agreement
    at = end_of_day(day, agreement.time_zone)
    status, completed_on = _status_at(m, at, [u for u in updates if u.party_id is None])
    parts = {p.party_id: _part_status_at(m, p, at, status, updates) for p in m.parts.all()}
    due_on = _due_on_at(m, at, revisions, by_id, state)
    return MilestoneState(
        milestone_id=m.pk,
        at=at,
        status=status,
        completed_on=completed_on,
        due_on=due_on,
        overdue_from=deadlines.overdue_at(due_on, agreement.time_zone),
        parts=parts,
        is_series=m.is_series,
    )


def _status_at(
    row: Milestone | MilestonePart, at: dt.datetime, updates: list[StatusUpdate]
) -> tuple[str, dt.date | None]:
    """The status (and completion date) after the last change made before ``at``; with
    none, the status the first later change started from; with no change at all, the
    row's own."""
    before = [u for u in updates if u.at <= at]
    if before:
        last = before[-1]
        return last.to_status, last.completed_on
    if updates:
        return updates[0].from_status, None
    return row.status, row.completed_on


def _part_status_at(
    m: Milestone, part: MilestonePart, at: dt.datetime, status: str, updates: list[StatusUpdate]
) -> str:
    """A party's part. Completing the whole milestone completes the open parts without
    a history row of their own (services.milestone_set_status), so a part with no
    history that is completed now, while the milestone was not yet at ``at``, was
    completed by that later cascade: before it, it was not started."""
    own = [u for u in updates if u.party_id == part.party_id]
    if own:
        return _status_at(part, at, own)[0]
    if status == Status.COMPLETED and part.status not in CLOSED_STATUSES:
        return Status.COMPLETED
    if part.status == Status.COMPLETED and m.status == Status.COMPLETED:
        return Status.COMPLETED if status == Status.COMPLETED else Status.NOT_STARTED
    return part.status


def _due_on_at(
    m: Milestone,
    at: dt.datetime,
    revisions: list[DeadlineRevision],
    by_id: dict[int, Milestone],
    state: Callable[[Milestone], MilestoneState],
) -> dt.date | None:
    """The due date the services gave at ``at``. A rule revised later: the due date the
    first later revision replaced (its ``old_due_on``). Otherwise the current rule,
    fed the anchor as it stood (the anchor milestone's completion), exactly as
    ``services.refresh_deadlines`` does."""
    later = [r for r in revisions if r.at > at]
    if later:
        return later[0].old_due_on
    anchor_done = None
    if m.rule_anchor == Anchor.MILESTONE and m.rule_anchor_milestone_id in by_id:
        anchor = state(by_id[m.rule_anchor_milestone_id])
        anchor_done = anchor.completed_on if anchor.status == Status.COMPLETED else None
    return deadlines.due_date(
        m.rule, signed_on=m.commitment.agreement.signed_on, anchor_completed_on=anchor_done
    )


def assessment_as_of(c: Commitment, day: dt.date | None) -> CommitmentState:
    """A commitment's assessment on ``day`` (None: today).

    There is no history of assessments yet: a commitment holds only its current
    assessment and the date it was made (``assessed_on``). So the assessment shown
    for a past day is today's if it was dated on or before that day, and "not yet
    rated" otherwise; an earlier assessment that was since replaced cannot be shown.
    ``assessment_from_history`` is False to say so on the page."""
    if day is None or (c.assessed_on is not None and c.assessed_on <= day):
        return CommitmentState(
            c.pk,
            c.assessment,
            c.assessed_on,
            day is None,
            c.assessment_note,
            c.assessment_evidence_url,
        )
    return CommitmentState(c.pk, Assessment.NOT_YET_RATED, None, False)


def progress_from_states(states: Iterable[MilestoneState]) -> dict[str, Any]:
    """The progress document (as ``progress_of``) counted from milestone states, for a
    past day or for rows already in memory."""
    data: dict[str, Any] = {key: 0 for key in PROGRESS_KEYS}
    upcoming = []
    for s in states:
        if s.is_series:
            continue
        data["total"] += 1
        data[s.status] += 1
        if s.overdue:
            data["overdue"] += 1
        elif not s.is_closed and s.due_on is not None:
            upcoming.append(s.due_on)
    data["next_deadline"] = min(upcoming, default=None)
    counted = data["total"] - data[Status.CANCELLED]
    data["percent_complete"] = round(100 * data[Status.COMPLETED] / counted, 1) if counted else 0.0
    return data


class Outcome(models.TextChoices):
    """What became of one occurrence of a recurring obligation, at a moment."""

    MET = "met"
    MISSED = "missed"
    CANCELLED = "cancelled"
    NEXT_DUE = "next_due"
    AHEAD = "ahead"  # open, not yet past its date, and not the next one due


def _counted(s: MilestoneState) -> str:
    """An occurrence as a series counts it: met, cancelled, missed, or ahead."""
    if s.status == Status.COMPLETED:
        return Outcome.MET
    if s.status == Status.CANCELLED:
        return Outcome.CANCELLED
    return Outcome.MISSED if s.overdue else Outcome.AHEAD


@dataclass(frozen=True)
class SeriesSummary:
    """A recurring obligation at a moment, counted from its occurrences' states: met
    (completed, some late), missed (past their date and still open), cancelled, and
    the next one due. The one rule for the pages, the badge and the API."""

    met: int = 0
    late: int = 0
    missed: int = 0
    cancelled: int = 0
    next_due: dt.date | None = None

    @classmethod
    def of(cls, states: Iterable[MilestoneState]) -> SeriesSummary:
        met = late = missed = cancelled = 0
        ahead = []
        for s in states:
            counted = _counted(s)
            if counted == Outcome.MET:
                met += 1
                late += bool(s.days_late)
            elif counted == Outcome.CANCELLED:
                cancelled += 1
            elif counted == Outcome.MISSED:
                missed += 1
            elif s.due_on is not None:
                ahead.append(s.due_on)
        return cls(met, late, missed, cancelled, min(ahead, default=None))

    def outcome(self, s: MilestoneState) -> str:
        """One of the counted occurrences: the open one due first is ``next_due``."""
        counted = _counted(s)
        if counted == Outcome.AHEAD and s.due_on is not None and s.due_on == self.next_due:
            return Outcome.NEXT_DUE
        return counted

    @property
    def words(self) -> str:
        """ "1 met, 3 missed; next due 2027-01-26", in the reader's language."""
        met = _("%(n)s met") % {"n": self.met}
        if self.late:
            met += _(" (%(n)s late)") % {"n": self.late}
        counts = [met, _("%(n)s missed") % {"n": self.missed}]
        if self.cancelled:
            counts.append(_("%(n)s cancelled") % {"n": self.cancelled})
        ahead = (
            _("next due %(day)s") % {"day": deadlines.day_text(self.next_due)}
            if self.next_due
            else _("none due ahead")
        )
        return _("%(counts)s; %(ahead)s") % {"counts": _(", ").join(counts), "ahead": ahead}


def occurrence_state_now(m: Milestone, now: dt.datetime) -> MilestoneState:
    """An occurrence's live state from its row alone (its parts are not read: a
    series counts occurrences, not parts)."""
    return MilestoneState(m.pk, now, m.status, m.completed_on, m.due_on, m.overdue_from, {})


def series_rule_words(series: Milestone, signed_on: dt.date) -> str | None:
    """A series' rule in words, counted from its agreement's signature on
    ``signed_on``: "every 3 months from 26 January 2026"; None once its rule no
    longer recurs."""
    if not series.is_series:
        return None
    return deadlines.recurrence_sentence(series.rule_rrule, start=signed_on)


def load_series(milestones: Sequence[Milestone]) -> None:
    """Each series among ``milestones``, and the series of each occurrence among
    them (``select_related("series")``), with its occurrences by due date in
    ``occurrences.all()``: one query, none when no series is among them."""
    heads = [m for m in milestones if m.is_series]
    heads += [m.series for m in milestones if m.series_id is not None and m.series is not None]
    if heads:
        occurrences = Milestone.objects.order_by("due_on", "id")
        prefetch_related_objects(heads, Prefetch("occurrences", queryset=occurrences))


class AsOfError(ValueError):
    """An "as of" day that cannot be shown: the message names the value."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(f"as_of '{value}' {reason}")
        self.value, self.reason = value, reason


# The first zone on earth to reach a date: nothing after today there has happened.
_EARLIEST_ZONE = "Pacific/Kiritimati"


def parse_as_of(value: str | None, now: dt.datetime) -> dt.date | None:
    """``YYYY-MM-DD`` to a day, None for no value; AsOfError for a malformed day, one
    not on the calendar, or one that has not yet begun anywhere."""
    if not value:
        return None
    if len(value) != 10 or value[4] != "-" or value[7] != "-":
        raise AsOfError(value, "is not a date written YYYY-MM-DD")
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise AsOfError(value, "is not a day of the calendar") from None
    if day > deadlines.local_today(now, _EARLIEST_ZONE):
        raise AsOfError(value, "is in the future: the record shows only what has happened")
    return day


@dataclass(frozen=True)
class RecordAsOf:
    """Every agreement signed by ``day``, with its progress, and every milestone of
    theirs with its state, at the end of ``day`` in each agreement's zone."""

    day: dt.date
    agreements: list[tuple[Agreement, dict[str, Any]]]
    milestones: list[tuple[Milestone, MilestoneState]]


def record_as_of(day: dt.date) -> RecordAsOf:
    """Five queries whatever the number of milestones."""
    agreements = list(Agreement.objects.filter(signed_on__lte=day).order_by("-signed_on", "slug"))
    ms = list(
        Milestone.objects.filter(commitment__agreement__in=agreements)
        .select_related("commitment__agreement", "rule_anchor_milestone")
        .prefetch_related("parts")
        .order_by("id")
    )
    states = milestone_states_as_of(ms, day)
    by_agreement: dict[int, list[MilestoneState]] = defaultdict(list)
    for m in ms:
        by_agreement[m.commitment.agreement_id].append(states[m.pk])
    return RecordAsOf(
        day=day,
        agreements=[(a, progress_from_states(by_agreement[a.pk])) for a in agreements],
        milestones=[(m, states[m.pk]) for m in ms],
    )
