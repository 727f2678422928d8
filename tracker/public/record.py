"""What a public page judges: the moment (now, or the end of an "as of" day), and the
milestones loaded with their state at that moment, in a constant number of queries."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import cached_property

from django.db.models import Max, Prefetch, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from commitments import deadlines
from commitments.deadlines import Anchor, RuleKind, day_text
from commitments.models import LogEntry, Milestone, MilestonePart
from commitments.selectors import (
    MilestoneState,
    SeriesSummary,
    end_of_day,
    milestone_state_now,
    milestone_states_as_of,
    parse_as_of,
    series_rule_words,
)


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
        "commitment__agreement", "rule_anchor_milestone", "series"
    ).prefetch_related(Prefetch("parts", queryset=MilestonePart.objects.select_related("party")))


def _days(n: int) -> str:
    return ngettext("%(n)d day", "%(n)d days", n) % {"n": n}


def verdict(row: Row | Brief) -> tuple[str, str]:
    """(class, words) for one milestone at the page's moment; for a recurring
    obligation, its occurrences in brief (it is never due itself)."""
    s = row.s
    if s.is_series:
        summary = row.summary or SeriesSummary()
        if summary.missed:
            return "overdue", summary.words
        if summary.next_due:
            return "due", summary.words
        return ("ok" if summary.met else "muted"), summary.words
    if s.status == "completed" and s.days_late is not None:
        if s.days_late == 0:
            return "ok", _("completed on time")
        return "late", _("completed %(days)s late") % {"days": _days(s.days_late)}
    if s.status == "completed":
        return "ok", _("completed")
    if s.overdue:
        return "overdue", _("overdue %(days)s") % {"days": _days(s.days_overdue)}
    if s.status == "cancelled":
        return "muted", _("cancelled")
    if s.due_on is None:
        return "muted", _("no dated deadline")
    return "due", _("due %(day)s") % {"day": day_text(s.due_on)}


@dataclass
class Row:
    """A milestone beside its state at the page's moment."""

    m: Milestone
    s: MilestoneState
    anchor_state: MilestoneState | None = None
    extra: dict[str, object] = field(default_factory=dict)
    summary: SeriesSummary | None = None  # a series' occurrences (see ``summarise``)

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
    def rule_sentence_html(self) -> str:
        """The same, escaped, the place of signature (record text, in English) marked
        with its language on a Japanese page."""
        sentence = escape(rule_sentence(self.m, self.anchor_state, place=_PLACE))
        agreement = self.m.commitment.agreement
        where = escape(agreement.signed_at or agreement.time_zone)
        if deadlines.reads_japanese() and agreement.signed_at:
            where = format_html('<span lang="en">{}</span>', agreement.signed_at)
        return mark_safe(sentence.replace(_PLACE, where))  # both parts escaped above

    @property
    def recurrence(self) -> str:
        """A series' rule in words: "every 3 months from 26 January 2026"."""
        return series_rule_words(self.m, self.m.commitment.agreement.signed_on) or ""

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
    series_id: int | None
    s: MilestoneState
    summary: SeriesSummary | None = None

    @classmethod
    def of(cls, row: Row) -> Brief:
        m = row.m
        return cls(
            m.pk,
            m.commitment_id,
            m.title,
            m.rule_kind,
            m.rule_rrule,
            m.series_id,
            row.s,
            row.summary,
        )

    @cached_property
    def verdict(self) -> tuple[str, str]:
        return verdict(self)


BRIEF_FIELDS = ("id", "commitment_id", "title", "rule_kind", "rule_rrule", "series_id")
LIVE_FIELDS = ("status", "completed_on", "due_on", "overdue_from")


def summarise(briefs: list[Brief]) -> list[Brief]:
    """The briefs, each series with its summary counted from its occurrences among
    them (an agreement's or a commitment's briefs hold every occurrence of theirs)."""
    occurrences: dict[int, list[MilestoneState]] = defaultdict(list)
    for b in briefs:
        if b.series_id is not None:
            occurrences[b.series_id].append(b.s)
    return [
        replace(b, summary=SeriesSummary.of(occurrences[b.pk])) if b.s.is_series else b
        for b in briefs
    ]


