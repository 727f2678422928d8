"""Writes to the domain. A milestone's status changes here and nowhere else: the admin
(form and actions), the API, the tasks and the commands all call
``milestone_set_status``. Deadlines are recomputed here, from ``deadlines``.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from typing import TypeVar
from urllib.parse import urlsplit

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import override

from . import deadlines, references, translation
from .deadlines import Anchor, DeadlineRule, RuleKind
from .models import (
    CLOSED_STATUSES,
    Agreement,
    Commitment,
    DeadlineRevision,
    LogEntry,
    Milestone,
    MilestonePart,
    Party,
    Status,
    StatusUpdate,
)
from .series import _series, _series_regenerate

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
    by: User | AnonymousUser | None,
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
    user = _check_allowed(by)
    check_status_change(milestone, status, evidence_url, completed_on, now=now)
    if status == Status.COMPLETED and completed_on is None:
        # Already completed: a note or evidence edit keeps the day it was completed.
        kept = milestone.completed_on if milestone.status == Status.COMPLETED else None
        completed_on = kept or deadlines.local_today(now, milestone.commitment.agreement.time_zone)
    # Without an expected version the caller vouches for the copy it holds.
    expected = milestone.version if expected_version is None else expected_version

    with transaction.atomic():
        if party is not None:
            return _set_part_status(
                milestone, party, status, user, note, evidence_url, completed_on, now, expected
            )
        update = _apply(milestone, status, user, note, evidence_url, completed_on, now, expected)
        if status == Status.COMPLETED:
            MilestonePart.objects.filter(milestone=milestone).exclude(
                status__in=CLOSED_STATUSES
            ).update(status=Status.COMPLETED, completed_on=completed_on)
        return update


def _check_allowed(by: User | AnonymousUser | None) -> User | None:
    """The user the history rows record (None: the system). An anonymous user has no
    permission, so is refused like any user without it."""
    if by is None:
        return None
    if isinstance(by, AnonymousUser) or not by.has_perm(STATUS_PERMISSION):
        raise NotAllowedError(f"{by.get_username()} may not change milestone status")
    return by


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
    if milestone.is_series:
        raise TransitionError(
            "a recurring obligation is met occurrence by occurrence: record the outcome "
            "on the occurrence it concerns (the obligation's page lists them)",
            field="status",
        )
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
    by: User | None,
    note: str,
    evidence_url: str,
    completed_on: dt.date | None,
    now: dt.datetime,
    expected_version: int,
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
    }
    _write_versioned(
        milestone,
        expected_version=expected_version,
        changes=fields,
        by=by,
        now=now,
        reason=f"status {Status(before).label} → {Status(status).label}",
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
    # The history row is the outbox: whoever reacts to changes (the tracker's alerts)
    # reads it once this transaction has committed. Nothing else to tell anyone here.
    milestone.refresh_from_db()
    if was_done != (status == Status.COMPLETED):
        refresh_deadlines(milestone.commitment.agreement, now=now)
        milestone.refresh_from_db()
    return update


def _set_part_status(
    milestone: Milestone,
    party: Party,
    status: str,
    by: User | None,
    note: str,
    evidence_url: str,
    completed_on: dt.date | None,
    now: dt.datetime,
    expected_version: int,
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
    # A part's change moves the milestone's version too (pollers and editors see it).
    _write_versioned(
        milestone,
        expected_version=expected_version,
        changes={},
        by=by,
        now=now,
        reason=f"{party.code}'s part {Status(part.status).label} → {Status(status).label}",
    )
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
            milestone.version,
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
            milestone.version,
        )
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
            m.rule, signed_on=agreement.signed_on, anchor_completed_on=anchor_done
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
    by: User | None,
    expected_version: int | None = None,
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
    if rule.kind == RuleKind.RECURRING and milestone.series_id is not None:
        raise TransitionError(
            "an occurrence of a recurring obligation has a date of its own; change the "
            "obligation's rule instead",
            field="rule",
        )
    was_series = milestone.is_series
    old_rule, old_due = milestone.rule, milestone.due_on
    with transaction.atomic():
        # Only the rule: a full save would write back stale copies of fields that
        # others own (the sweep's overdue_since, a concurrent status change).
        _write_versioned(
            milestone,
            expected_version=milestone.version if expected_version is None else expected_version,
            changes={
                "rule_kind": rule.kind,
                "rule_amount": rule.amount,
                "rule_anchor": rule.anchor,
                "rule_anchor_milestone_id": rule.anchor_milestone_id,
                "rule_fixed_date": rule.fixed_date,
                "rule_rrule": rule.rrule,
                "original_due_on": milestone.original_due_on or old_due,
            },
            by=by,
            now=now,
            reason=f"deadline: {reason}",
        )
        refresh_deadlines(milestone.commitment.agreement, now=now)
        milestone.refresh_from_db()
        if was_series or milestone.is_series:
            _series_regenerate(milestone, now=now)
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


def _check_anchor(milestone: Milestone, anchor_id: int) -> None:
    anchor = Milestone.objects.filter(pk=anchor_id).select_related("commitment").first()
    if anchor is None or anchor.commitment.agreement_id != milestone.commitment.agreement_id:
        raise TransitionError(
            "a milestone can only hang on a milestone of the same agreement", field="rule"
        )
    if anchor.pk == milestone.pk:
        raise TransitionError("a milestone cannot hang on itself", field="rule")


# --- Edits, archiving, and the one version check ---------------------------------------
#
# Every edit of an agreement, commitment, milestone or log entry names the version the
# editor loaded and only the fields the editor changed. ``_write_versioned`` is the one
# place that compares versions; the admin, the API and the status and deadline services
# all reach it.

Versioned = Agreement | Commitment | Milestone | LogEntry
# One of them, the same one in and out (the archive services return what they were given).
V = TypeVar("V", Agreement, Commitment, Milestone, LogEntry)

# What each edit service may change; the rest has a service of its own (status,
# deadline rule, archive) or is derived (due dates, the sweep's flag).
AGREEMENT_FIELDS = frozenset(
    {"slug", "title", "short_name", "signed_on", "signed_at", "time_zone", "binding", "summary"}
) | translation.editable(Agreement)
COMMITMENT_FIELDS = frozenset(
    {
        "agreement",
        "key",
        "number",
        "title",
        "summary",
        "category",
        "section",
        "owner",
        "assessment",
        "assessment_note",
        "assessment_evidence_url",
        "assessed_on",
    }
) | translation.editable(Commitment)
MILESTONE_FIELDS = frozenset({"commitment", "key", "title", "owner"}) | translation.editable(
    Milestone
)
LOGENTRY_FIELDS = frozenset(
    {"on", "kind", "text", "source_address", "source_kind", "source_passage"}
) | translation.editable(LogEntry)


@transaction.atomic
def agreement_edit(
    *,
    agreement: Agreement,
    expected_version: int,
    changes: dict[str, object],
    by: User | None,
    now: dt.datetime | None = None,
) -> Agreement:
    """Write the fields an editor changed. The signature date and the time zone are
    anchors: every deadline counted from them moves with them, in this transaction."""
    now = now or timezone.now()
    _edit(
        agreement,
        allowed=AGREEMENT_FIELDS,
        expected_version=expected_version,
        changes=changes,
        by=by,
        now=now,
    )
    if {"signed_on", "time_zone"} & changes.keys():
        refresh_deadlines(agreement, now=now)
    if "signed_on" in changes:
        # A recurring rule counts from signature: its dates ahead move with it.
        for series in _series().filter(commitment__agreement=agreement):
            _series_regenerate(series, now=now)
    return agreement


@transaction.atomic
def commitment_edit(
    *,
    commitment: Commitment,
    expected_version: int,
    changes: dict[str, object],
    by: User | None,
    now: dt.datetime | None = None,
) -> Commitment:
    return _edit(
        commitment,
        allowed=COMMITMENT_FIELDS,
        expected_version=expected_version,
        changes=changes,
        by=by,
        now=now,
    )


@transaction.atomic
def milestone_edit(
    *,
    milestone: Milestone,
    expected_version: int,
    changes: dict[str, object],
    by: User | None,
    now: dt.datetime | None = None,
) -> Milestone:
    """Title, key, owner or commitment. Status goes through ``milestone_set_status``
    and the rule through ``milestone_revise_deadline``, which keep their own history."""
    return _edit(
        milestone,
        allowed=MILESTONE_FIELDS,
        expected_version=expected_version,
        changes=changes,
        by=by,
        now=now,
    )


@transaction.atomic
def logentry_create(
    *,
    by: User | None,
    on: dt.date,
    kind: str,
    text: str,
    source_address: str,
    source_kind: str = "quote",
    source_passage: str = "",
    agreement: Agreement | None = None,
    commitment: Commitment | None = None,
    milestone: Milestone | None = None,
    key: str = "",
) -> LogEntry:
    """A sourced entry of what happened. It never changes a status or an assessment."""
    owners = [o for o in (agreement, commitment, milestone) if o is not None]
    if len(owners) != 1:
        raise TransitionError("an entry belongs to one agreement, commitment or milestone")
    if found := references.problem(source_address, allow_notes=True):
        raise TransitionError(found, field="source_address")
    entry = LogEntry(
        key=key or f"staff-{uuid.uuid4().hex[:16]}",
        agreement=agreement,
        commitment=commitment,
        milestone=milestone,
        on=on,
        kind=kind,
        text_en=text,  # the English text, whatever language the editor reads in
        source_address=source_address,
        source_kind=source_kind,
        source_passage=source_passage,
        by=by,
    )
    try:
        entry.full_clean(exclude=["agreement", "commitment", "milestone", "by"])
    except ValidationError as exc:
        field, errors = next(iter(exc.message_dict.items()))
        raise TransitionError(errors[0], field=field) from None
    entry._history_user = by  # type: ignore[attr-defined]
    entry.save()
    return entry


@transaction.atomic
def logentry_edit(
    *,
    entry: LogEntry,
    expected_version: int,
    changes: dict[str, object],
    by: User | None,
    now: dt.datetime | None = None,
) -> LogEntry:
    if "source_address" in changes and (
        found := references.problem(str(changes["source_address"]), allow_notes=True)
    ):
        raise TransitionError(found, field="source_address")
    return _edit(
        entry,
        allowed=LOGENTRY_FIELDS,
        expected_version=expected_version,
        changes=changes,
        by=by,
        now=now,
    )


def agreement_archive(*, agreement: Agreement, by: User | None) -> Agreement:
    return _archive(agreement, by=by)


def commitment_archive(*, commitment: Commitment, by: User | None) -> Commitment:
    return _archive(commitment, by=by)


def milestone_archive(*, milestone: Milestone, by: User | None) -> Milestone:
    return _archive(milestone, by=by)


def logentry_archive(*, entry: LogEntry, by: User | None, reason: str = "archived") -> LogEntry:
    return _archive(entry, by=by, reason=reason)


@transaction.atomic
def _archive(obj: V, *, by: User | None, reason: str = "archived") -> V:
    """Records with history are archived, never deleted: the trail stays readable and
    the loader does not bring an archived record back."""
    if obj.archived_at is not None:
        raise TransitionError(f"this {obj._meta.verbose_name} is already archived")
    now = timezone.now()
    _write_versioned(
        obj,
        expected_version=obj.version,
        changes={"archived_at": now},
        by=by,
        now=now,
        reason=reason,
    )
    return obj


def _edit(
    obj: V,
    *,
    allowed: frozenset[str],
    expected_version: int,
    changes: dict[str, object],
    by: User | None,
    now: dt.datetime | None,
) -> V:
    _check_changes(type(obj), changes, allowed)
    _write_versioned(
        obj, expected_version=expected_version, changes=changes, by=by, now=now or timezone.now()
    )
    return obj


def _check_changes(
    model: type[models.Model], changes: dict[str, object], allowed: frozenset[str]
) -> None:
    """Guard clauses for an edit: only editable fields, each valid by its model field
    (length, line breaks, addresses), named in the refusal."""
    for name, value in changes.items():
        field = model._meta.get_field(name)
        # A reverse relation or generic key is never in ``allowed``.
        if not isinstance(field, models.Field) or field.name not in allowed:
            raise TransitionError(f"'{name}' cannot be changed here", field=name)
        if value in field.empty_values:
            # A Japanese text may be left empty: it then reads as the English one.
            if (not field.blank or name in translation.required(model)) and (
                name not in translation.optional(model)
            ):
                raise TransitionError(f"{field.verbose_name} is required", field=field.name)
            continue
        if isinstance(field, models.ForeignKey):
            continue
        try:
            field.run_validators(value)
            if field.choices:
                field.validate(value, None)
        except ValidationError as exc:
            raise TransitionError(" ".join(exc.messages), field=field.name) from None


def _write_versioned(
    obj: Versioned,
    *,
    expected_version: int,
    changes: dict[str, object],
    by: User | None,
    now: dt.datetime,
    reason: str = "",
) -> None:
    """THE version check. Write ``changes`` only if the row is still at the version the
    caller read, moving the version on; then record the audit row and refresh ``obj``.

    The conditional update is the lock: if another writer got there first the version
    no longer matches, nothing is written, and ConflictError says who changed what.
    ``QuerySet.update`` sends no signals, so the audit row is written here."""
    model = type(obj)
    # Unrewritten: "title" means the English text whatever language the editor reads.
    updated = (
        translation.rows(model)
        .filter(pk=obj.pk, version=expected_version)
        .update(**translation.columns(model, changes), version=F("version") + 1, updated_at=now)
    )
    if updated != 1:
        raise ConflictError(_describe_conflict(model, obj.pk, expected_version), field="version")
    obj.refresh_from_db()
    # The trail's reason column is short (100): a long deadline reason is cut there and
    # kept whole in its DeadlineRevision.
    limit = model.history.model._meta.get_field("history_change_reason").max_length
    with override("en"):  # the audit row's untranslated columns keep the English
        model.history.bulk_history_create(
            [obj],
            update=True,
            default_user=by,
            default_date=now,
            default_change_reason=Truncator(reason).chars(limit or 100),
            custom_historical_attrs={"history_username": by.get_username() if by else ""},
        )


def _describe_conflict(model: type[Versioned], pk: int, expected: int) -> str:
    """Who changed what since version ``expected``, from the audit trail."""
    noun = model._meta.verbose_name
    current = model._default_manager.filter(pk=pk).values_list("version", flat=True).first()
    if current is None:
        return f"This {noun} no longer exists. Nothing was saved."
    trail = model.history.filter(id=pk).order_by("-version", "-history_id")
    newer = list(trail.filter(version__gt=expected).select_related(None))
    base = trail.filter(version__lte=expected).first()
    who = sorted({r.history_username or "the system" for r in newer}) or ["the system"]
    what = ""
    if base is not None and newer:
        delta = newer[0].diff_against(base, excluded_fields=["version", "archived_at"])
        changed = set(delta.changed_fields)
        labels = list(
            dict.fromkeys(
                translation.label(model, f) for f in model._meta.fields if f.name in changed
            )
        )
        what = f" ({', '.join(labels)})" if labels else ""
    when = f" at {newer[0].history_date:%Y-%m-%d %H:%M} UTC" if newer else ""
    return (
        f"Someone else changed this {noun} while you were editing it: "
        f"{' and '.join(who)} changed it{what}{when}. You loaded version {expected}; it is "
        f"now at version {current}. Nothing was saved. Load it again to see their "
        "change, then make yours again."
    )
