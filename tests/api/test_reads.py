from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db.models import F

from commitments import deadlines
from commitments.models import Agreement, Commitment, Milestone, Status
from commitments.selectors import (
    commitments_with_progress,
    derived_status,
    derived_status_expression,
    progress_of,
)
from commitments.services import milestone_set_status
from tracker.models import SweepRun

from .conftest import EVIDENCE, TODAY

pytestmark = pytest.mark.usefixtures("frozen")

US_JAPAN = "us-japan-critical-minerals-2025"
# Malaysia's quarterly meetings, one occurrence each (docs/recurring.md): four missed by
# 2026-11-21, the next due 2027-01-26.
MEETING = "working-level-meeting-{}"
MISSED = [MEETING.format(d) for d in ("2026-01-26", "2026-04-26", "2026-07-26", "2026-10-26")]
# The shipped dated milestones besides US–Japan's two, all overdue on 2026-11-21:
# Malaysia's four meetings, US–Australia's follow-up and Investment Ministerial (both
# 2026-04-18, in loading order) and its money.
OVERDUE = {*MISSED, "follow-up-meeting", "investment-ministerial-convened", "projects-funded"}
DATED = [
    "2026-01-26",
    "2026-04-18",
    "2026-04-18",
    "2026-04-20",
    "2026-04-26",
    "2026-04-26",
    "2026-04-28",
    "2026-07-26",
    "2026-10-26",
    "2027-01-26",
]


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_agreement_shows_its_progress_with_both_deadlines_overdue(api, agreements):
    body = api.get(f"/api/v1/agreements/{US_JAPAN}/").json()
    assert body["signed_on"] == "2025-10-28" and body["time_zone"] == "Asia/Tokyo"
    assert {p["code"] for p in body["parties"]} == {"US", "JP"}
    assert body["binding"] is False and body["sources"]
    assert body["progress"] == {
        "total": 15,
        "not_started": 15,
        "in_progress": 0,
        "at_risk": 0,
        "completed": 0,
        "cancelled": 0,
        "overdue": 2,
        "percent_complete": 0.0,
        "next_deadline": None,
    }
    assert body["updated_at"].endswith("Z")


def test_agreements_list_every_agreement(api, agreements):
    slugs = [a["slug"] for a in results(api.get("/api/v1/agreements/"))]
    assert US_JAPAN in slugs and len(slugs) == Agreement.objects.count()


def test_unknown_agreement_is_a_problem_404(api, agreements):
    response = api.get("/api/v1/agreements/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_milestone_shows_rule_due_date_and_days_overdue(api, ministerial):
    body = api.get(f"/api/v1/milestones/{ministerial.pk}/").json()
    assert body["due_on"] == "2026-04-26"
    assert body["deadline_rule"]["text"] == "180 days after signature"
    assert body["deadline_rule"]["kind"] == "days_after" and body["deadline_rule"]["amount"] == 180
    assert body["is_overdue"] is True and body["flagged_overdue_at"] is None
    assert body["days_remaining"] == -209
    assert body["agreement"] == US_JAPAN and body["commitment"] == ministerial.commitment_id
    assert body["url"].endswith(f"/api/v1/milestones/{ministerial.pk}/")
    assert body["status"] == "not_started" and body["completed_on"] is None


def test_milestone_without_a_deadline_has_no_due_date(api, agreements):
    milestone = Milestone.objects.get(key="permitting-measures")
    body = api.get(f"/api/v1/milestones/{milestone.pk}/").json()
    assert body["due_on"] is None and body["days_remaining"] is None
    assert body["deadline_rule"]["text"] == "no deadline" and body["is_overdue"] is False


def test_sweep_flag_is_shown_under_a_name_that_says_so(api, ministerial):
    Milestone.objects.filter(pk=ministerial.pk).update(
        overdue_since=TODAY, version=F("version") + 1
    )
    body = api.get(f"/api/v1/milestones/{ministerial.pk}/").json()
    assert body["flagged_overdue_at"] == "2026-11-21T03:00:00Z"
    assert "overdue_since" not in body


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("/api/v1/milestones/{pk}/", lambda body: [body]),
        (f"/api/v1/milestones/?agreement={US_JAPAN}", lambda body: body["results"]),
        ("/api/v1/commitments/{commitment}/", lambda body: body["milestones"]),
        ("/api/v1/status/", lambda body: body["overdue"]["milestones"]),
        ("/api/v1/status/?as_of=2026-05-01", lambda body: body["overdue"]["milestones"]),
    ],
)
def test_milestones_carry_the_deadline_moment_and_its_zone(api, ministerial, url, where):
    """Issue 21, item 2: the deadline moment (2026-04-27 00:00 in Tokyo), in UTC, with the
    agreement's zone, from the deadline arithmetic; not when the sweep noticed."""
    body = api.get(url.format(pk=ministerial.pk, commitment=ministerial.commitment_id)).json()
    found = next(m for m in where(body) if m["id"] == ministerial.pk)
    moment = deadlines.overdue_at(dt.date(2026, 4, 26), "Asia/Tokyo")
    assert moment == dt.datetime(2026, 4, 26, 15, 0, tzinfo=dt.UTC)
    assert found["overdue_from"] == "2026-04-26T15:00:00Z"
    assert found["time_zone"] == "Asia/Tokyo"
    assert found["flagged_overdue_at"] is None


