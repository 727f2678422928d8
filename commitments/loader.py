"""Load the shipped agreements (fixtures/agreements.json) by natural keys.

``validate`` first reads the whole file and refuses it, naming the record, for a
source a reader could not check (a quotation without an address or its words, a bare
domain), an unknown party or a non-IANA zone: nothing is written then.

Then each record is written under the snapshot rule (``_Loader.sync``): ``LoadedRecord``
keeps what the loader last wrote, and a record changes only while its loader-owned
fields still equal that snapshot (no one edited it since); otherwise the conflict is
reported, naming the fields, and the staff's version kept. A record staff deleted or
archived is not brought back. Records loaded before snapshots existed are compared
with the first shipped fixture (``fixtures/legacy``), exactly what the first loader wrote.

Status, completion, owners and history are staff's, never the loader's. Deadline rules
are the loader's, but a rule changes only through ``services.milestone_revise_deadline``
(which keeps the revision), and only while staff have not revised it themselves; a
shipped assessment is set only on an unrated commitment, under the same snapshot rule;
a withdrawn log entry is archived, never deleted. Recurring obligations then get their
occurrences up to the next one ahead (``series.series_extend``): they are the tracker's
records, not the fixture's, and the loader never changes them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import override

from . import deadlines, references, series, services, translation
from .deadlines import Anchor, DeadlineRule, RuleKind
from .models import (
    Agreement,
    Assessment,
    Category,
    Commitment,
    Lead,
    LoadedRecord,
    LogEntry,
    Milestone,
    MilestonePart,
    Party,
    Source,
    SourceKind,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DEFAULT_PATH = FIXTURES / "agreements.json"
LEGACY_PATH = FIXTURES / "legacy" / "agreements-v1.json"

# The language of a quotation, as a BCP 47 tag: "en", "ja", "pt-BR".
LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
# A commitment no one has rated: what a shipped assessment may replace.
UNRATED = {
    "assessment": Assessment.NOT_YET_RATED.value,
    "assessment_note": "",
    "assessment_evidence_url": "",
    "assessed_on": None,
}

Data = dict[str, Any]
M = TypeVar("M", bound=models.Model)


class FixtureError(ValueError):
    """The fixture cannot be loaded; the message names the record and the value."""


# ----------------------------------------------------------------- validation


def check_reference(reference: str, *, allow_notes: bool = False) -> None:
    if found := references.problem(reference, allow_notes=allow_notes):
        raise FixtureError(found)


def check_source(src: Data, *, allow_notes: bool = False) -> None:
    kind = src.get("kind", SourceKind.QUOTE)
    if kind not in SourceKind.values:
        raise FixtureError(f"source kind '{kind}' is not one of {', '.join(SourceKind.values)}")
    if kind == SourceKind.QUOTE and not (src.get("reference") or "").strip():
        raise FixtureError("a quotation without an address")
    check_reference(src.get("reference", ""), allow_notes=allow_notes)
    if kind == SourceKind.QUOTE and not (src.get("passage") or "").strip():
        raise FixtureError(f"a quotation of '{src['reference']}' with no passage (its words)")
    if not LANGUAGE_TAG.match(src.get("lang", "en")):
        raise FixtureError(f"language '{src['lang']}' is not a language tag such as en or ja")


def check_assessment(raw: Data) -> None:
    """A shipped assessment is dated, explained and sourced, and never "not yet rated"."""
    value = raw.get("value")
    if value not in Assessment.values or value == Assessment.NOT_YET_RATED:
        rated = [v for v in Assessment.values if v != Assessment.NOT_YET_RATED]
        raise FixtureError(f"assessment '{value}' is not one of {', '.join(rated)}")
    dt.date.fromisoformat(raw["on"])
    if not (raw.get("note") or "").strip():
        raise FixtureError("an assessment without a note saying why")
    evidence = raw.get("evidence", "")
    check_reference(evidence)
    if not evidence.startswith("https://"):
        raise FixtureError(f"assessment evidence '{evidence}' is not a page address (https://…)")


def check_japanese(row: Data) -> None:
    """A Japanese text is the tracker's translation unless the record says otherwise
    ("ja_is_translation": false); then it must be the words of a Japanese quotation
    among the record's own sources, found there exactly."""
    texts = [v for k, v in row.items() if k.endswith("_ja") and v]
    texts += [v for k, v in (row.get("assessment") or {}).items() if k == "note_ja" and v]
    if row.get("ja_is_translation", True):
        return
    if not texts:
        raise FixtureError("'ja_is_translation' is false but there is no Japanese text")
    sources = row.get("sources") or [row.get("source") or {}]
    passages = [
        s.get("passage", "")
        for s in sources
        if s.get("lang") == "ja" and s.get("kind", SourceKind.QUOTE) == SourceKind.QUOTE
    ]
    for text in texts:
        if not any(text in passage for passage in passages):
            raise FixtureError(
                f"the Japanese text '{text}' is given as a source's words, but no Japanese "
                "quotation among its sources contains it"
            )


