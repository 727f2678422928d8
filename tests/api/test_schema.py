"""The OpenAPI document tells the truth: public reads need no authentication, the
headers the answers send are documented, the examples are the shipped agreements as
the API shows them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from commitments.models import Milestone
from tests.conftest import require_service
from tracker.api.schema import examples

pytestmark = pytest.mark.usefixtures("frozen")
MALAYSIA = "us-malaysia-critical-minerals-2025"


@pytest.fixture
def schema(api, db) -> dict:
    return yaml.safe_load(api.get("/api/schema/").content)


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_public_reads_show_no_padlock_and_the_write_does(schema):
    for path, method, operation in operations(schema):
        if method == "get":
            assert not operation.get("security"), path
        else:
            assert {"bearerToken": []} in operation["security"], path
    assert "security" not in schema  # no global requirement either


def test_servers_and_licence(schema):
    assert schema["servers"][0]["url"]
    assert schema["info"]["license"]["name"] == "MIT"
    # Swagger UI shows a contact without a name as "the developer".
    assert schema["info"]["contact"]["name"] == "Commitment tracker"


def test_headers_are_documented_where_they_are_sent(schema):
    for path, method, operation in operations(schema):
        if method != "get":
            continue
        ok = operation["responses"]["200"]["headers"]
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(ok)
        # Every GET has an ETag and a 304, the event feed's too (issue 20, item 7).
        assert "ETag" in ok and "ETag" in operation["responses"]["304"]["headers"], path
        if path.endswith(("/agreements/", "/milestones/", "/commitments/", "/events/")):
            assert "Link" in ok, path
        if path.endswith("/status/"):
            assert "X-Tracker-As-Of" in ok
            assert "X-Tracker-As-Of" in operation["responses"]["304"]["headers"]


def test_the_400s_no_schema_can_express_are_described(schema):
    """Issue 21, item 19: a page past the end, a cursor the feed did not issue, and
    completed_on without status completed are 400s a client can read about."""

    def bad_request(path: str, method: str = "get") -> str:
        return schema["paths"][path][method]["responses"]["400"]["description"]

    for path in ["/api/v1/milestones/", "/api/v1/commitments/{id}/log/"]:
        assert "page past the end" in bad_request(path), path
    assert "`after` cursor this feed did not issue" in bad_request("/api/v1/events/")
    assert "`completed_on` without status `completed`" in bad_request(
        "/api/v1/milestones/{id}/", "patch"
    )
    problem = schema["paths"]["/api/v1/events/"]["get"]["responses"]["400"]["content"]
    assert problem["application/problem+json"]["schema"]["$ref"].endswith("/Problem")


def test_examples_are_the_shipped_agreements_as_the_api_shows_them(api, ministerial, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "tracker.example.org"]

    def get(url: str) -> dict:
        return json.loads(api.get(url, HTTP_HOST="tracker.example.org").content)

    shipped = examples()
    slug = "us-japan-critical-minerals-2025"
    assert shipped["agreement"] == get(f"/api/v1/agreements/{slug}/")
    assert shipped["index"] == get("/api/v1/")
    live = get(f"/api/v1/milestones/{ministerial.pk}/")
    assert shipped["milestone"]["key"] == live["key"] == "ministerial-convened"
    assert set(shipped["milestone"]) == set(live)
    assert shipped["milestone"]["due_on"] == live["due_on"]
    assert set(shipped["commitment"]) == set(get(f"/api/v1/commitments/{live['commitment']}/"))
    assert shipped["status"]["agreements"] == get("/api/v1/status/")["agreements"]
    # A recurring obligation (issue 21, item 1): its series and its occurrences.
    meetings = Milestone.objects.get(
        key="working-level-meeting", commitment__agreement__slug=MALAYSIA
    )
    live = get(f"/api/v1/milestones/{meetings.pk}/")
    assert set(shipped["milestone_series"]) == set(live)
    assert without_ids(shipped["milestone_series"]["series"]) == without_ids(live["series"])
    assert without_ids(shipped["milestone_series"]["occurrences"]) == without_ids(
        live["occurrences"]
    )
    occurrences = get(f"/api/v1/milestones/?series={meetings.pk}&page_size=1")
    assert without_ids(shipped["milestone_list"]["results"]) == without_ids(occurrences["results"])


def without_ids(value: object) -> object:
    """``value`` with its row ids blanked: the example's ids are those of a fresh load,
    and a database that other tests wrote to first numbers the same rows further on."""
    if isinstance(value, dict):
        return {
            k: "ID" if k in {"id", "commitment"} and isinstance(v, int) else without_ids(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"/\d+/", "/ID/", value)
    return value


def test_the_milestone_shows_both_its_examples(schema):
    ok = schema["paths"]["/api/v1/milestones/{id}/"]["get"]["responses"]["200"]
    named = ok["content"]["application/json"]["examples"]
    assert named["milestone"]["value"]["series"] is None
    assert named["milestone_series"]["value"]["series"]["rule"] == (
        "every 3 months from 26 January 2026"
    )


def test_the_schema_shows_examples(schema):
    agreement = schema["paths"]["/api/v1/agreements/{slug}/"]["get"]["responses"]["200"]
    assert agreement["content"]["application/json"]["example"]["slug"] == (
        "us-japan-critical-minerals-2025"
    )


ROOT = Path(__file__).resolve().parents[2]
REDOCLY = ROOT / "node_modules" / ".bin" / "redocly"


def test_redocly_recommended_rules_find_no_error(api, db, tmp_path):
    """Redocly's linter (npm, pinned in package-lock.json; scripts/ensure-public-deps
    installs it), the recommended rules, and redocly.yaml's one exception (trailing
    slashes: docs/api.md, "Redocly")."""
    require_service(
        REDOCLY.exists() and shutil.which("node") is not None,
        "@redocly/cli is not installed (npm ci)",
    )
    document = tmp_path / "openapi.json"
    document.write_bytes(api.get("/api/schema/?format=json").content)
    run = subprocess.run(
        [str(REDOCLY), "lint", "--extends=recommended", "--format=json", str(document)],
        cwd=ROOT,  # redocly.yaml
        env={**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert run.stdout.strip(), run.stderr
    problems = json.loads(run.stdout)["problems"]
    found = [
        (p["severity"], p["ruleId"], p["location"][0]["pointer"], p["message"]) for p in problems
    ]
    assert [f for f in found if f[0] == "error"] == []
    assert found == []  # no warning either (list any accepted one in docs/api.md)


def test_links_lead_to_operations_and_their_parameters(schema):
    """The OpenAPI links (the stateful phase of test_schemathesis.py follows them) name
    operations that exist, and parameters those operations have."""
    by_id = {op["operationId"]: op for _, _, op in operations(schema) if "operationId" in op}
    links = [
        (source, name, link)
        for source, op in by_id.items()
        for name, link in op["responses"].get("200", {}).get("links", {}).items()
    ]
    assert len(links) >= 10
    for source, name, link in links:
        target = by_id[link["operationId"]]
        known = {(p["in"], p["name"]) for p in target.get("parameters", [])}
        for parameter in link["parameters"]:
            where, _, named = parameter.rpartition(".")
            assert (where or "path", named) in known, (source, name, parameter)


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/", "/api/redoc/"])
def test_the_schema_and_the_docs_revalidate_by_their_content(api, db, url):
    first = api.get(url)
    assert first.status_code == 200 and "max-age=300" in first["Cache-Control"]
    again = api.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again["Cache-Control"] == first["Cache-Control"]
