"""The archived copy served back: a banner page naming what it is, when it was fetched
(in the agreement's zone, named) and the original address; the raw body with its own
content type in a CSP sandbox; and the public pages and the API pointing at it."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from warcio.archiveiterator import ArchiveIterator

from commitments.models import Source
from tracker.archive import services

T0 = dt.datetime(2026, 2, 5, 9, 30, tzinfo=dt.UTC)  # 18:30 in Tokyo
PAGE = (
    b"<html><body onload=\"document.title='ran'\"><p>Hello \xc3\xa9</p>"
    b"<script>x()</script></body></html>"
)


@pytest.fixture
def copy(site, ministerial):
    site.expect_request("/release").respond_with_data(PAGE, content_type="text/html; charset=utf-8")
    address = site.url_for("/release")
    Source.objects.create(
        milestone=ministerial, reference=address, passage="Hello é", fact="Greets."
    )
    with time_machine.travel(T0, tick=False):
        capture = services.archive_address(address)
    assert capture.archived
    return capture


def test_the_raw_copy_is_the_body_as_fetched_in_a_sandbox(client, copy):
    response = client.get(f"/archive/{copy.pk}/raw")
    assert response.status_code == 200
    assert response.content == PAGE
    assert response["Content-Type"] == "text/html; charset=utf-8"
    csp = response["Content-Security-Policy"]
    assert csp.split(";")[0] == "sandbox" and "allow-scripts" not in csp
    assert "script-src" not in csp and "default-src 'none'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_banner_page_names_what_it_is_when_and_where(client, copy):
    page = client.get(f"/archive/{copy.pk}/").content.decode()
    assert "not the original" in page
    assert "2026-02-05 18:30 JST (Asia/Tokyo)" in page  # the agreement's zone, named
    assert f'href="{copy.address}"' in page
    assert f'href="/archive/{copy.pk}/raw"' in page


def test_a_copy_not_archived_is_404(client, db):
    assert client.get("/archive/999/").status_code == 404
    assert client.get("/archive/999/raw").status_code == 404


def test_the_milestone_page_links_the_copy_beside_the_address(client, copy, ministerial):
    page = client.get(f"/milestones/{ministerial.pk}/").content.decode()
    assert f'<a href="/archive/{copy.pk}/">archived copy</a>, fetched 2026-02-05' in page


def test_evidence_addresses_show_their_copy_too(client, copy, ministerial):
    ministerial.evidence_url = copy.address
    ministerial.save(update_fields=["evidence_url"])
    page = client.get(f"/milestones/{ministerial.pk}/").content.decode()
    evidence = page[page.index("<dt>Evidence</dt>") :].split("</dd>")[0]
    assert f'href="/archive/{copy.pk}/"' in evidence


def test_the_api_gives_the_copy_beside_the_source(client, copy, ministerial):
    body = client.get(f"/api/v1/commitments/{ministerial.commitment_id}/").json()
    by_reference = {s["reference"]: s["archived_copy"] for s in body["sources"]}
    assert copy.address not in by_reference  # cited by the milestone only, so far
    assert set(by_reference.values()) == {None}  # the shipped sources: no copy kept yet
    Source.objects.create(commitment=ministerial.commitment, reference=copy.address, fact="x")
    body = client.get(f"/api/v1/commitments/{ministerial.commitment_id}/").json()
    by_reference = {s["reference"]: s["archived_copy"] for s in body["sources"]}
    assert by_reference[copy.address] == {
        "url": f"http://testserver/archive/{copy.pk}/",
        "fetched_at": "2026-02-05T09:30:00Z",
    }


def test_the_api_gives_the_copy_beside_a_log_entrys_source(client, copy, ministerial):
    from commitments.models import LogEntry

    LogEntry.objects.create(
        key="release",
        milestone=ministerial,
        on=dt.date(2026, 2, 4),
        kind=LogEntry.Kind.CONTEXT,
        text="A release.",
        source_address=copy.address,
        source_passage="Hello é",
    )
    body = client.get(f"/api/v1/milestones/{ministerial.pk}/log/").json()["results"]
    [entry] = [e for e in body if e["source"]["address"] == copy.address]
    assert entry["source"]["archived_copy"]["url"] == f"http://testserver/archive/{copy.pk}/"


def test_pages_read_as_many_queries_with_20_copies_as_with_none(client, copy, ministerial):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tracker.archive.models import Capture, LinkCheck

    pages = [
        f"/milestones/{ministerial.pk}/",
        f"/agreements/{ministerial.commitment.agreement.slug}/",
        f"/api/v1/commitments/{ministerial.commitment_id}/",
    ]

    def counts() -> list[int]:
        found = []
        for url in pages:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            found.append(len(queries))
        return found

    before = counts()
    for i in range(20):
        address = f"https://example.org/{i}"
        Source.objects.create(milestone=ministerial, reference=address, fact=str(i))
        Capture.objects.update_or_create(  # the save queued it: pending until now
            address=address, defaults={"state": "archived", "fetched_at": T0}
        )
        LinkCheck.objects.create(address=address, checked_at=T0, outcome="ok", answers=i % 2 == 0)
    assert counts() == before


def test_a_pdf_copy_is_served_as_a_download(client, site, db):
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    site.expect_request("/doc.pdf").respond_with_data(pdf, content_type="application/pdf")
    capture = services.archive_address(site.url_for("/doc.pdf"))
    response = client.get(f"/archive/{capture.pk}/raw")
    assert response.content == pdf and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="archived-{capture.pk}.pdf"'
    assert response["Content-Security-Policy"].startswith("sandbox;")


def cut_short_in_the_body(path) -> None:
    """The file ends 20 bytes before the response record's gzip member does."""
    with path.open("rb") as handle:
        records = ArchiveIterator(handle)
        for record in records:
            record.content_stream().read()
            if record.rec_type == "response":
                end = records.get_record_offset() + records.get_record_length()
    path.write_bytes(path.read_bytes()[: end - 20])


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda path: path.unlink(), id="missing"),
        pytest.param(cut_short_in_the_body, id="cut-short"),
        pytest.param(lambda path: path.write_bytes(b"not a WARC"), id="not-a-warc"),
        pytest.param(lambda path: path.write_bytes(b""), id="empty"),
    ],
)
def test_a_copy_whose_file_is_gone_or_damaged_says_so(client, copy, archive_dir, damage, caplog):
    # A body cut short by a truncated file reads without an error from warcio: the
    # kept sha256 tells it from the copy.
    damage(archive_dir / copy.warc)
    response = client.get(f"/archive/{copy.pk}/raw")
    assert response.status_code == 404
    assert (
        response.content.decode() == f"The stored copy of {copy.address} is missing or damaged.\n"
    )
    assert copy.warc in caplog.text  # the operator learns which file
    # The banner page still says what the copy was, and where the original is.
    assert client.get(f"/archive/{copy.pk}/").status_code == 200
