from __future__ import annotations

import copy
import datetime as dt
import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from commitments.deadlines import DeadlineRule, RuleKind
from commitments.loader import DEFAULT_PATH, LEGACY_PATH, _Loader, load_agreements
from commitments.models import (
    Agreement,
    Assessment,
    Commitment,
    Lead,
    LoadedRecord,
    LogEntry,
    Milestone,
    MilestonePart,
    Party,
    Source,
    Status,
    StatusUpdate,
)
from commitments.services import milestone_revise_deadline, milestone_set_status

MODELS = [Party, Agreement, Commitment, Lead, Milestone, MilestonePart, Source, LogEntry]
JAPAN = "us-japan-critical-minerals-2025"


def counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in MODELS}


def load(path=DEFAULT_PATH) -> str:
    out = StringIO()
    call_command("load_agreements", str(path), stdout=out)
    return out.getvalue()


def fixture() -> dict:
    return json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))


def write(tmp_path, data: dict):
    path = tmp_path / "agreements.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    return path


def test_loading_twice_changes_nothing(db):
    first_out = load()
    first = counts()
    second_out = load()
    assert counts() == first
    assert "0 created, 0 updated, 0 conflicts, 0 skipped" in second_out
    assert "0 created" not in first_out
    shipped = Milestone.objects.filter(series__isnull=True).count()
    assert (first["Agreement"], first["Commitment"], shipped) == (4, 32, 24)
    # The two withdrawn checks are never created on a fresh database.
    assert (first["Source"], first["LogEntry"]) == (108, 52)


def test_the_us_japan_framework_as_the_sources_give_it(agreements):
    a = Agreement.objects.get(slug=JAPAN)
    assert (a.signed_on, a.time_zone, a.binding) == (dt.date(2025, 10, 28), "Asia/Tokyo", False)
    assert sorted(a.parties.values_list("code", flat=True)) == ["JP", "US"]
    assert a.commitments.count() == 14
    group = a.commitments.get(key="rapid-response-group")
    assert list(group.leads.values_list("title", flat=True)) == [
        "U.S. Secretary of Energy",
        "Japan Minister of Economy, Trade and Industry (METI)",
    ]
    parts = Milestone.objects.get(key="group-established").parts.order_by("party__code")
    assert [(p.party.code, p.responsible) for p in parts] == [
        ("JP", "Minister of Economy, Trade and Industry (METI)"),
        ("US", "U.S. Secretary of Energy"),
    ]
    due = dict(
        Milestone.objects.filter(commitment__agreement=a)
        .exclude(due_on=None)
        .values_list("key", "due_on")
    )
    assert due == {
        "ministerial-convened": dt.date(2026, 4, 26),
        "projects-selected-and-funded": dt.date(2026, 4, 28),
    }


def test_sources_keep_kind_and_passage(agreements):
    src = Source.objects.get(
        commitment__key="investment-ministerial", reference="002_9d03994fb32bb4e5.txt"
    )
    assert src.kind == "quote"
    assert src.passage.startswith("the creation of a bilateral Mining, Minerals and Metals")
    assert Source.objects.filter(kind="summary", passage="").exists()


def test_every_commitment_cites_a_source(agreements):
    for c in Commitment.objects.prefetch_related("sources"):
        assert c.sources.all(), f"{c.key} cites no source"


def test_nothing_unconfirmed_is_invented(agreements):
    assert set(Milestone.objects.values_list("status", flat=True)) == {Status.NOT_STARTED}
    assert not Milestone.objects.exclude(evidence_url="").exists()
    assert not StatusUpdate.objects.exists()


def test_a_reload_keeps_what_staff_changed(agreements, alice):
    m = Milestone.objects.get(key="group-established")
    milestone_set_status(milestone=m, status=Status.IN_PROGRESS, by=alice, note="Announced")
    load()
    m.refresh_from_db()
    assert m.status == Status.IN_PROGRESS and m.last_note == "Announced"


def test_staff_edits_survive_a_reload_and_are_reported_as_conflicts(agreements, tmp_path):
    Commitment.objects.filter(key="stockpiling").update(title="Stockpiling (staff)")
    Agreement.objects.filter(slug=JAPAN).update(summary="Staff summary")
    Milestone.objects.filter(key="recycling-cooperation").update(title="Staff title")
    data = fixture()
    data["agreements"][0]["summary"] = "A newer shipped summary"
    out = load(write(tmp_path, data))
    assert f"conflict: commitment {JAPAN}/stockpiling: title changed" in out
    assert f"conflict: agreement {JAPAN}: summary changed" in out
    assert f"conflict: milestone {JAPAN}/recycling/recycling-cooperation: title changed" in out
    assert "0 updated, 3 conflicts" in out
    assert Commitment.objects.get(key="stockpiling").title == "Stockpiling (staff)"
    assert Agreement.objects.get(slug=JAPAN).summary == "Staff summary"
    assert Milestone.objects.get(key="recycling-cooperation").title == "Staff title"