# The JSON type the loader reads each field as, wherever the field appears; lists hold
# objects, but for a record's "parties" (codes).
FIELD_TYPES: dict[str, type] = {
    **dict.fromkeys(
        (
            *("slug", "key", "title", "short_name", "summary", "signed_on", "signed_at"),
            *("time_zone", "category", "section", "on", "kind", "text", "reference"),
            *("passage", "fact", "lang", "value", "note", "evidence", "reason", "code"),
            *("name", "responsible", "anchor", "rrule"),
        ),
        str,
    ),
    **dict.fromkeys(
        (
            *("agreements", "commitments", "milestones", "sources", "log", "leads", "parts"),
            *("withdrawn", "parties"),
        ),
        list,
    ),
    **dict.fromkeys(("rule", "assessment", "source"), dict),
    "number": int,
}
TYPE_NAMES = {str: "a string", list: "a list", dict: "an object", int: "a number"}


def check_shape(value: object, where: str = "the file") -> None:
    """Refuse a field of the wrong JSON type (a null title, a list of numbers for
    commitments), naming it by its place in the file: "agreements[0].title"."""
    if not isinstance(value, dict):
        raise FixtureError(f"{where} is {json.dumps(value)[:80]}, not an object")
    for name, given in value.items():
        at = name if where == "the file" else f"{where}.{name}"
        expected = FIELD_TYPES.get(name)
        if expected is not None and not isinstance(given, expected):
            raise FixtureError(f"{at} is {json.dumps(given)[:80]}, not {TYPE_NAMES[expected]}")
        if expected is dict:
            check_shape(given, at)
        if expected is list:
            for i, item in enumerate(given):
                if name == "parties" and where != "the file":
                    if not isinstance(item, str):
                        raise FixtureError(f"{at}[{i}] is {json.dumps(item)[:80]}, not a string")
                else:
                    check_shape(item, f"{at}[{i}]")


