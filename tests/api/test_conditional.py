"""The validators: they change when anything shown changes, and only then."""

from __future__ import annotations

import datetime as dt
import gzip
import time

import pytest
from django.db.models import F
from django.utils.http import http_date

from commitments.deadlines import DeadlineRule, RuleKind
from commitments.models import Milestone, Source, Status
from commitments.services import milestone_revise_deadline, milestone_set_status
from tracker.models import SweepRun

from .conftest import TODAY

pytestmark = pytest.mark.usefixtures("frozen")

READS = [
    "/api/v1/status/",
    "/api/v1/agreements/",
    "/api/v1/agreements/us-japan-critical-minerals-2025/",
    "/api/v1/commitments/",
    "/api/v1/milestones/",
    "/api/v1/milestones/?overdue=true",
]


def etag_of(api, url: str) -> str:
    response = api.get(url)
    assert response.status_code == 200, response.content
    return response["ETag"]


def still_holds(api, url: str, etag: str) -> bool:
    return api.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304


@pytest.mark.parametrize("url", READS)
def test_every_get_has_validators_and_cache_control(api, agreements, url):
    response = api.get(url)
    # Strong, but for /status/, whose as_of is outside its ETag.
    assert response["ETag"].startswith('W/"' if "status" in url else '"')
    assert response["Last-Modified"].endswith("GMT")
    assert "max-age=15" in response["Cache-Control"]


@pytest.mark.parametrize("url", READS)
def test_a_copy_that_still_holds_gets_304_without_a_body(api, agreements, url):
    first = api.get(url)
    again = api.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == first["ETag"] and again["Cache-Control"] == first["Cache-Control"]
    assert api.get(url, HTTP_IF_NONE_MATCH='W/"other", ' + first["ETag"]).status_code == 304
    assert api.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_nothing_changed_means_same_etag_later_that_day_and_after_an_idle_sweep(
    api, agreements, frozen
):
    before = {url: etag_of(api, url) for url in READS}
    # 23:59 in New York, the next of the agreements' zones to reach midnight.
    frozen.shift(dt.timedelta(hours=1, minutes=59))
    SweepRun.objects.create(started_at=TODAY, evaluated_at=TODAY, finished_at=TODAY)
    for url in READS:
        assert still_holds(api, url, before[url]), url


def test_status_as_of_travels_in_a_header_even_on_304(api, agreements):
    etag = etag_of(api, "/api/v1/status/")
    SweepRun.objects.create(started_at=TODAY, evaluated_at=TODAY, finished_at=TODAY)
    response = api.get("/api/v1/status/", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response["X-Tracker-As-Of"] == "2026-11-21T03:00:00Z"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda m, u: milestone_set_status(milestone=m, status=Status.AT_RISK, by=u),
            id="status-update",
        ),
        pytest.param(
            lambda m, u: Milestone.objects.filter(pk=m.pk).update(
                overdue_since=TODAY, version=F("version") + 1, updated_at=TODAY
            ),
            id="sweep-flag",
        ),
        pytest.param(
            lambda m, u: milestone_revise_deadline(
                milestone=m,
                rule=DeadlineRule(kind=RuleKind.DAYS_AFTER, amount=200),
                reason="Moved",
                source="https://example.org",
                by=u,
            ),
            id="deadline-recomputed",
        ),
        pytest.param(
            lambda m, u: Milestone.objects.filter(pk=m.pk).update(title="Renamed"),
            id="plain-update-without-version",
        ),
        pytest.param(
            lambda m, u: (
                Source.objects.filter(milestone=m).delete()
                or Milestone.objects.filter(pk=m.pk).delete()
            ),
            id="deletion",
        ),
    ],
)
@pytest.mark.parametrize(
    "url", ["/api/v1/status/", "/api/v1/milestones/", "/api/v1/commitments/", "/api/v1/agreements/"]
)
def test_any_change_shown_changes_the_etag(api, ministerial, alice, change, url):
    etag = etag_of(api, url)
    change(ministerial, alice)
    assert not still_holds(api, url, etag)
    assert api.get(url)["ETag"] != etag


JAPAN_DUE_BEFORE_27 = (
    "/api/v1/milestones/?agreement=us-japan-critical-minerals-2025&due_before=2026-04-27"
)


def test_day_rollover_in_the_agreements_zone_changes_the_etag(api, agreements, frozen):
    frozen.move_to(dt.datetime(2026, 4, 26, 14, 0, tzinfo=dt.UTC))  # 23:00 in Tokyo
    etag = etag_of(api, "/api/v1/status/")
    ministerial = api.get(JAPAN_DUE_BEFORE_27).json()["results"][0]
    assert ministerial["is_overdue"] is False and ministerial["days_remaining"] == 0
    frozen.move_to(dt.datetime(2026, 4, 26, 15, 0, tzinfo=dt.UTC))  # midnight in Tokyo
    assert not still_holds(api, "/api/v1/status/", etag)
    ministerial = api.get(JAPAN_DUE_BEFORE_27).json()["results"][0]
    assert ministerial["is_overdue"] is True and ministerial["days_remaining"] == -1