def test_completed_milestone_is_not_overdue(api, ministerial, alice):
    milestone_set_status(
        milestone=ministerial,
        status=Status.COMPLETED,
        by=alice,
        evidence_url=EVIDENCE,
        completed_on=dt.date(2026, 4, 24),
    )
    body = api.get(f"/api/v1/milestones/{ministerial.pk}/").json()
    assert (body["status"], body["completed_on"]) == ("completed", "2026-04-24")
    assert body["is_overdue"] is False and body["days_remaining"] is None


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("overdue=true", OVERDUE | {"ministerial-convened", "projects-selected-and-funded"}),
        (
            "due_before=2026-04-27",
            {
                *MISSED[:2],
                "follow-up-meeting",
                "investment-ministerial-convened",
                "projects-funded",
                "ministerial-convened",
            },
        ),
        (
            "due_after=2026-04-26",
            {"projects-selected-and-funded", *MISSED[2:], MEETING.format("2027-01-26")},
        ),
        (
            "due_after=2026-04-25&due_before=2026-04-29",
            {"ministerial-convened", "projects-selected-and-funded", MISSED[1]},
        ),
        ("status=in_progress", {"ministerial-convened"}),
        (
            "status=in_progress&status=at_risk",
            {"ministerial-convened", "projects-selected-and-funded"},
        ),
    ],
)
def test_milestone_filters(api, ministerial, project_selection, alice, query, keys):
    milestone_set_status(milestone=ministerial, status=Status.IN_PROGRESS, by=alice)
    milestone_set_status(milestone=project_selection, status=Status.AT_RISK, by=alice)
    found = {m["key"] for m in results(api.get(f"/api/v1/milestones/?{query}&page_size=100"))}
    assert found == keys


def test_overdue_false_is_everything_else(api, agreements):
    found = results(api.get("/api/v1/milestones/?overdue=false&page_size=100"))
    assert len(found) == Milestone.objects.count() - len(OVERDUE) - 2  # and US–Japan's two
    assert not any(m["is_overdue"] for m in found)


def test_agreement_and_commitment_filters(api, ministerial):
    found = results(api.get(f"/api/v1/milestones/?agreement={US_JAPAN}&page_size=100"))
    assert len(found) == 15
    found = results(api.get(f"/api/v1/milestones/?commitment={ministerial.commitment_id}"))
    assert [m["id"] for m in found] == [ministerial.pk]


def test_updated_since_returns_what_changed_at_or_after(api, ministerial, frozen):
    frozen.shift(dt.timedelta(hours=1))
    milestone_set_status(milestone=ministerial, status=Status.IN_PROGRESS, by=None)
    since = (TODAY + dt.timedelta(minutes=30)).isoformat()
    found = results(api.get("/api/v1/milestones/", {"updated_since": since}))
    assert [m["key"] for m in found] == ["ministerial-convened"]
    exact = results(api.get("/api/v1/milestones/", {"updated_since": found[0]["updated_at"]}))
    assert [m["key"] for m in exact] == ["ministerial-convened"]


def test_orderings_are_total_and_stable(api, agreements):
    by_due = results(api.get("/api/v1/milestones/?page_size=100"))
    dues = [m["due_on"] for m in by_due]
    assert dues[: len(DATED)] == DATED and set(dues[len(DATED) :]) == {None}
    nulls = [m["id"] for m in by_due[len(DATED) :]]
    assert nulls == sorted(nulls)
    recent = results(api.get("/api/v1/milestones/?ordering=-updated_at&page_size=100"))
    assert [(m["updated_at"], m["id"]) for m in recent] == sorted(
        ((m["updated_at"], m["id"]) for m in recent), reverse=True
    )