def validate(data: Data, known_parties: set[str]) -> None:
    """Refuse the whole file on the first record a reader could not check."""
    check_shape(data)
    for i, party in enumerate(data.get("parties", [])):
        if "code" not in party or "name" not in party:
            raise FixtureError(f"parties[{i}]: give its 'code' and 'name'")
        _check_fields("party", party, f"parties[{i}]: ")
    parties = known_parties | {p["code"] for p in data.get("parties", [])}
    for where, row in _walk(data):
        try:
            _validate_row(where, row, parties)
        except FixtureError as exc:
            raise FixtureError(f"{where}: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise FixtureError(f"{where}: bad or missing field {exc}") from None
    shipped = {row.get("key") for where, row in _walk(data) if where.startswith("log ")}
    for row in data.get("withdrawn", []):
        key = row.get("key", "?")
        if not (row.get("reason") or "").strip():
            raise FixtureError(f"withdrawn log entry {key}: give the reason")
        if key in shipped:
            raise FixtureError(f"withdrawn log entry {key}: it is still in the log")


# The field each record is found by, in the database and in the loader's messages.
KEY_FIELDS = {"agreement": "slug", "commitment": "key", "milestone": "key", "log": "key"}
# The other fields the loader cannot do without.
REQUIRED = {
    "agreement": ("title", "short_name", "signed_on", "time_zone", "parties"),
    "commitment": ("title", "category", "parties"),
    "milestone": ("title",),
    "log": ("on", "kind", "text", "source"),
}


def _validate_row(where: str, row: Data, parties: set[str]) -> None:
    kind = where.split(" ", 1)[0]
    if kind in KEY_FIELDS and not row.get(KEY_FIELDS[kind]):
        raise FixtureError(f"give its '{KEY_FIELDS[kind]}'")
    for name in REQUIRED.get(kind, ()):
        if name not in row:
            raise FixtureError(f"give its '{name}'")
    if kind == "agreement":
        dt.date.fromisoformat(row["signed_on"])
        try:
            deadlines.validate_time_zone(row["time_zone"])
        except deadlines.RuleError as exc:
            raise FixtureError(str(exc)) from None
    if kind == "commitment" and row.get("category") not in Category.values:
        raise FixtureError(f"category '{row.get('category')}' is not one of {Category.values}")
    if kind == "commitment" and any("title" not in lead for lead in row.get("leads", [])):
        raise FixtureError("give each lead its 'title'")
    if kind == "commitment" and "assessment" in row:
        check_assessment(row["assessment"])
    if kind == "milestone":
        _rule(row.get("rule", {}))
    if kind == "source":
        check_source(row)
    if kind == "log":
        if row.get("kind") not in LogEntry.Kind.values:
            raise FixtureError(f"log kind '{row.get('kind')}' is not one of {LogEntry.Kind.values}")
        dt.date.fromisoformat(row["on"])
        notes = row["kind"] == LogEntry.Kind.CHECKED
        check_source(row["source"], allow_notes=notes)
    if kind in ("agreement", "commitment", "milestone", "log"):
        check_japanese(row)
    _check_fields(kind, row)
    for i, lead in enumerate(row.get("leads", []) if kind == "commitment" else [], 1):
        _check_fields("lead", lead, f"lead {i}: ")
    for i, part in enumerate(row.get("parts") or [] if kind == "milestone" else [], 1):
        _check_fields("part", part, f"part {i}: ")
    codes = [*row.get("parties", []), *(p["party"] for p in row.get("parts") or [])]
    codes += [lead["party"] for lead in row.get("leads", []) if lead.get("party")]
    unknown = sorted(set(codes) - parties)
    if unknown and kind in ("agreement", "commitment", "milestone"):
        raise FixtureError(f"unknown party code(s): {', '.join(unknown)}")


def _check_fields(kind: str, row: Data, where: str = "") -> None:
    """What the model checks of each value the record would be written with: lengths,
    slugs (the pages' addresses are made of them), single-line titles, zones."""
    make: Callable[[], models.Model] = {
        "party": lambda: Party(code=row["code"], name=row["name"]),
        "lead": lambda: Lead(title=row["title"]),
        "part": lambda: MilestonePart(**_part_fields(row)),
        "agreement": lambda: Agreement(slug=row["slug"], **_typed(_agreement_fields(row))),
        "commitment": lambda: Commitment(key=row["key"], **_commitment_fields(row)),
        "milestone": lambda: Milestone(key=row["key"], **_typed(_milestone_fields(row))),
        "source": lambda: Source(
            reference=row["reference"], passage=row.get("passage", ""), **_source_fields(row)
        ),
        "log": lambda: LogEntry(key=row["key"], **_typed(_log_fields(row))),
    }[kind]
    obj = make()
    try:
        obj.clean_fields(exclude=[f.name for f in obj._meta.fields if f.is_relation])
    except ValidationError as exc:
        name, errors = next(iter(exc.message_dict.items()))
        raise FixtureError(f"{where}{name}: {' '.join(errors)}") from None


def _records(data: Data) -> Iterator[tuple[str, str, Data]]:
    """Each agreement, commitment and milestone of the fixture: its model, its key
    ("slug", "slug/commitment", "slug/commitment/milestone") and its row."""
    for a in data.get("agreements", []):
        akey = a.get("slug") or "?"
        yield "agreement", akey, a
        for c in a.get("commitments", []):
            ckey = f"{akey}/{c.get('key') or '?'}"
            yield "commitment", ckey, c
            for m in c.get("milestones", []):
                yield "milestone", f"{ckey}/{m.get('key') or '?'}", m


def _walk(data: Data) -> Iterator[tuple[str, Data]]:
    """Every record of the fixture with a name a reader can find it by."""
    for model, key, row in _records(data):
        yield f"{model} {key}", row
        yield from _walk_sources(row, f"{model} {key}")


def _walk_sources(row: Data, owner: str) -> Iterator[tuple[str, Data]]:
    seen: set[tuple[str, str]] = set()
    for i, src in enumerate(row.get("sources", []), 1):
        ident = (src.get("reference", ""), src.get("passage", ""))
        if ident in seen:
            raise FixtureError(f"source {i} of {owner}: the same address and passage twice")
        seen.add(ident)
        yield f"source {i} of {owner}", src
    for entry in row.get("log", []):
        yield f"log {entry.get('key') or '?'} of {owner}", entry


def _rule(raw: Data) -> DeadlineRule:
    try:
        rule = DeadlineRule(
            kind=RuleKind(raw.get("kind", "none")),
            amount=raw.get("amount"),
            anchor=Anchor(raw.get("anchor", "signature")),
            fixed_date=dt.date.fromisoformat(raw["fixed_date"]) if raw.get("fixed_date") else None,
            rrule=raw.get("rrule", ""),
        )
        if rule.anchor == Anchor.MILESTONE:
            raise FixtureError("fixtures anchor on the signature only")
        rule.validate()
    except (ValueError, deadlines.RuleError) as exc:
        raise FixtureError(f"bad rule {raw!r}: {exc}") from None
    return rule


# ----------------------------------------------------------------- the report


@dataclass
class Report:
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    retired: Counter[str] = field(default_factory=Counter)
    conflicts: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # Occurrences of recurring obligations made after loading (series.series_extend):
    # the tracker's, not the fixture's records, so not in the counts.
    occurrences: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "created": sum(self.created.values()),
            "updated": sum(self.updated.values()),
            "conflicts": len(self.conflicts),
            "skipped": len(self.skipped),
            "retired": sum(self.retired.values()),
        }


