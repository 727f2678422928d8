"""Writes to the domain. A milestone's status changes here and nowhere else: the admin
(form and actions), the API, the tasks and the commands all call
``milestone_set_status``. Deadlines are recomputed here, from ``deadlines``.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from urllib.parse import urlsplit

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tracker import alerts as tracker_alerts
from tracker import tasks as tracker_tasks

from . import deadlines
from .deadlines import Anchor, DeadlineRule, RuleKind
from .models import (
    CLOSED_STATUSES,
    Agreement,
    DeadlineRevision,
    Milestone,
    MilestonePart,
    Party,
    Status,
    StatusUpdate,
)

STATUS_PERMISSION = "commitments.set_milestone_status"


class TransitionError(Exception):
    """A refused change. ``field`` names the input at fault, for forms and the API."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ConflictError(TransitionError):
    """Someone else changed the milestone since the caller read it."""


class NotAllowedError(TransitionError):
    """The user may not change milestone status."""


def milestone_set_status(
    *,
    milestone: Milestone,
    status: str,
    by: AbstractBaseUser | None,
    note: str = "",
    evidence_url: str = "",
    completed_on: dt.date | None = None,
    party: Party | None = None,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> StatusUpdate:
    """Change a milestone's status (or one party's part of it), record the history row,
    and recompute every deadline that hangs on this milestone's completion.

    ``by=None`` means the system. Raises TransitionError (or a subclass) and changes
    nothing when the change is refused.
    """
    now = now or timezone.now()
    tz = milestone.commitment.agreement.time_zone
    _check_allowed(by)
    check_status_change(milestone, status, evidence_url, completed_on, now=now)
    if expected_version is not None and expected_version != milestone.version:
        raise ConflictError(
            f"milestone {milestone.pk} has changed since you loaded it "
            f"(version {expected_version}, now {milestone.version}); reload and try again",
            field="version",
        )
    if status == Status.COMPLETED and completed_on is None:
        # Already completed: a note or evidence edit keeps the day it was completed.
        kept = milestone.completed_on if milestone.status == Status.COMPLETED else None
        completed_on = kept or deadlines.local_today(now, tz)

    with transaction.atomic():
        if party is not None:
            return _set_part_status(
                milestone, party, status, by, note, evidence_url, completed_on, now
            )
        update = _apply(milestone, status, by, note, evidence_url, completed_on, now)
        if status == Status.COMPLETED:
            MilestonePart.objects.filter(milestone=milestone).exclude(
                status__in=CLOSED_STATUSES
            ).update(status=Status.COMPLETED, completed_on=completed_on)
        return update


def _check_allowed(by: AbstractBaseUser | None) -> None:
    if by is not None and not by.has_perm(STATUS_PERMISSION):
        raise NotAllowedError(f"{by.get_username()} may not change milestone status")


def check_status_change(
    milestone: Milestone,
    status: str,
    evidence_url: str,
    completed_on: dt.date | None,
    *,
    now: dt.datetime,
) -> None:
    if status not in Status.values:
        raise TransitionError(
            f"'{status}' is not a status; use one of {', '.join(Status.values)}", field="status"
        )
    if evidence_url:
        reason = evidence_url_problem(evidence_url)
        if reason:
            raise TransitionError(
                f"'{evidence_url}' is not a usable http(s) address: {reason}",
                field="evidence_url",
            )
    if status != Status.COMPLETED:
        if completed_on is not None:
            raise TransitionError(
                "completed_on is only given with status 'completed'", field="completed_on"
            )
        return
    if not evidence_url:
        raise TransitionError(
            "an evidence address is required to mark a milestone completed", field="evidence_url"
        )
    agreement = milestone.commitment.agreement
    if completed_on is not None:
        today = deadlines.local_today(now, agreement.time_zone)
        if completed_on > today:
            raise TransitionError(
                f"completed_on {completed_on} is in the future "
                f"(today is {today} in {agreement.time_zone})",
                field="completed_on",
            )
        if completed_on < agreement.signed_on:
            raise TransitionError(
                f"completed_on {completed_on} is before the agreement was signed "
                f"({agreement.signed_on})",
                field="completed_on",
            )


_INVISIBLE = {"Cc", "Cf", "Zs", "Zl", "Zp"}
_UNSAFE_IN_URL = set("\"'<>`\\") | {chr(c) for c in range(0x21)} | {chr(0x7F)}


def evidence_url_problem(url: str) -> str | None:
    """Why an evidence address cannot be shown as a link, or None. http(s) only; no
    user or password; no quote, angle bracket or whitespace; a host that is ASCII, or
    valid IDNA written in one script (no Latin look-alike with a Cyrillic letter)."""
    if any(ch in _UNSAFE_IN_URL or unicodedata.category(ch) in _INVISIBLE for ch in url):
        return "it contains a quote, an angle bracket, a space or an invisible character"
    try:
        URLValidator(schemes=["http", "https"])(url)
        parts = urlsplit(url)
    except (ValidationError, ValueError):
        return "not an http(s) address"
    if "@" in parts.netloc:
        return "a user name or password is not allowed in it"
    host = parts.hostname or ""
    try:
        ascii_host = host.encode("idna").decode("ascii")
        shown = ascii_host.encode("ascii").decode("idna")
    except UnicodeError:
        return f"the host {host!r} is not a valid international domain name"
    scripts = {_script(ch) for ch in shown if ch.isalpha()} - {"OTHER"}
    if {"LATIN", "CYRILLIC"} <= scripts or {"LATIN", "GREEK"} <= scripts:
        return f"the host {shown!r} mixes scripts (a look-alike address)"
    return None


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    for script in ("LATIN", "CYRILLIC", "GREEK"):
        if name.startswith(script):
            return script
    return "OTHER"


def _apply(
    milestone: Milestone,
    status: str,
    by: AbstractBaseUser | None,
    note: str,
    evidence_url: str,
    completed_on: dt.date | None,
    now: dt.datetime,
) -> StatusUpdate:
    """Write one milestone-level transition: conditional update, history row, and the
    recomputation of what depends on this milestone's completion."""
    before = milestone.status
    if (
        before == status
        and not note
        and evidence_url in ("", milestone.evidence_url)
        and completed_on == milestone.completed_on
    ):
        raise TransitionError(f"the milestone is already '{status}'", field="status")
    was_done = before == Status.COMPLETED
    fields: dict[str, object] = {
        "status": status,
        "completed_on": completed_on if status == Status.COMPLETED else None,
        "last_note": note or milestone.last_note,
        "evidence_url": evidence_url or milestone.evidence_url,
        "version": F("version") + 1,
        "updated_at": now,
    }
    # The conditional update is the lock: if another writer got there first, the
    # version no longer matches and we refuse rather than overwrite their change.
    changed = Milestone.objects.filter(pk=milestone.pk, version=milestone.version).update(**fields)
    if changed != 1:
        raise ConflictError(
            f"milestone {milestone.pk} was changed by someone else; reload and try again",
            field="version",
        )
    update = StatusUpdate.objects.create(
        milestone=milestone,
        by=by,
        at=now,
        from_status=before,
        to_status=status,
        note=note,
        evidence_url=evidence_url,
        completed_on=completed_on,
        due_on=milestone.due_on,
    )
    # The alert that this change makes due is written in this same transaction (an
    # outbox); the delivery task is only rung once the transaction has committed.
    tracker_alerts.queue_completed(update)
    tracker_tasks.kick_delivery()
    milestone.refresh_from_db()
    if milestone.rule_kind == RuleKind.RECURRING and status == Status.COMPLETED:
        _roll_over(milestone, now)
    elif was_done != (status == Status.COMPLETED):
        refresh_deadlines(milestone.commitment.agreement, now=now)
    milestone.refresh_from_db()
    return update


def _roll_over(milestone: Milestone, now: dt.datetime) -> None:
    """A recurring obligation, once done, is due again at its next occurrence."""
    Milestone.objects.filter(pk=milestone.pk).update(status=Status.NOT_STARTED)
    StatusUpdate.objects.create(
        milestone=milestone,
        at=now,
        from_status=Status.COMPLETED,
        to_status=Status.NOT_STARTED,
        note="Recurring obligation: the next occurrence is now due.",
        completed_on=milestone.completed_on,
        due_on=milestone.due_on,
    )
    refresh_deadlines(milestone.commitment.agreement, now=now)


def _set_part_status(
    milestone: Milestone,
    party: Party,
    status: str,
    by: AbstractBaseUser | None,
    note: str,
    evidence_url: str,
    completed_on: dt.date | None,
    now: dt.datetime,
) -> StatusUpdate:
    part = (
        MilestonePart.objects.select_for_update().filter(milestone=milestone, party=party).first()
    )
    if part is None:
        raise TransitionError(
            f"{party.code} is not a responsible party of this milestone", field="party"
        )
    if part.status == status and not note:
        raise TransitionError(f"{party.code}'s part is already '{status}'", field="status")
    update = StatusUpdate.objects.create(
        milestone=milestone,
        party=party,
        by=by,
        at=now,
        from_status=part.status,
        to_status=status,
        note=note,
        evidence_url=evidence_url,
        completed_on=completed_on,
        due_on=milestone.due_on,
    )
    part.status = status
    part.completed_on = completed_on if status == Status.COMPLETED else None
    part.save(update_fields=["status", "completed_on"])

    # The milestone follows its parts: done when every party's part is done, under
    # way as soon as any part is.
    parts = list(MilestonePart.objects.filter(milestone=milestone))
    if all(p.status == Status.COMPLETED for p in parts) and milestone.status != Status.COMPLETED:
        last = max(p.completed_on for p in parts if p.completed_on)
        _apply(
            milestone,
            Status.COMPLETED,
            by,
            f"All parties done. {note}".strip(),
            evidence_url,
            last,
            now,
        )
    elif status != Status.NOT_STARTED and milestone.status == Status.NOT_STARTED:
        _apply(
            milestone,
            Status.IN_PROGRESS,
            by,
            f"{party.code}: {note}".strip(": "),
            evidence_url,
            None,
            now,
        )
    else:
        Milestone.objects.filter(pk=milestone.pk).update(version=F("version") + 1, updated_at=now)
        milestone.refresh_from_db()
    return update


# --- Deadlines --------------------------------------------------------------------


def refresh_deadlines(agreement: Agreement, *, now: dt.datetime | None = None) -> int:
    """Recompute the due date of every milestone of ``agreement`` from its rule, in
    dependency order, and save those that changed. Call it, inside the transaction,
    whenever an anchor moves: the signature date or time zone corrected, a milestone
    completed or re-opened, a rule revised. Returns how many milestones changed."""
    now = now or timezone.now()
    milestones = {
        m.pk: m
        for m in Milestone.objects.filter(commitment__agreement=agreement).select_related(
            "rule_anchor_milestone"
        )
    }
    resolved: dict[int, dt.date | None] = {}

    def resolve(m: Milestone, seen: frozenset[int] = frozenset()) -> dt.date | None:
        if m.pk in resolved:
            return resolved[m.pk]
        if m.pk in seen:
            raise TransitionError(f"deadline rules form a cycle at '{m.title}'", field="rule")
        anchor_done = None
        if m.rule_anchor == Anchor.MILESTONE and m.rule_anchor_milestone_id:
            anchor = milestones.get(m.rule_anchor_milestone_id)
            if anchor is not None:
                resolve(anchor, seen | {m.pk})
                anchor_done = anchor.completed_on if anchor.status == Status.COMPLETED else None
        resolved[m.pk] = deadlines.due_date(
            m.rule,
            signed_on=agreement.signed_on,
            anchor_completed_on=anchor_done,
            last_completed_on=m.completed_on if m.rule_kind == RuleKind.RECURRING else None,
        )
        return resolved[m.pk]

    changed = []
    for m in milestones.values():
        due_on = resolve(m)
        overdue_from = deadlines.overdue_at(due_on, agreement.time_zone)
        if (m.due_on, m.overdue_from) != (due_on, overdue_from):
            m.due_on, m.overdue_from = due_on, overdue_from
            m.version += 1
            m.updated_at = now
            changed.append(m)
    Milestone.objects.bulk_update(changed, ["due_on", "overdue_from", "version", "updated_at"])
    return len(changed)


def milestone_revise_deadline(
    *,
    milestone: Milestone,
    rule: DeadlineRule,
    reason: str,
    source: str,
    by: AbstractBaseUser | None,
    now: dt.datetime | None = None,
) -> DeadlineRevision:
    """Change a milestone's deadline rule (a deadline moved by the parties, or a rule
    corrected). Both the original and the revised due date are kept, with the reason
    and the source that reports the change."""
    now = now or timezone.now()
    if not reason.strip():
        raise TransitionError("say why the deadline changed", field="reason")
    if not source.strip():
        raise TransitionError("name the source that reports the change", field="source")
    try:
        rule.validate()
    except deadlines.RuleError as exc:
        raise TransitionError(str(exc), field="rule") from None
    if rule.anchor == Anchor.MILESTONE and rule.anchor_milestone_id is not None:
        _check_anchor(milestone, rule.anchor_milestone_id)
    old_rule, old_due = milestone.rule, milestone.due_on
    with transaction.atomic():
        _store_rule(milestone, rule)
        milestone.original_due_on = milestone.original_due_on or old_due
        # Only the rule: a full save would write back stale copies of fields that
        # others own (the sweep's overdue_since, a concurrent status change).
        milestone.save(update_fields=[*RULE_FIELDS, "original_due_on"])
        refresh_deadlines(milestone.commitment.agreement, now=now)
        milestone.refresh_from_db()
        revision = DeadlineRevision.objects.create(
            milestone=milestone,
            at=now,
            by=by,
            old_rule=old_rule.describe(),
            new_rule=milestone.rule.describe(),
            old_due_on=old_due,
            new_due_on=milestone.due_on,
            reason=reason,
            source=source,
        )
        StatusUpdate.objects.create(
            milestone=milestone,
            kind=StatusUpdate.Kind.DEADLINE,
            by=by,
            at=now,
            from_status=milestone.status,
            to_status=milestone.status,
            note=f"Deadline {old_due or 'none'} → {milestone.due_on or 'none'}: {reason}",
            due_on=milestone.due_on,
        )
    return revision


RULE_FIELDS = [
    "rule_kind",
    "rule_amount",
    "rule_anchor",
    "rule_anchor_milestone",
    "rule_fixed_date",
    "rule_rrule",
]


def _store_rule(milestone: Milestone, rule: DeadlineRule) -> None:
    milestone.rule_kind = rule.kind
    milestone.rule_amount = rule.amount
    milestone.rule_anchor = rule.anchor
    milestone.rule_anchor_milestone_id = rule.anchor_milestone_id
    milestone.rule_fixed_date = rule.fixed_date
    milestone.rule_rrule = rule.rrule


def _check_anchor(milestone: Milestone, anchor_id: int) -> None:
    anchor = Milestone.objects.filter(pk=anchor_id).select_related("commitment").first()
    if anchor is None or anchor.commitment.agreement_id != milestone.commitment.agreement_id:
        raise TransitionError(
            "a milestone can only hang on a milestone of the same agreement", field="rule"
        )
    if anchor.pk == milestone.pk:
        raise TransitionError("a milestone cannot hang on itself", field="rule")