def test_a_record_no_one_edited_follows_the_fixture(agreements, tmp_path):
    data = fixture()
    data["agreements"][0]["commitments"][4]["title"] = "Explore stockpiling (reworded)"
    out = load(write(tmp_path, data))
    assert "1 updated, 0 conflicts" in out
    stockpiling = Commitment.objects.get(key="stockpiling")
    assert stockpiling.title == "Explore stockpiling (reworded)" and stockpiling.version == 2
    assert "0 updated, 0 conflicts" in load(write(tmp_path, data))


def test_a_deadline_staff_revised_survives_a_reload(ministerial, alice):
    rule = DeadlineRule(kind=RuleKind.FIXED, fixed_date=dt.date(2026, 6, 30))
    milestone_revise_deadline(
        milestone=ministerial, rule=rule, reason="Moved", source="https://example.org/a", by=alice
    )
    out = load()
    assert "rule_kind, rule_amount, rule_fixed_date changed since loaded" in out
    ministerial.refresh_from_db()
    assert ministerial.due_on == dt.date(2026, 6, 30)


def test_a_deleted_milestone_is_not_brought_back(agreements):
    Milestone.objects.get(key="industry-dialogue").delete()
    out = load()
    assert f"skipped: milestone {JAPAN}/fair-markets/industry-dialogue: deleted" in out
    assert not Milestone.objects.filter(key="industry-dialogue").exists()


def test_an_archived_record_is_left_as_it_is(agreements):
    Commitment.objects.filter(key="scrap-management").update(
        archived_at=timezone.now(), title="Archived by staff"
    )
    LogEntry.objects.filter(key="project-vault-2026-02-02").update(
        archived_at=timezone.now(), text="Withdrawn"
    )
    out = load()
    assert f"skipped: commitment {JAPAN}/scrap-management: archived" in out
    assert "skipped: logentry project-vault-2026-02-02: archived" in out
    assert Commitment.objects.get(key="scrap-management").title == "Archived by staff"
    assert LogEntry.objects.get(key="project-vault-2026-02-02").text == "Withdrawn"


def test_records_the_first_loader_wrote_are_corrected_unless_staff_edited_them(db):
    legacy = json.loads(LEGACY_PATH.read_text(encoding="utf-8"))
    _Loader({}).run(legacy)  # what the first loader left, with no snapshots
    LoadedRecord.objects.all().delete()
    Commitment.objects.filter(key="like-minded-partners").update(title="Staff wording")
    report = load_agreements()
    thailand = Agreement.objects.get(slug="us-thailand-critical-minerals-2025")
    assert thailand.time_zone == "Asia/Kuala_Lumpur" and thailand.title.startswith("Memorandum")
    assert not Source.objects.filter(reference__startswith="https://www.whitehouse.gov/").exists()
    assert not Source.objects.filter(fact="No date is stated for the group.").exists()
    assert report.retired["source"] > 10 and report.updated["commitment"] > 5
    assert report.conflicts == [
        f"commitment {JAPAN}/like-minded-partners: title changed since loaded; "
        "kept the staff's version"
    ]
    assert Commitment.objects.get(key="like-minded-partners").title == "Staff wording"


def test_a_shipped_assessment_rates_an_unrated_commitment_then_staff_decide(agreements, tmp_path):
    pricing = Commitment.objects.get(key="marketplaces-and-pricing")
    assert pricing.assessment == Assessment.ON_TRACK
    assert pricing.assessed_on == dt.date(2026, 12, 7)
    assert pricing.assessment_note.startswith("In progress:")
    assert pricing.assessment_evidence_url.startswith("https://openrijk.nl/")
    assert Commitment.objects.get(key="stockpiling").assessment == Assessment.NOT_YET_RATED
    Commitment.objects.filter(pk=pricing.pk).update(
        assessment=Assessment.PARTLY_KEPT, assessment_note="Staff", assessed_on=dt.date(2026, 12, 8)
    )
    data = fixture()
    rated = _commitment(data, "marketplaces-and-pricing")
    rated["assessment"]["note"] = "In progress: a newer shipped note."
    out = load(write(tmp_path, data))
    assert f"conflict: assessment {JAPAN}/marketplaces-and-pricing: assessment, " in out
    assert "0 updated, 1 conflicts" in out
    pricing.refresh_from_db()
    assert (pricing.assessment, pricing.assessment_note) == (Assessment.PARTLY_KEPT, "Staff")