# ----------------------------------------------------------------- loaded fields


def _japanese(row: Data, *names: str, origin: bool = True) -> Data:
    """The Japanese versions the fixture gives ("title_ja"; None where it gives none:
    the English then shows, marked) and where they come from."""
    out: Data = {f"{name}_ja": row.get(f"{name}_ja") or None for name in names}
    if origin:
        out["ja_is_translation"] = bool(row.get("ja_is_translation", True))
    return out


def _agreement_fields(row: Data) -> Data:
    return {
        "title": row["title"],
        "short_name": row["short_name"],
        "signed_on": row["signed_on"],
        "signed_at": row.get("signed_at", ""),
        "time_zone": row["time_zone"],
        "binding": bool(row.get("binding", False)),
        "summary": row.get("summary", ""),
        **_japanese(row, "title", "short_name", "summary"),
    }


def _commitment_fields(row: Data) -> Data:
    return {
        "number": row.get("number", 0),
        "title": row["title"],
        "summary": row.get("summary", ""),
        "category": row["category"],
        "section": row.get("section", ""),
        **_japanese(row, "title", "summary"),
    }


# A milestone's fields that are not its deadline rule (which has a service of its own).
MILESTONE_TEXT = ("title", "title_ja", "ja_is_translation")


def _milestone_fields(row: Data) -> Data:
    rule = _rule(row.get("rule", {}))
    return {
        "title": row["title"],
        **_japanese(row, "title"),
        "rule_kind": str(rule.kind),
        "rule_amount": rule.amount,
        "rule_anchor": str(rule.anchor),
        "rule_fixed_date": rule.fixed_date.isoformat() if rule.fixed_date else None,
        "rule_rrule": rule.rrule,
    }


def _part_fields(row: Data) -> Data:
    return {"responsible": row.get("responsible", ""), "amount": row.get("amount", "")}


def _source_fields(row: Data) -> Data:
    return {
        "kind": row.get("kind", SourceKind.QUOTE),
        "fact": row.get("fact", ""),
        "language": row.get("lang", "en"),
    }


def _log_fields(row: Data) -> Data:
    src = row["source"]
    return {
        "on": row["on"],
        "kind": row["kind"],
        "text": row["text"],
        "source_address": src["reference"],
        "source_kind": src.get("kind", SourceKind.QUOTE),
        "source_passage": src.get("passage", ""),
        "source_language": src.get("lang", "en"),
        **_japanese(row, "text"),
    }


def _assessment_fields(raw: Data) -> Data:
    return {
        "assessment": raw["value"],
        "assessment_note": raw["note"],
        "assessment_evidence_url": raw["evidence"],
        "assessed_on": raw["on"],
        "assessment_note_ja": raw.get("note_ja") or None,
    }


def _current(obj: models.Model, names: list[str]) -> Data:
    """The record's loader-owned fields, in the fixture's JSON form."""
    out = {}
    for name in names:
        value = getattr(obj, name)
        if name.endswith("_ja"):
            value = value or None  # an emptied Japanese field is no Japanese version
        out[name] = value.isoformat() if isinstance(value, dt.date) else value
    return out