def test_pages_cover_every_milestone_once(api, agreements):
    seen, url = [], "/api/v1/milestones/?page_size=3"
    while url:
        body = api.get(url).json()
        seen += [m["id"] for m in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(Milestone.objects.values_list("id", flat=True))
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("overdue=maybe", "overdue"),
        ("due_before=2026-13-01", "due_before"),
        ("due_after=yesterday", "due_after"),
        ("updated_since=not-a-time", "updated_since"),
        ("status=done", "status"),
        ("ordering=title", "ordering"),
        ("commitment=abc", "commitment"),
        ("commitment=99999999999999999999999", "commitment"),
        ("page_size=0", "page_size"),
        ("page_size=201", "page_size"),
        ("page_size=ten", "page_size"),
        ("page=0", "page"),
        ("agreement=%00", "agreement"),
    ],
)
def test_bad_filter_values_are_400s_naming_the_parameter(api, agreements, query, field):
    response = api.get(f"/api/v1/milestones/?{query}")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 400 and body["title"] == "Bad Request"
    assert [e["field"] for e in body["errors"]] == [field]
    assert field in body["detail"]


@pytest.mark.parametrize(
    ("since", "everything"),
    [("9999-12-31T23:59:59-10:00", False), ("0001-01-01T00:00:02+02:00", True)],
)
def test_an_instant_beyond_utcs_range_is_that_end_of_it(api, agreements, since, everything):
    response = api.get("/api/v1/milestones/", {"updated_since": since, "page_size": 200})
    assert response.status_code == 200, response.content
    assert response.json()["count"] == (Milestone.objects.count() if everything else 0)


def test_page_beyond_the_end_is_400_naming_page_and_the_last(api, agreements):
    size = 2
    link = api.get(f"/api/v1/milestones/?page_size={size}")["Link"]
    last = int(re.search(rf'page=(\d+)&page_size={size}>; rel="last"', link).group(1))
    for query in (f"page=99&page_size={size}", f"page={last + 1}&page_size={size}"):
        response = api.get(f"/api/v1/milestones/?{query}")
        assert response.status_code == 400
        (error,) = response.json()["errors"]
        assert error["field"] == "page"
        assert error["reason"].endswith(f"the last is {last}."), error
    assert api.get(f"/api/v1/milestones/?page={last}&page_size={size}").status_code == 200


def test_history_is_newest_first(api, ministerial, alice, frozen):
    milestone_set_status(
        milestone=ministerial, status=Status.IN_PROGRESS, by=alice, note="Date being agreed"
    )
    frozen.shift(dt.timedelta(hours=1))
    milestone_set_status(milestone=ministerial, status=Status.AT_RISK, by=None, note="Slipping")
    body = results(api.get(f"/api/v1/milestones/{ministerial.pk}/history/"))
    assert [(u["from_status"], u["to_status"], u["by"]) for u in body] == [
        ("in_progress", "at_risk", "system"),
        ("not_started", "in_progress", "staff"),  # finding 19: no usernames
    ]
    assert b"alice" not in api.get(f"/api/v1/milestones/{ministerial.pk}/history/").content
    assert body[1]["note"] == "Date being agreed" and body[0]["at"] == "2026-11-21T04:00:00Z"


def test_history_of_unknown_milestone_is_404(api, agreements):
    assert api.get("/api/v1/milestones/999999/history/").status_code == 404


def test_commitment_has_milestones_leads_owner_and_derived_status(api, ministerial, alice):
    Commitment.objects.filter(pk=ministerial.commitment_id).update(owner=alice)
    alice.first_name, alice.last_name = "Alice", "Archer"
    alice.save()
    body = api.get(f"/api/v1/commitments/{ministerial.commitment_id}/").json()
    assert body["status"] == "overdue" and body["owner"] == "Alice Archer"
    assert [m["key"] for m in body["milestones"]] == ["ministerial-convened"]
    assert body["milestones"][0]["days_remaining"] == -209
    assert body["agreement"] == US_JAPAN and body["category"] == "institutions"
    assert body["progress"]["overdue"] == 1


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "status=overdue",
            {
                "project-selection-and-financing",
                "investment-ministerial",
                "extraction-and-processing-pipeline",
                "response-group",
                "quarterly-meetings",
            },
        ),
        ("category=stockpiling", {"stockpiling", "supply-assurance"}),
        ("category=permitting&agreement=" + US_JAPAN, {"streamlined-permitting"}),
    ],
)
def test_commitment_filters(api, agreements, query, expected):
    found = {c["key"] for c in results(api.get(f"/api/v1/commitments/?{query}&page_size=100"))}
    assert found == expected


