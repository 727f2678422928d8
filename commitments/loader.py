"""Load the shipped agreements (fixtures/agreements.json) by natural keys.

Idempotent: a second run finds every row by its natural key and creates nothing.
It refreshes descriptive text (titles, summaries) and adds missing sources, but never
touches what staff own: status, history, owners, assessments, and a deadline rule
once the milestone exists (a revised deadline must survive a reload).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from . import deadlines, services
from .deadlines import Anchor, DeadlineRule, RuleKind
from .models import Agreement, Commitment, Lead, Milestone, MilestonePart, Party, Source

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "fixtures" / "agreements.json"


class FixtureError(ValueError):
    pass


def load_agreements(path: Path = DEFAULT_PATH) -> Counter[str]:
    """Create what is missing; return a count of rows created, by kind."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FixtureError(f"no fixture file at {path}") from None
    except json.JSONDecodeError as exc:
        raise FixtureError(f"{path} is not valid JSON: {exc}") from None
    created: Counter[str] = Counter()
    with transaction.atomic():
        for row in data.get("parties", []):
            _, new = Party.objects.update_or_create(
                code=row["code"], defaults={"name": row["name"]}
            )
            created["parties"] += new
        for row in data.get("agreements", []):
            try:
                _load_agreement(row, created)
            except KeyError as exc:
                raise FixtureError(
                    f"agreement {row.get('slug', '?')}: missing field {exc}"
                ) from None
    return created


def _load_agreement(row: dict[str, Any], created: Counter[str]) -> None:
    slug = row.get("slug", "?")
    try:
        signed_on = dt.date.fromisoformat(row["signed_on"])
        deadlines.validate_time_zone(row["time_zone"])
    except (KeyError, ValueError) as exc:
        raise FixtureError(f"agreement {slug}: {exc}") from None
    agreement, new = Agreement.objects.update_or_create(
        slug=slug,
        defaults={
            "title": row["title"],
            "short_name": row["short_name"],
            "signed_on": signed_on,
            "signed_at": row.get("signed_at", ""),
            "time_zone": row["time_zone"],
            "binding": row.get("binding", False),
            "summary": row.get("summary", ""),
        },
    )
    created["agreements"] += new
    agreement.parties.add(*_parties(row["parties"]))
    _add_sources(row.get("sources", []), created, agreement=agreement)
    for crow in row.get("commitments", []):
        _load_commitment(agreement, crow, created)
    services.refresh_deadlines(agreement)


def _load_commitment(agreement: Agreement, row: dict[str, Any], created: Counter[str]) -> None:
    commitment, new = Commitment.objects.update_or_create(
        agreement=agreement,
        key=row["key"],
        defaults={
            "number": row.get("number", 0),
            "title": row["title"],
            "summary": row.get("summary", ""),
            "category": row["category"],
        },
    )
    created["commitments"] += new
    commitment.parties.add(*_parties(row["parties"]))
    for lead in row.get("leads", []):
        party = Party.objects.get(code=lead["party"]) if lead.get("party") else None
        _, new = Lead.objects.get_or_create(
            commitment=commitment, title=lead["title"], defaults={"party": party}
        )
        created["leads"] += new
    _add_sources(row.get("sources", []), created, commitment=commitment)
    for mrow in row.get("milestones", []):
        _load_milestone(commitment, mrow, created)


def _load_milestone(commitment: Commitment, row: dict[str, Any], created: Counter[str]) -> None:
    rule = _rule(row.get("rule", {}), where=f"milestone {commitment.key}/{row['key']}")
    milestone, new = Milestone.objects.get_or_create(
        commitment=commitment,
        key=row["key"],
        defaults={
            "title": row["title"],
            "rule_kind": rule.kind,
            "rule_amount": rule.amount,
            "rule_anchor": rule.anchor,
            "rule_fixed_date": rule.fixed_date,
            "rule_rrule": rule.rrule,
        },
    )
    if not new and milestone.title != row["title"]:
        Milestone.objects.filter(pk=milestone.pk).update(
            title=row["title"], updated_at=timezone.now()
        )
    created["milestones"] += new
    for party in _parties(row.get("parties", [])):
        _, new_part = MilestonePart.objects.get_or_create(milestone=milestone, party=party)
        created["milestone parts"] += new_part
    _add_sources(row.get("sources", []), created, milestone=milestone)


def _rule(raw: dict[str, Any], *, where: str) -> DeadlineRule:
    try:
        rule = DeadlineRule(
            kind=RuleKind(raw.get("kind", "none")),
            amount=raw.get("amount"),
            anchor=Anchor(raw.get("anchor", "signature")),
            fixed_date=dt.date.fromisoformat(raw["fixed_date"]) if raw.get("fixed_date") else None,
            rrule=raw.get("rrule", ""),
        )
        if rule.anchor == Anchor.MILESTONE:
            raise FixtureError(f"{where}: fixtures anchor on the signature only")
        rule.validate()
    except (ValueError, deadlines.RuleError) as exc:
        raise FixtureError(f"{where}: bad rule {raw!r}: {exc}") from None
    return rule


def _parties(codes: list[str]) -> list[Party]:
    parties = list(Party.objects.filter(code__in=codes))
    missing = set(codes) - {p.code for p in parties}
    if missing:
        raise FixtureError(f"unknown party code(s): {', '.join(sorted(missing))}")
    return parties


def _add_sources(rows: list[dict[str, str]], created: Counter[str], **owner: Any) -> None:
    for src in rows:
        _, new = Source.objects.get_or_create(reference=src["reference"], fact=src["fact"], **owner)
        created["sources"] += new
