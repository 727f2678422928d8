from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import CommandError, call_command

from commitments.models import (
    Agreement,
    Commitment,
    Lead,
    Milestone,
    MilestonePart,
    Party,
    Source,
    Status,
    StatusUpdate,
)

MODELS = [Party, Agreement, Commitment, Lead, Milestone, MilestonePart, Source]


def counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in MODELS}


def test_loading_twice_gives_the_same_rows(db, capsys):
    call_command("load_agreements")
    first = counts()
    call_command("load_agreements")
    assert counts() == first
    assert "nothing to create" in capsys.readouterr().out
    assert first["Agreement"] == 4 and first["Commitment"] == 13


def test_the_us_japan_framework_as_the_sources_give_it(agreements):
    a = Agreement.objects.get(slug="us-japan-critical-minerals-2025")
    assert (a.signed_on, a.time_zone, a.binding) == (dt.date(2025, 10, 28), "Asia/Tokyo", False)
    assert sorted(a.parties.values_list("code", flat=True)) == ["JP", "US"]
    assert a.commitments.count() == 10
    group = a.commitments.get(key="rapid-response-group")
    assert list(group.leads.values_list("title", flat=True)) == [
        "U.S. Secretary of Energy",
        "Japan Minister of Economy, Trade and Industry (METI)",
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


def test_every_commitment_cites_a_source_that_exists(agreements, settings):
    seeds = {p.name for p in (settings.BASE_DIR.parent / "shared" / "seeds").glob("*.txt")}
    for c in Commitment.objects.prefetch_related("sources"):
        refs = [s.reference for s in c.sources.all()]
        assert refs, f"{c.key} cites no source"
        for ref in refs:
            if ref.endswith(".txt") and seeds:
                assert ref in seeds, f"{c.key} cites a seed that is not there: {ref}"


def test_nothing_unconfirmed_is_invented(agreements):
    assert set(Milestone.objects.values_list("status", flat=True)) == {Status.NOT_STARTED}
    assert not Milestone.objects.exclude(evidence_url="").exists()
    assert not StatusUpdate.objects.exists()


def test_a_reload_keeps_what_staff_changed(agreements, alice):
    from commitments.services import milestone_set_status

    m = Milestone.objects.get(key="group-established")
    milestone_set_status(milestone=m, status=Status.IN_PROGRESS, by=alice, note="Announced")
    call_command("load_agreements")
    m.refresh_from_db()
    assert m.status == Status.IN_PROGRESS and m.last_note == "Announced"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json", "is not valid JSON"),
        (
            json.dumps(
                {
                    "parties": [],
                    "agreements": [{"slug": "x", "signed_on": "2025-13-01", "time_zone": "UTC"}],
                }
            ),
            "agreement x",
        ),
        (
            json.dumps(
                {
                    "parties": [],
                    "agreements": [
                        {"slug": "y", "signed_on": "2025-10-01", "time_zone": "Mars/Olympus"}
                    ],
                }
            ),
            "'Mars/Olympus' is not an IANA time zone",
        ),
    ],
)
def test_a_bad_fixture_is_named_and_loads_nothing(db, tmp_path, content, words):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CommandError, match=words.replace("(", r"\(")):
        call_command("load_agreements", str(path))
    assert not Agreement.objects.exists()