def _source_key(owner: str, reference: str, passage: str) -> str:
    digest = hashlib.sha1(f"{reference}\0{passage}".encode()).hexdigest()[:16]
    return f"{owner}#{digest}"


# ----------------------------------------------------------------- the loader


def load_agreements(path: Path = DEFAULT_PATH, *, legacy_path: Path = LEGACY_PATH) -> Report:
    """Load the fixture; return what was created, updated, in conflict or skipped."""
    data = _read(Path(path))
    validate(data, set(Party.objects.values_list("code", flat=True)))
    legacy = _read(Path(legacy_path)) if Path(legacy_path).exists() else {}
    # "title" is the English text (commitments/translation.py): read and written so
    # whatever language the caller has active.
    with transaction.atomic(), override("en"):
        loader = _Loader(legacy)
        loader.run(data)
        loader.report.occurrences = series.series_extend()
    return loader.report


def _read(path: Path) -> Data:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FixtureError(f"no fixture file at {path}") from None
    except OSError as exc:
        raise FixtureError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # not UTF-8, or not JSON
        raise FixtureError(f"{path} is not valid JSON: {exc}") from None


class _Loader:
    def __init__(self, legacy: Data) -> None:
        self.report = Report()
        self.snapshots = {(r.model, r.key): r.data for r in LoadedRecord.objects.all()}
        self.to_remember: dict[tuple[str, str], Data] = {}
        self.baseline, self.legacy_sources = _legacy_baseline(legacy)
        self.parties: dict[str, Party] = {}

    def run(self, data: Data) -> None:
        for row in data.get("parties", []):
            _, new = Party.objects.get_or_create(code=row["code"], defaults={"name": row["name"]})
            self.report.created["party"] += new
        self.parties = {p.code: p for p in Party.objects.all()}
        for row in data.get("agreements", []):
            self.agreement(row)
        self.retire_legacy_sources(data)
        self.withdraw(data.get("withdrawn", []))
        self.write_snapshots()

    # One rule for every kind of record.
    def sync(
        self,
        model: str,
        key: str,
        obj: M | None,
        desired: Data,
        create: Callable[[], M],
        apply: Callable[[M, Data], None],
    ) -> M | None:
        snapshot = self.snapshots.get((model, key))
        if obj is None:
            if snapshot is not None:
                self.report.skipped.append(f"{model} {key}: deleted since loaded; not re-created")
                return None
            obj = create()
            self.remember(model, key, desired)
            self.report.created[model] += 1
            return obj
        if getattr(obj, "archived_at", None) is not None:
            self.report.skipped.append(f"{model} {key}: archived; left as it is")
            return None
        current = _current(obj, list(desired))
        baseline = snapshot if snapshot is not None else self.baseline.get((model, key))
        if baseline is not None:
            # A field the loader did not own when it took the snapshot (a newer loader's)
            # is compared as it is now: its arrival alone is no staff edit.
            baseline = {**{f: current[f] for f in desired if f not in baseline}, **baseline}
        if current == desired:
            if snapshot != desired:
                self.remember(model, key, desired)
        elif baseline is not None and current == baseline:
            apply(obj, desired)
            self.remember(model, key, desired)
            self.report.updated[model] += 1
        else:
            reference = baseline or desired
            fields = [f for f in desired if current[f] != reference.get(f)] or list(desired)
            self.report.conflicts.append(
                f"{model} {key}: {', '.join(fields)} changed since loaded; kept the staff's version"
            )
        return obj

    def remember(self, model: str, key: str, data: Data) -> None:
        self.snapshots[(model, key)] = self.to_remember[(model, key)] = data

    def write_snapshots(self) -> None:
        # One statement for all of them, inside the load's transaction.
        now = timezone.now()
        LoadedRecord.objects.bulk_create(
            [
                LoadedRecord(model=m, key=k, data=d, loaded_at=now)
                for (m, k), d in self.to_remember.items()
            ],
            update_conflicts=True,
            unique_fields=["model", "key"],
            update_fields=["data", "loaded_at"],
        )

    # Agreements, commitments, milestones and their parts.
    def agreement(self, row: Data) -> None:
        slug = row["slug"]
        desired = _agreement_fields(row)
        create = partial(Agreement.objects.create, slug=slug, **_typed(desired))
        agreement = self.sync(
            "agreement",
            slug,
            Agreement.objects.filter(slug=slug).first(),
            desired,
            create,
            _update_versioned,
        )
        if agreement is None:
            return
        agreement.parties.add(*(self.parties[code] for code in row["parties"]))
        self.sources(row.get("sources", []), "agreement", slug, agreement=agreement)
        self.log(row.get("log", []), agreement=agreement)
        for crow in row.get("commitments", []):
            self.commitment(agreement, crow)
        services.refresh_deadlines(agreement)

    def commitment(self, agreement: Agreement, row: Data) -> None:
        key = f"{agreement.slug}/{row['key']}"
        desired = _commitment_fields(row)
        create = partial(Commitment.objects.create, agreement=agreement, key=row["key"], **desired)
        existing = Commitment.objects.filter(agreement=agreement, key=row["key"]).first()
        commitment = self.sync("commitment", key, existing, desired, create, _update_versioned)
        if commitment is None:
            return
        if "assessment" in row:
            self.assessment(commitment, key, row["assessment"])
        commitment.parties.add(*(self.parties[code] for code in row["parties"]))
        for lead in row.get("leads", []):
            party = self.parties[lead["party"]] if lead.get("party") else None
            _, new = Lead.objects.get_or_create(
                commitment=commitment, title=lead["title"], defaults={"party": party}
            )
            self.report.created["lead"] += new
        self.sources(row.get("sources", []), "commitment", key, commitment=commitment)
        self.log(row.get("log", []), commitment=commitment)
        for mrow in row.get("milestones", []):
            self.milestone(commitment, key, mrow)

    def milestone(self, commitment: Commitment, ckey: str, row: Data) -> None:
        key = f"{ckey}/{row['key']}"
        desired = _milestone_fields(row)
        create = partial(
            Milestone.objects.create, commitment=commitment, key=row["key"], **_typed(desired)
        )

        def apply(obj: Milestone, data: Data) -> None:
            text = {k: v for k, v in data.items() if k in MILESTONE_TEXT}
            if _current(obj, list(text)) != text:
                _update_versioned(obj, text)
                obj.refresh_from_db()
            rule = {k: v for k, v in data.items() if k not in text}
            if _current(obj, list(rule)) != rule:
                services.milestone_revise_deadline(
                    milestone=obj,
                    rule=_rule(row.get("rule", {})),
                    reason="Rule corrected in the shipped record (load_agreements)",
                    source=(row.get("sources") or [{}])[0].get("reference") or "fixtures",
                    by=None,
                )

        existing = Milestone.objects.filter(commitment=commitment, key=row["key"]).first()
        milestone = self.sync("milestone", key, existing, desired, create, apply)
        if milestone is None:
            return
        for part in row.get("parts") or [{"party": code} for code in row.get("parties", [])]:
            self.part(milestone, key, part)
        self.sources(row.get("sources", []), "milestone", key, milestone=milestone)
        self.log(row.get("log", []), milestone=milestone)

    def assessment(self, commitment: Commitment, key: str, raw: Data) -> None:
        """Its own record: set on an unrated commitment, kept once staff rate it."""
        self.baseline.setdefault(("assessment", key), UNRATED)
        self.sync(
            "assessment",
            key,
            commitment,
            _assessment_fields(raw),
            lambda: commitment,  # never called: the commitment exists by now
            _update_versioned,
        )

    def part(self, milestone: Milestone, mkey: str, row: Data) -> None:
        party = self.parties[row["party"]]
        desired = _part_fields(row)
        create = partial(MilestonePart.objects.create, milestone=milestone, party=party, **desired)
        existing = MilestonePart.objects.filter(milestone=milestone, party=party).first()
        self.sync("milestonepart", f"{mkey}/{party.code}", existing, desired, create, _update)

    # Sources and log entries.
    def sources(self, rows: list[Data], owner_model: str, owner_key: str, **owner: Any) -> None:
        for row in rows:
            reference, passage = row["reference"], row.get("passage", "")
            desired = _source_fields(row)
            key = _source_key(f"{owner_model}:{owner_key}", reference, passage)

            create = partial(
                Source.objects.create, reference=reference, passage=passage, **desired, **owner
            )
            existing = Source.objects.filter(reference=reference, passage=passage, **owner).first()
            self.sync("source", key, existing, desired, create, _update)

    def log(self, rows: list[Data], **owner: Any) -> None:
        for row in rows:
            desired = _log_fields(row)
            create = partial(LogEntry.objects.create, key=row["key"], **_typed(desired), **owner)
            existing = LogEntry.objects.filter(key=row["key"]).first()
            self.sync("logentry", row["key"], existing, desired, create, _update_versioned)

    def withdraw(self, rows: list[Data]) -> None:
        """Archive the log entries the fixture withdrew (contradicted by later events),
        only where no one edited them since the loader wrote them; never re-create."""
        names = list(_log_fields({"on": "", "kind": "", "text": "", "source": {"reference": ""}}))
        for row in rows:
            key = row["key"]
            entry = LogEntry.objects.filter(key=key, archived_at__isnull=True).first()
            if entry is None:
                continue
            snapshot = self.snapshots.get(("logentry", key))
            current = _current(entry, names)
            if snapshot is None or current != {**current, **snapshot}:
                self.report.conflicts.append(
                    f"logentry {key}: withdrawn from the shipped record ({row['reason']}) "
                    "but changed since loaded; kept the staff's version"
                )
                continue
            services.logentry_archive(
                entry=entry, by=None, reason="withdrawn from the shipped record"
            )
            self.report.retired["logentry"] += 1

    def retire_legacy_sources(self, data: Data) -> None:
        """Withdraw what the first fixture shipped and this one no longer does (the
        invented quotations, the bare domains), but only rows no one has edited."""
        shipped = {
            (owner, s["reference"], s.get("passage", "")) for owner, s in _sources_by_owner(data)
        }
        for owner, src in self.legacy_sources:
            if (owner, src["reference"], "") in shipped:
                continue
            deleted, _ = Source.objects.filter(
                reference=src["reference"], fact=src["fact"], passage="", **_owner_filter(owner)
            ).delete()
            self.report.retired["source"] += deleted