def test_a_withdrawn_log_entry_is_archived_unless_staff_edited_it(db, tmp_path):
    data = fixture()
    measures = _commitment(data, "marketplaces-and-pricing")["milestones"][0]
    keys = [e["key"] for e in measures["log"]]
    assert len(keys) >= 3
    load(write(tmp_path, data))
    LogEntry.objects.filter(key=keys[0]).update(text="Edited by staff")
    measures["log"] = []
    data["withdrawn"] = [{"key": k, "reason": "contradicted by a test"} for k in keys]
    out = load(write(tmp_path, data))
    assert f"conflict: logentry {keys[0]}: withdrawn from the shipped record" in out
    assert LogEntry.objects.get(key=keys[0]).archived_at is None
    assert all(LogEntry.objects.get(key=k).archived_at for k in keys[1:])
    assert f"{len(keys) - 1} retired" in out
    latest = LogEntry.history.filter(key=keys[-1]).order_by("-history_id").first()
    assert latest.history_change_reason == "withdrawn from the shipped record"
    assert "0 retired" in load(write(tmp_path, data))


def test_a_japanese_passage_keeps_its_language_and_the_page_marks_it(agreements, client):
    japanese = Source.objects.filter(agreement__slug=JAPAN, reference__contains="worldjpn.net")
    title = japanese.get(passage__endswith="日米枠組み")
    assert title.language == "ja"
    assert {s.language for s in Source.objects.filter(reference__contains="qazinform")} == {"en"}
    entry = LogEntry.objects.get(key="japan-at-multilateral-ministerial-2026-02-04")
    assert entry.source_language == "ja"
    page = client.get(f"/agreements/{JAPAN}/").content.decode()
    assert f'<blockquote lang="ja">{title.passage}</blockquote>' in page


def test_a_field_newer_than_the_snapshot_is_no_staff_edit(agreements, tmp_path):
    # Snapshots taken before sources had a language: the field's arrival alone must not
    # turn the next correction of the fixture into a conflict.
    for record in LoadedRecord.objects.filter(model__in=["source", "logentry"]):
        record.data.pop("language", None)
        record.data.pop("source_language", None)
        record.save()
    data = fixture()
    data["agreements"][0]["sources"][0]["fact"] = "A corrected fact."
    out = load(write(tmp_path, data))
    assert "1 updated, 0 conflicts" in out


def _commitment(data: dict, key: str) -> dict:
    return next(c for a in data["agreements"] for c in a["commitments"] if c["key"] == key)


def _tiny(**changes) -> dict:
    source = {
        "reference": "https://example.org/a/page",
        "kind": "quote",
        "passage": "x",
        "fact": "f",
    }
    source.update(changes.pop("source", {}))
    data = {
        "parties": [{"code": "US", "name": "United States"}],
        "agreements": [
            {
                "slug": "x",
                "title": "X",
                "short_name": "X",
                "signed_on": "2025-10-01",
                "time_zone": "UTC",
                "parties": ["US"],
                "commitments": [
                    {
                        "key": "c1",
                        "title": "C",
                        "category": "investment",
                        "parties": ["US"],
                        "sources": [source],
                        "milestones": [],
                    }
                ],
            }
        ],
    }
    if "withdrawn" in changes:
        data["withdrawn"] = changes.pop("withdrawn")
    if "assessment" in changes:
        data["agreements"][0]["commitments"][0]["assessment"] = changes.pop("assessment")
    for name, value in changes.items():
        data["agreements"][0][name] = value
    return copy.deepcopy(data)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (
            _tiny(source={"reference": ""}),
            "source 1 of commitment x/c1: a quotation without an address",
        ),
        (
            _tiny(source={"reference": "https://www.whitehouse.gov/"}),
            "source 1 of commitment x/c1: 'https://www.whitehouse.gov/' is a bare domain",
        ),
        (
            _tiny(source={"reference": "qazinform.com (2025-10-28)"}),
            "'qazinform.com (2025-10-28)' is neither a page address",
        ),
        (
            _tiny(source={"passage": " "}),
            "source 1 of commitment x/c1: "
            "a quotation of 'https://example.org/a/page' with no passage",
        ),
        (_tiny(parties=["US", "ZZ"]), "agreement x: unknown party code(s): ZZ"),
        (_tiny(time_zone="Mars/Olympus"), "agreement x: 'Mars/Olympus' is not an IANA time zone"),
        (_tiny(signed_on="2025-13-01"), "agreement x: bad or missing field"),
        (_tiny(slug=""), "agreement ?: give its 'slug'"),
        (
            _tiny(source={"lang": "Japanese"}),
            "source 1 of commitment x/c1: language 'Japanese' is not a language tag",
        ),
        (
            _tiny(withdrawn=[{"key": "gone", "reason": " "}]),
            "withdrawn log entry gone: give the reason",
        ),
        (
            _tiny(assessment={"value": "not_yet_rated", "on": "2026-12-07", "note": "n"}),
            "commitment x/c1: assessment 'not_yet_rated' is not one of",
        ),
        (
            _tiny(
                assessment={
                    "value": "on_track",
                    "on": "2026-12-07",
                    "note": "In progress",
                    "evidence": "docs/sources.md",
                }
            ),
            "commitment x/c1: 'docs/sources.md' is neither a page address",
        ),
    ],
)
def test_a_bad_fixture_is_refused_naming_the_record_and_loads_nothing(db, tmp_path, data, words):
    with pytest.raises(CommandError, match=re.escape(words)):
        load(write(tmp_path, data))
    assert not Agreement.objects.exists()


