"""CSV for milestones and commitments: same filters as the JSON, a header row, ISO
dates, streamed."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo

import pytest

pytestmark = pytest.mark.usefixtures("frozen")


def rows(response) -> list[dict[str, str]]:
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("how", ["accept", "format"])
def test_milestones_as_csv_with_the_same_filters(api, agreements, how):
    query = "overdue=true"
    if how == "accept":
        response = api.get(f"/api/v1/milestones/?{query}", HTTP_ACCEPT="text/csv")
    else:
        response = api.get(f"/api/v1/milestones/?{query}&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv; charset=utf-8")
    table = rows(response)
    as_json = api.get(f"/api/v1/milestones/?{query}&page_size=200").json()["results"]
    assert [int(r["id"]) for r in table] == [m["id"] for m in as_json]
    assert {r["is_overdue"] for r in table} == {"true"}
    first = next(m for m in as_json if m["id"] == int(table[0]["id"]))
    assert table[0]["due_on"] == first["due_on"]  # ISO date
    assert table[0]["agreement"] == first["agreement"]


def test_commitments_as_csv(api, agreements):
    response = api.get("/api/v1/commitments/?format=csv&category=stockpiling")
    table = rows(response)
    expected = api.get("/api/v1/commitments/?category=stockpiling&page_size=200").json()
    assert [int(r["id"]) for r in table] == [c["id"] for c in expected["results"]]
    assert list(table[0]) == [
        "id", "agreement", "key", "number", "title", "category", "status", "milestones",
        "completed", "overdue", "percent_complete", "next_deadline", "updated_at",
    ]  # fmt: skip
    assert table[0]["status"] == expected["results"][0]["status"]


def test_csv_has_its_own_etag_and_304(api, agreements):
    as_csv = api.get("/api/v1/milestones/?format=csv")
    as_json = api.get("/api/v1/milestones/")
    assert as_csv["ETag"] != as_json["ETag"]
    again = api.get("/api/v1/milestones/?format=csv", HTTP_IF_NONE_MATCH=as_csv["ETag"])
    assert again.status_code == 304


def test_csv_errors_are_problems(api, agreements):
    response = api.get("/api/v1/milestones/?format=csv&overdue=maybe")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    response = api.get("/api/v1/milestones/?page=99", HTTP_ACCEPT="text/csv")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "page"


def test_a_page_of_csv(api, agreements):
    page = rows(api.get("/api/v1/milestones/?format=csv&page=2&page_size=3"))
    as_json = api.get("/api/v1/milestones/?page=2&page_size=3").json()["results"]
    assert [int(r["id"]) for r in page] == [m["id"] for m in as_json]


def test_a_spreadsheet_formula_is_not_one(api, ministerial):
    type(ministerial).objects.filter(pk=ministerial.pk).update(title="=HYPERLINK(1)")
    table = rows(api.get("/api/v1/milestones/?format=csv"))
    assert any(r["title"] == "'=HYPERLINK(1)" for r in table)


def test_csv_is_a_constant_number_of_queries(api, agreements, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # counter, time zones, the rows (one chunk)
        response = api.get("/api/v1/milestones/?format=csv")
        rows(response)


def instance_rows(queryset, now, window=None):
    """The export as it was first written, from model instances: the reference that the
    ``values_list`` rows must match byte for byte."""
    rows = queryset.select_related("commitment__agreement").prefetch_related(None)
    rows = rows if window is None else rows[window[0] : window[1]]
    for m in rows.iterator(chunk_size=2000):
        yield [
            m.pk, m.commitment.agreement.slug, m.commitment_id, m.key, m.title, m.due_on,
            m.original_due_on, m.status, m.is_overdue_at(now), m.overdue_since,
            m.completed_on, m.evidence_url, m.version, m.updated_at,
        ]  # fmt: skip


@pytest.mark.parametrize(
    "query",
    [
        "",
        "overdue=true",
        "overdue=false&ordering=-updated_at",
        "status=completed",
        "agreement=us-japan-critical-minerals-2025",
        "ordering=-due_on&page=2&page_size=5",
    ],
)
def test_milestone_csv_is_the_same_bytes_as_from_model_instances(
    api, agreements, ministerial, query, monkeypatch
):
    from django.utils import timezone

    from commitments.models import Milestone
    from tracker.api import csv_export

    Milestone.objects.filter(pk=ministerial.pk).update(
        title='A "quoted", \u65e5\u672c, line\nbreak', overdue_since=timezone.now()
    )
    Milestone.objects.filter(key="projects-selected-and-funded").update(
        status="completed", completed_on="2026-05-01", evidence_url="https://example.org/a,b"
    )
    url = f"/api/v1/milestones/?format=csv&{query}"
    fast = b"".join(api.get(url).streaming_content)
    monkeypatch.setitem(
        csv_export.EXPORTS, Milestone, (csv_export.MILESTONE_COLUMNS, instance_rows)
    )
    reference = b"".join(api.get(url).streaming_content)
    assert fast == reference
    assert fast.count(b"\r\n") >= 2  # the header and at least one row


@pytest.mark.parametrize(
    "value",
    [
        0, 7, True, False, None, "", "plain", "=1+1", "+1", "-1", "@x", "'",
        dt.date(2026, 4, 26), dt.datetime(2026, 4, 26, 15, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 4, 27, 0, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo")),
    ],
)  # fmt: skip
def test_a_cell_is_formatted_alike_by_its_type_and_by_the_checks(value):
    """``_cell`` looks the formatter up by exact type; ``_any_cell`` (the checks, for
    subclasses) must agree with it on every type a row holds."""
    from tracker.api.csv_export import _any_cell, _cell

    assert _cell(value) == _any_cell(value)
    assert type(_cell(value)) is type(_any_cell(value))