def test_commitment_lead_filter_by_party_or_title(api, agreements):
    leads = Commitment.objects.filter(leads__isnull=False).distinct()
    lead = leads.first().leads.first()
    by_title = results(api.get("/api/v1/commitments/", {"lead": lead.title.split()[-1]}))
    assert lead.commitment.key in {c["key"] for c in by_title}
    if lead.party:
        by_party = results(api.get("/api/v1/commitments/", {"lead": lead.party.code.lower()}))
        assert lead.commitment.key in {c["key"] for c in by_party}


def test_commitment_bad_filters(api, agreements):
    for query in ("category=mining", "status=late"):
        response = api.get(f"/api/v1/commitments/?{query}")
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == query.split("=")[0]


def test_derived_status_in_sql_matches_the_selector(ministerial, project_selection, alice):
    milestone_set_status(
        milestone=ministerial, status=Status.COMPLETED, by=alice, evidence_url=EVIDENCE
    )
    milestone_set_status(milestone=project_selection, status=Status.AT_RISK, by=alice)
    rows = commitments_with_progress(TODAY).annotate(derived=derived_status_expression())
    for commitment in rows:
        assert commitment.derived == derived_status(progress_of(commitment)), commitment.key


def test_status_document(api, ministerial, project_selection, alice):
    milestone_set_status(
        milestone=project_selection, status=Status.COMPLETED, by=alice, evidence_url=EVIDENCE
    )
    response = api.get("/api/v1/status/")
    body = response.json()
    assert body["as_of"] is None and "X-Tracker-As-Of" not in response
    overdue = body["overdue"]["milestones"]
    keys = [Milestone.objects.get(pk=m["id"]).key for m in overdue]
    assert keys == [
        MISSED[0],
        "follow-up-meeting",
        "investment-ministerial-convened",
        "projects-funded",
        "ministerial-convened",
        *MISSED[1:],
    ]
    assert body["overdue"]["count"] == 8 and body["overdue"]["truncated"] is False
    assert overdue[4]["id"] == ministerial.pk and overdue[4]["days_remaining"] == -209
    japan = next(a for a in body["agreements"] if a["slug"] == US_JAPAN)
    assert japan["progress"]["completed"] == 1 and japan["progress"]["overdue"] == 1
    assert [m["due_on"] for m in body["next_deadlines"]] == ["2027-01-26"]  # the next meeting


def test_status_lists_next_deadlines_soonest_first(api, agreements, frozen):
    frozen.move_to(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    body = api.get("/api/v1/status/").json()
    assert [m["due_on"] for m in body["next_deadlines"]] == DATED
    japan = [m for m in body["next_deadlines"] if m["agreement"] == US_JAPAN]
    assert japan[0]["days_remaining"] == 115
    assert body["overdue"]["count"] == 0


def test_status_as_of_is_the_last_sweep(api, agreements):
    SweepRun.objects.create(started_at=TODAY, evaluated_at=TODAY, finished_at=TODAY)
    response = api.get("/api/v1/status/")
    assert response.json()["as_of"] == "2026-11-21T03:00:00Z"
    assert response["X-Tracker-As-Of"] == "2026-11-21T03:00:00Z"


def test_status_truncates_a_long_overdue_list(api, agreements, settings):
    settings.API_STATUS_OVERDUE_LIMIT = 1
    overdue = api.get("/api/v1/status/").json()["overdue"]
    assert overdue["count"] == len(OVERDUE) + 2 and overdue["truncated"] is True
    assert len(overdue["milestones"]) == 1


def test_unknown_api_path_is_a_problem(api, db):
    response = api.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_methods_other_than_read_are_refused_on_reads(api, agreements, alice):
    from .conftest import client_for

    editor = client_for(alice)
    assert editor.post("/api/v1/agreements/", {}).status_code == 405
    assert editor.put("/api/v1/milestones/1/", {}).status_code == 405
    assert editor.delete("/api/v1/milestones/1/").status_code == 405
    assert api.post("/api/v1/status/", {}).status_code in (401, 405)