LONG = {"title": "t" * 201}


def _without(name: str, where: str = "agreement") -> dict:
    data = _tiny()
    row = data["agreements"][0]
    del (row if where == "agreement" else row["commitments"][0])[name]
    return data


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([], "the file is [], not an object"),
        ({"agreements": 5}, "agreements is 5, not a list"),
        (_tiny(commitments=["c1"]), 'agreements[0].commitments[0] is "c1", not an object'),
        (_tiny(title=None), "agreements[0].title is null, not a string"),
        (_tiny(summary=None), "agreements[0].summary is null, not a string"),
        (
            _tiny(source={"reference": 5}),
            "agreements[0].commitments[0].sources[0].reference is 5, not a string",
        ),
        ({"parties": [{"code": "US"}]}, "parties[0]: give its 'code' and 'name'"),
        (
            {"parties": [{"code": "X" * 17, "name": "X"}]},
            "parties[0]: code: Ensure this value has at most 16 characters (it has 17)",
        ),
        (_without("title"), "agreement x: give its 'title'"),
        (_tiny(slug="a b"), "agreement a b: slug: Enter a valid “slug”"),
        (_tiny(slug="日米"), "agreement 日米: slug: Enter a valid “slug”"),
        (
            _tiny(
                commitments=[{"key": "c/1", "title": "C", "category": "investment", "parties": []}]
            ),
            "commitment x/c/1: key: Enter a valid “slug”",
        ),
        (
            _tiny(short_name="x" * 101),
            "agreement x: short_name: Ensure this value has at most 100 characters (it has 101)",
        ),
        (_tiny(title="Two\nlines"), "agreement x: title: Line breaks are not allowed"),
        (_tiny(title="A\x0bB"), "agreement x: title: Line breaks are not allowed here"),
        (_tiny(time_zone="x" * 300), "agreement x: '" + "x" * 80 + "' is not an IANA time zone"),
        (_without("parties", "commitment"), "commitment x/c1: give its 'parties'"),
        (
            _tiny(commitments=[{**_tiny()["agreements"][0]["commitments"][0], "leads": [LONG]}]),
            "commitment x/c1: lead 1: title: Ensure this value has at most 200 characters",
        ),
    ],
)
def test_a_fixture_of_the_wrong_shape_is_refused_naming_the_field(db, tmp_path, data, words):
    with pytest.raises(CommandError, match=re.escape(words)):
        load(write(tmp_path, data))
    assert not Agreement.objects.exists()


def test_a_file_that_cannot_be_read_is_refused(db, tmp_path):
    with pytest.raises(CommandError, match=re.escape(f"cannot read {tmp_path}")):
        load(tmp_path)
    (tmp_path / "latin1.json").write_bytes('{"agreements": [], "_comment": "é"}'.encode("latin-1"))
    with pytest.raises(CommandError, match=r"latin1\.json is not valid JSON"):
        load(tmp_path / "latin1.json")


def test_a_file_that_is_not_json_is_refused(db, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(CommandError, match="is not valid JSON"):
        load(path)
