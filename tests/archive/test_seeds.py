"""A seed (the stored text of an article the record was built from) is shown as the
article it is, with its text kept as its archived copy: `archive_evidence --seeds DIR`."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.core.management import CommandError, call_command

from commitments.models import Source
from tracker.archive import services, warc
from tracker.archive.models import Capture

T0 = dt.datetime(2026, 2, 5, 9, 30, tzinfo=dt.UTC)
SEED = "000_49fbe5e2163977c7.txt"  # in fixtures/sources.json: a GKToday article
TEXT = b"US and Japan Seal Rare Earths Pact\nA test's own words, not the article.\n"


@pytest.fixture
def seed_dir(tmp_path, ministerial):
    """A folder with a file for each seed the record cites (this test's own words)."""
    Source.objects.filter(reference=SEED).delete()  # the shipped record's, on the agreement
    Source.objects.create(milestone=ministerial, reference=SEED, passage="", fact="x")
    for name in services.cited_seeds():
        (tmp_path / name).write_bytes(TEXT if name == SEED else b"another seed\n")
    return tmp_path


def test_seeds_are_kept_once_and_served_as_text(seed_dir, client, capsys, ministerial):
    with time_machine.travel(T0, tick=False):
        call_command("archive_evidence", "--seeds", str(seed_dir), "--json")
        call_command("archive_evidence", "--seeds", str(seed_dir), "--json")  # idempotent
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    half = len(lines) // 2
    assert lines[:half] == lines[half:] and SEED in [x["address"] for x in lines]
    capture = Capture.objects.get(address=SEED)
    assert (capture.state, capture.outcome, capture.size) == ("archived", "seed", len(TEXT))
    assert warc.read(capture.warc).body == TEXT  # a WARC resource record
    raw = client.get(f"/archive/{capture.pk}/raw")
    assert raw.content == TEXT and raw["Content-Type"] == "text/plain; charset=utf-8"
    banner = client.get(f"/archive/{capture.pk}/").content.decode()
    assert "“US and Japan Seal Rare Earths Pact to Cut China Dependence”" in banner
    assert "not the published page" in banner and "2026-02-05 18:30 JST" in banner
    page = client.get(f"/milestones/{ministerial.pk}/").content.decode()
    assert f'<a href="/archive/{capture.pk}/">archived copy</a>, fetched 2026-02-05' in page
    listed = client.get("/sources/").content.decode()
    assert (
        f'<code>{SEED}</code><span class="archived"> (<a href="/archive/{capture.pk}/">' in listed
    )


def test_a_missing_seed_file_is_named(seed_dir):
    (seed_dir / SEED).unlink()
    with pytest.raises(CommandError, match=f"no file in {seed_dir} for the seed {SEED}"):
        call_command("archive_evidence", "--seeds", str(seed_dir))
    assert not Capture.objects.filter(address=SEED).exists()
    assert Capture.objects.filter(outcome="seed").count() == len(services.cited_seeds()) - 1