def test_etag_varies_with_the_query(api, agreements):
    plain = etag_of(api, "/api/v1/milestones/")
    assert etag_of(api, "/api/v1/milestones/?overdue=true") != plain
    assert etag_of(api, "/api/v1/milestones/?page_size=5") != plain
    assert etag_of(api, "/api/v1/milestones/?page_size=5&page=2") != etag_of(
        api, "/api/v1/milestones/?page_size=5"
    )


def test_etag_is_the_same_for_every_caller(api, agreements, bob):
    from .conftest import client_for

    assert etag_of(api, "/api/v1/status/") == etag_of(client_for(bob), "/api/v1/status/")


def test_if_modified_since_both_ways(api, ministerial, alice):
    url = "/api/v1/milestones/"
    last_modified = api.get(url)["Last-Modified"]
    assert api.get(url, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304
    time.sleep(1.1)  # HTTP dates have one-second resolution (the counter's clock is real)
    milestone_set_status(milestone=ministerial, status=Status.AT_RISK, by=alice)
    assert api.get(url, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 200
    # If-None-Match wins over If-Modified-Since.
    assert (
        api.get(url, HTTP_IF_MODIFIED_SINCE=http_date(), HTTP_IF_NONE_MATCH='"x"').status_code
        == 200
    )


def test_304_of_a_list_is_two_queries(api, agreements, django_assert_num_queries):
    for url in [u for u in READS[1:] if u.endswith("/") or "?" in u]:
        if url.count("/") > 4:
            continue
        etag = etag_of(api, url)
        with django_assert_num_queries(2):  # the counter, the agreements' zones
            assert still_holds(api, url, etag)


def test_304_of_one_object_is_three_queries(api, ministerial, django_assert_num_queries):
    for url in [
        "/api/v1/agreements/us-japan-critical-minerals-2025/",
        f"/api/v1/milestones/{ministerial.pk}/",
        f"/api/v1/commitments/{ministerial.commitment_id}/",
    ]:
        etag = etag_of(api, url)
        with django_assert_num_queries(3):  # it exists (or 404), the counter, the zones
            assert still_holds(api, url, etag)


def test_status_304_is_three_queries(api, agreements, django_assert_num_queries):
    etag = etag_of(api, "/api/v1/status/")
    with django_assert_num_queries(3):  # the counter, the zones, and as_of (the last sweep)
        assert still_holds(api, "/api/v1/status/", etag)


def test_large_bodies_are_gzipped(api, agreements):
    response = api.get("/api/v1/commitments/?page_size=100", HTTP_ACCEPT_ENCODING="gzip")
    assert response["Content-Encoding"] == "gzip"
    assert b"investment-ministerial" in gzip.decompress(response.content)
    assert "Accept-Encoding" in response["Vary"]


@pytest.mark.parametrize("url", ["/api/v1/milestones/{pk}/", "/api/v1/milestones/"])
def test_a_write_committed_while_the_body_is_read_never_leaves_an_older_etag(
    api, ministerial, monkeypatch, url
):
    """Issue 21, item 10: another process's write lands between the validators and the
    body. The answer must carry the ETag of the state its body shows, or a client
    holding it gets a spurious 412 (or, later, a 304 for a copy it never had)."""
    from rest_framework.generics import GenericAPIView

    from tracker.api import views

    original = views.MilestoneViewSet.paginate_queryset
    writes = []

    def write_once() -> None:  # "another process": its commit bumps the counter
        if not writes:
            bump = {"status": Status.AT_RISK, "version": F("version") + 1}
            writes.append(Milestone.objects.filter(pk=ministerial.pk).update(**bump))

    def paginate_after_a_write(self, *args, **kwargs):
        write_once()
        return original(self, *args, **kwargs)

    def get_object_after_a_write(self):
        write_once()
        return GenericAPIView.get_object(self)

    monkeypatch.setattr(views.MilestoneViewSet, "paginate_queryset", paginate_after_a_write)
    monkeypatch.setattr(views.MilestoneViewSet, "get_object", get_object_after_a_write)
    answer = api.get(url.format(pk=ministerial.pk))
    assert writes == [1]
    shown = answer.json()
    shown = (
        shown if "id" in shown else next(m for m in shown["results"] if m["id"] == ministerial.pk)
    )
    assert shown["status"] == "at_risk"
    monkeypatch.undo()
    assert answer["ETag"] == api.get(url.format(pk=ministerial.pk))["ETag"]


def test_what_the_view_would_refuse_is_left_to_the_view(api, agreements):
    url = "/api/v1/status/"
    assert api.get(url).status_code == 200  # rendered: the next may come from memory
    assert api.get(url, HTTP_ACCEPT="text/html").status_code == 406
    assert api.get(url, HTTP_ACCEPT="text/html, application/json;q=0.5").status_code == 200
    assert api.get(url + "?format=api").status_code == 400
    assert api.get("/api/v1/milestones/?overdue=maybe").status_code == 400
