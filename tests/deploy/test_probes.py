"""/healthz, /readyz and /metrics: cheap, unauthenticated probes; metrics guarded."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import OperationalError
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from commitments.models import Milestone
from tests.conftest import free_port
from tracker.models import Alert, SweepRun
from tracker.ops import middleware

NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


def samples(response) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture(autouse=True)
def fresh_probe_client():
    middleware._redis_for_probe.cache_clear()
    yield
    middleware._redis_for_probe.cache_clear()


def test_healthz_answers_without_the_database_or_the_host_check(client, settings):
    settings.ALLOWED_HOSTS = ["tracker.example.org"]
    settings.SECURE_SSL_REDIRECT = True
    # No django_db mark: any database access would raise.
    response = client.get("/healthz", HTTP_HOST="10.0.0.5:8000")
    assert (response.status_code, response.content) == (200, b"ok\n")


@pytest.mark.django_db
def test_readyz_checks_the_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["ready"] is True
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_readyz_is_503_when_the_configured_redis_does_not_answer(client, settings):
    settings.REDIS_CACHE_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "ready": False,
        "checks": {"database": "ok", "redis": "unreachable"},
    }


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_does_not_answer(client, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(middleware.connection, "cursor", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unreachable"


@pytest.mark.django_db
def test_metrics_needs_the_token_when_one_is_set(client, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")
    assert ok.status_code == 200
    assert ok["Content-Type"].startswith("text/plain; version=0.0.4")


@pytest.mark.django_db
def test_metrics_without_a_token_only_for_a_direct_loopback_scraper(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    # Through nginx on the same host (a trusted proxy appends the client's address).
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="10.231.0.9").status_code == 404


@pytest.mark.django_db
def test_metrics_report_requests_by_status_the_sweep_and_the_outbox(client, agreements):
    before = samples(client.get("/metrics"))
    client.get("/no-such-page/")
    client.get("/no-such-page/")
    m = Milestone.objects.order_by("pk").first()
    with time_machine.travel(NOW, tick=False):
        SweepRun.objects.create(
            started_at=NOW - dt.timedelta(minutes=7),
            evaluated_at=NOW - dt.timedelta(minutes=7),
            finished_at=NOW - dt.timedelta(minutes=6),
        )
        SweepRun.objects.create(started_at=NOW, evaluated_at=NOW)  # running, not finished

        def alert(recipient: str, age_minutes: int, **state) -> None:
            Alert.objects.create(
                milestone=m,
                kind="overdue",
                recipient=recipient,
                due_on=NOW.date(),
                created_at=NOW - dt.timedelta(minutes=age_minutes),
                next_attempt_at=NOW,
                **state,
            )

        alert("a@example.org", 30)
        alert("b@example.org", 5)
        alert("c@example.org", 90, failed=True)
        alert("d@example.org", 120, sent_at=timezone.now())
        after = samples(client.get("/metrics"))

    def grew(status: str) -> float:
        key = ("tracker_http_requests_total", (("status", status),))
        return after.get(key, 0) - before.get(key, 0)

    assert grew("404") == 2
    assert grew("200") >= 1  # the first scrape
    assert after[("tracker_sweep_last_success_age_seconds", ())] == 360
    assert (
        after[("tracker_sweep_last_success_timestamp_seconds", ())]
        == (NOW - dt.timedelta(minutes=6)).timestamp()
    )
    assert after[("tracker_alerts_pending", ())] == 2
    assert after[("tracker_alerts_failed", ())] == 1
    assert after[("tracker_alerts_oldest_pending_age_seconds", ())] == 1800
    assert after[("tracker_database_up", ())] == 1


@pytest.mark.django_db
def test_metrics_leave_out_what_the_tables_cannot_answer(client, monkeypatch):
    from tracker.ops import metrics

    def changed(*args, **kwargs):
        raise LookupError("No installed app with label 'tracker'")

    monkeypatch.setattr(metrics.apps, "get_model", changed)
    response = client.get("/metrics")
    assert response.status_code == 200
    names = {name for name, _ in samples(response)}
    assert "tracker_alerts_pending" not in names
    assert "tracker_http_requests_total" in names


@pytest.mark.django_db
def test_a_database_gone_mid_request_is_503_problem_json_under_the_api(
    client, monkeypatch, agreements
):
    from tracker.api import views

    def down(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(views.AgreementViewSet, "retrieve", down)
    response = client.get("/api/v1/agreements/us-japan-critical-minerals-2025/")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "5"
    assert response.json()["status"] == 503
