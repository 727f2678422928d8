"""archive_evidence ADDRESS --json, archive_evidence --all (idempotent), and archiving
on save: a source, a log entry or a status change with evidence queues its page,
once the save commits, without fetching anything in the save itself."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import CommandError, call_command

from commitments.models import LogEntry, Source, Status
from commitments.services import milestone_set_status
from tests.factories import AgreementFactory, CommitmentFactory, MilestoneFactory
from tracker.archive import services, tasks
from tracker.archive.models import Capture

pytestmark = pytest.mark.django_db


def test_archive_evidence_prints_the_copy(site, capsys):
    site.expect_request("/a").respond_with_data("words", content_type="text/plain")
    call_command("archive_evidence", site.url_for("/a"), "--json")
    line = json.loads(capsys.readouterr().out)
    assert {"address", "status", "sha256", "warc", "fetched_at"} <= set(line)
    capture = Capture.objects.get()
    assert line["address"] == site.url_for("/a") and line["status"] == "archived"
    assert (line["sha256"], line["warc"]) == (capture.sha256, capture.warc)
    assert line["fetched_at"] == capture.fetched_at.isoformat()


def test_archive_evidence_fails_naming_the_address(site, capsys):
    site.expect_request("/missing").respond_with_data("no", status=404)
    with pytest.raises(CommandError, match=f"could not archive {site.url_for('/missing')}"):
        call_command("archive_evidence", site.url_for("/missing"), "--json")
    assert json.loads(capsys.readouterr().out)["status"] == "failed"
    with pytest.raises(CommandError, match="'file:///etc/passwd' is not an http"):
        call_command("archive_evidence", "file:///etc/passwd")


def test_archive_evidence_all_archives_every_cited_address_once(site, capsys):
    agreement = AgreementFactory()
    for path in ("/1", "/2"):
        site.expect_request(path).respond_with_data(path, content_type="text/plain")
    Source.objects.create(agreement=agreement, reference=site.url_for("/1"), fact="one")
    Source.objects.create(agreement=agreement, reference="000_seed.txt", fact="a seed")
    MilestoneFactory(
        commitment=CommitmentFactory(agreement=agreement), evidence_url=site.url_for("/2")
    )
    call_command("archive_evidence", "--all", "--json")
    first = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(x["address"], x["status"]) for x in first] == [
        (site.url_for("/1"), "archived"),
        (site.url_for("/2"), "archived"),
    ]
    asked = len(site.log)
    call_command("archive_evidence", "--all", "--json")  # again: nothing fetched
    again = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert again == first and len(site.log) == asked


def test_saving_a_source_queues_its_page_once_committed(django_capture_on_commit_callbacks, site):
    agreement = AgreementFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        Source.objects.create(agreement=agreement, reference=site.url_for("/s"), fact="x")
        Source.objects.create(agreement=agreement, reference="000_seed.txt", fact="a seed")
        Source.objects.create(agreement=agreement, reference=site.url_for("/t"), fact="y")
    assert len(callbacks) == 1  # one doorbell for the transaction, for web addresses only
    assert list(Capture.objects.values_list("address", "state")) == [
        (site.url_for("/s"), "pending"),
        (site.url_for("/t"), "pending"),
    ]
    assert len(site.log) == 0  # nothing fetched by the save


def test_a_log_entry_and_evidence_are_archived_too(django_capture_on_commit_callbacks, site, alice):
    agreement = AgreementFactory()
    milestone = MilestoneFactory(commitment=CommitmentFactory(agreement=agreement))
    with django_capture_on_commit_callbacks():
        LogEntry.objects.create(
            key="k",
            agreement=agreement,
            on=dt.date(2026, 1, 1),
            kind="context",
            text="t",
            source_address=site.url_for("/log"),
        )
        milestone_set_status(
            milestone=milestone,
            status=Status.IN_PROGRESS,
            by=alice,
            evidence_url=site.url_for("/ev"),
        )
    assert set(Capture.objects.values_list("address", flat=True)) == {
        site.url_for("/log"),
        site.url_for("/ev"),
    }


def test_the_beat_task_finds_addresses_no_save_announced(site, settings):
    settings.TRACKER_ARCHIVE_ON_SAVE = False
    agreement = AgreementFactory()
    site.expect_request("/quiet").respond_with_data("q", content_type="text/plain")
    Source.objects.create(agreement=agreement, reference=site.url_for("/quiet"), fact="x")
    assert not Capture.objects.exists()
    assert tasks.archive_due() == {"archived": 1}
    assert services.discover() == 0
