"""/api/v1/status/?as_of=YYYY-MM-DD answers from the same selector as the public
pages' "as of"."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from commitments.models import Milestone
from commitments.selectors import milestone_states_as_of

NOW = dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.usefixtures("agreements")


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def overdue_ids(client, day: str) -> list[int]:
    response = client.get("/api/v1/status/", {"as_of": day})
    assert response.status_code == 200
    body = response.json()
    return [m["id"] for m in body["overdue"]["milestones"]]


def test_day_180_and_day_181_as_the_pages_see_them(client, ministerial):
    assert ministerial.pk not in overdue_ids(client, "2026-04-26")
    assert ministerial.pk in overdue_ids(client, "2026-04-27")


def test_the_document_agrees_with_the_selector(client):
    day = dt.date(2026, 5, 1)
    ms = list(
        Milestone.objects.select_related("commitment__agreement", "rule_anchor_milestone")
        .prefetch_related("parts")
        .filter(commitment__agreement__signed_on__lte=day)
    )
    expected = {pk for pk, s in milestone_states_as_of(ms, day).items() if s.overdue}
    assert set(overdue_ids(client, day.isoformat())) == expected


def test_a_bad_as_of_is_a_problem_naming_the_field(client):
    response = client.get("/api/v1/status/", {"as_of": "2026-02-30"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"field": "as_of", "reason": "is not a day of the calendar"}
    ]


def shape(node):
    """The keys of a document, all the way down (a list by its first item)."""
    if isinstance(node, dict):
        return {key: shape(value) for key, value in node.items()}
    if isinstance(node, list):
        return [shape(node[0])] if node else []
    return None


def test_as_of_answers_the_shape_of_the_live_document(client, settings):
    """Issue 21, item 4: as_of_day instead of as_of, no truncated, no overdue_since."""
    settings.API_STATUS_OVERDUE_LIMIT = 1
    live = client.get("/api/v1/status/").json()
    past = client.get("/api/v1/status/", {"as_of": "2026-05-01"}).json()
    assert shape(past) == shape(live)
    assert list(past) == ["as_of", "agreements", "overdue", "next_deadlines"]
    assert past["overdue"]["truncated"] is True and len(past["overdue"]["milestones"]) == 1
    # The end of 1 May in the last of the agreements' zones to end it (New York, EDT).
    assert past["as_of"] == "2026-05-02T03:59:59.999999Z"
    assert past["overdue"]["milestones"][0]["flagged_overdue_at"] is None


def test_as_of_is_in_the_schema(client):
    import yaml

    schema = yaml.safe_load(client.get("/api/schema/").content)
    operation = schema["paths"]["/api/v1/status/"]["get"]
    (as_of,) = [p for p in operation["parameters"] if p["name"] == "as_of"]
    assert as_of["in"] == "query" and as_of["schema"] == {"type": "string", "format": "date"}
    document = schema["components"]["schemas"]["Status"]
    assert "as_of" in document["properties"] and "as_of_day" not in document["properties"]


def test_an_empty_as_of_is_a_problem_as_every_empty_parameter(client):
    response = client.get("/api/v1/status/", {"as_of": ""})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "as_of"