def listed(briefs: list[Brief]) -> list[Brief]:
    """What a page lists: occurrences are listed on their series' page, and counted
    in its summary, not one by one beside it."""
    return [b for b in briefs if b.series_id is None]


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
        return summarise([Brief.of(r) for r in rows]), {r.m.pk: r for r in rows}
    at = moment.at(time_zone)
    out = []
    found = Milestone.objects.filter(**where).values_list(*BRIEF_FIELDS, *LIVE_FIELDS)
    for pk, commitment_id, title, kind, rrule, series_id, *live in found:
        status, completed_on, due_on, overdue = live
        series = kind == RuleKind.RECURRING
        state = MilestoneState(pk, at, status, completed_on, due_on, overdue, {}, series)
        out.append(Brief(pk, commitment_id, title, kind, rrule, series_id, state))
    return summarise(out), {}


def full_rows(
    ids: list[int], moment: Moment, loaded: dict[int, Row], briefs: list[Brief]
) -> list[Row]:
    """The full rows (parts, rule, anchor) of the milestones a page lists, in the
    order of ``ids``: from ``loaded`` when a past day loaded them already, else two
    queries (the milestones, their parts); each series with the summary its brief
    carries."""
    missing = [pk for pk in ids if pk not in loaded]
    if missing:
        found = rows_for(list(milestones().filter(pk__in=missing)), moment)
        loaded = {**loaded, **{r.m.pk: r for r in found}}
    summaries = {b.pk: b.summary for b in briefs if b.summary is not None}
    rows = [loaded[pk] for pk in ids]
    for row in rows:
        row.summary = summaries.get(row.m.pk, row.summary)
    return rows


def occurrence_rows(series: Milestone, moment: Moment) -> list[Row]:
    """A series' occurrences as full rows at the page's moment, by due date: two
    queries (four for a past day), however many there are."""
    found = milestones().filter(series=series).order_by("due_on", "id")
    return rows_for(list(found), moment)


_PLACE = "\x00place\x00"  # where the place of signature goes in rule_sentence_html


def rule_sentence(m: Milestone, anchor: MilestoneState | None = None, place: str = "") -> str:
    """The rule in words with the date it counts from: "180 days after signature on
    2025-10-28 in Tokyo" (in Japanese: "2025年10月28日の署名（Tokyo）から180日後")."""
    agreement = m.commitment.agreement
    where = place or agreement.signed_at or agreement.time_zone
    signed = _("signature on %(day)s in %(where)s") % {
        "day": day_text(agreement.signed_on),
        "where": where,
    }
    rule = m.rule
    if rule.kind in (RuleKind.DAYS_AFTER, RuleKind.MONTHS_AFTER):
        if rule.anchor == Anchor.SIGNATURE:
            # "署名" is the word deadlines.describe() uses in Japanese.
            return rule.describe().replace(_("signature"), signed, 1)
        done = anchor.completed_on if anchor and anchor.status == "completed" else None
        counted = (
            _("completed on %(day)s") % {"day": day_text(done)}
            if done
            else _("not completed yet, so no date yet")
        )
        return _("%(rule)s (%(counted)s)") % {"rule": rule.describe(), "counted": counted}
    if rule.kind == RuleKind.RECURRING:
        words = deadlines.recurrence_sentence(rule.rrule, start=agreement.signed_on)
        return _("%(words)s, counted from %(signed)s") % {
            "words": f"{words[:1].upper()}{words[1:]}",
            "signed": signed,
        }
    if m.series_id is not None and m.series is not None and m.original_due_on is not None:
        occurs = deadlines.date_words(m.original_due_on)
        moved = ""
        if rule.kind == RuleKind.FIXED and rule.fixed_date not in (None, m.original_due_on):
            moved = _(", moved to %(day)s") % {"day": day_text(m.rule_fixed_date)}
        of = _("One occurrence (%(day)s%(moved)s) of a recurring obligation") % {
            "day": occurs,
            "moved": moved,
        }
        series = m.series.rule
        if series.kind != RuleKind.RECURRING:
            return _("%(of)s that no longer recurs") % {"of": of}
        every = deadlines.recurrence_sentence(series.rrule, start=agreement.signed_on)
        return _("%(of)s: %(every)s") % {"of": of, "every": every}
    if rule.kind == RuleKind.FIXED and rule.fixed_date:
        return _("By %(day)s, a date the text gives") % {"day": day_text(rule.fixed_date)}
    return _("No deadline: the text gives no date")


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
