"""CSV for milestones and commitments: same filters as the JSON, a header row, ISO
dates, streamed."""

from __future__ import annotations

import csv
import io

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


@pytest.mark.parametrize("accept", ["Text/CSV", "TEXT/CSV;q=0.9"])
def test_csv_is_asked_for_in_any_case(api, agreements, accept):
    """Media types are case-insensitive (RFC 9110 section 8.3.1): 'Accept: Text/CSV'
    chose the CSV renderer, but the view compared the type as written, answered with
    the JSON page for it to render, and that was a 500."""
    api.raise_request_exception = False
    response = api.get("/api/v1/commitments/", HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert len(rows(response)) == api.get("/api/v1/commitments/").json()["count"]


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


@pytest.mark.parametrize("title", ["=HYPERLINK(1)", "+1", "-1+1", "@x", "\t=1+1", "\r=1+1"])
def test_a_spreadsheet_formula_is_not_one(api, ministerial, title):
    """OWASP's six: the API neutralised = + - @ but not a leading tab or carriage return
    (issue 21, item 6)."""
    type(ministerial).objects.filter(pk=ministerial.pk).update(title=title)
    table = rows(api.get("/api/v1/milestones/?format=csv"))
    assert next(r for r in table if r["key"] == ministerial.key)["title"] == "'" + title


def test_csv_is_a_constant_number_of_queries(api, agreements, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # counter, time zones, the rows (one chunk)
        response = api.get("/api/v1/milestones/?format=csv")
        rows(response)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "overdue=true",
        "overdue=false&ordering=-updated_at",
        "ordering=-due_on&page=2&page_size=5",
    ],
)
def test_a_csv_row_says_what_the_json_says(api, agreements, ministerial, query):
    """Every column of a CSV row is the same field of the JSON item (text as text,
    null as an empty cell), for the same query."""
    from django.utils import timezone

    from commitments.models import Milestone

    Milestone.objects.filter(pk=ministerial.pk).update(
        title='A "quoted", \u65e5\u672c, line\nbreak', overdue_since=timezone.now()
    )
    Milestone.objects.filter(key="projects-selected-and-funded").update(
        status="completed", completed_on="2026-05-01", evidence_url="https://example.org/a,b"
    )
    size = "" if "page_size" in query else "&page_size=200"
    table = rows(api.get(f"/api/v1/milestones/?format=csv&{query}"))
    items = api.get(f"/api/v1/milestones/?{query}{size}").json()["results"]
    assert len(table) == len(items) > 0

    def as_cell(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    for row, item in zip(table, items, strict=True):
        assert row == {column: as_cell(item[column]) for column in row}, item["key"]