def _typed(data: Data) -> Data:
    """Fixture JSON values to model values (ISO dates to dates)."""
    out = dict(data)
    for name in ("signed_on", "on", "rule_fixed_date", "assessed_on"):
        if out.get(name):
            out[name] = dt.date.fromisoformat(out[name])
    return out


def _rows(obj: models.Model) -> Any:
    """The record's row, its fields named as written (no language rewriting)."""
    return translation.rows(type(obj)).filter(pk=obj.pk)


def _update(obj: models.Model, data: Data) -> None:
    _rows(obj).update(**_typed(data))


def _update_versioned(obj: models.Model, data: Data) -> None:
    # The version moves on every change, so an editor's stale form is detected;
    # updated_at too, for pollers (update() does not run auto_now).
    _rows(obj).update(
        **translation.columns(type(obj), _typed(data)),
        version=F("version") + 1,
        updated_at=timezone.now(),
    )


def _sources_by_owner(data: Data) -> Iterator[tuple[str, Data]]:
    for model, key, row in _records(data):
        for s in row.get("sources", []):
            yield f"{model}:{key}", s


def _owner_filter(owner: str) -> dict[str, Any]:
    model, _, key = owner.partition(":")
    parts = key.split("/")
    if model == "agreement":
        return {"agreement__slug": parts[0]}
    if model == "commitment":
        return {"commitment__agreement__slug": parts[0], "commitment__key": parts[1]}
    return {
        "milestone__commitment__agreement__slug": parts[0],
        "milestone__commitment__key": parts[1],
        "milestone__key": parts[2],
    }


def _legacy_baseline(legacy: Data) -> tuple[dict[tuple[str, str], Data], list[tuple[str, Data]]]:
    """What the first loader wrote, per record, from the first shipped fixture."""
    fields = {
        "agreement": _agreement_fields,
        "commitment": _commitment_fields,
        "milestone": _milestone_fields,
    }
    baseline: dict[tuple[str, str], Data] = {}
    for model, key, row in _records(legacy):
        baseline[(model, key)] = fields[model](row)
        if model == "milestone":
            for code in row.get("parties", []):
                baseline[("milestonepart", f"{key}/{code}")] = _part_fields({})
    sources = list(_sources_by_owner(legacy))
    for owner, s in sources:
        key = _source_key(owner, s["reference"], "")
        baseline[("source", key)] = {
            "kind": SourceKind.QUOTE.value,
            "fact": s["fact"],
            "language": "en",
        }
    return baseline, sources
