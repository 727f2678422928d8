"""API_NUM_PROXIES=1 trusts only the address the proxy appended, and only from the
proxy (TRUSTED_PROXIES): reaching gunicorn directly with a forged X-Forwarded-For
escapes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.test import RequestFactory

from tracker.ops.client_ip import client_ip
from tracker.ops.middleware import OpsMiddleware

STATUS = "/api/v1/status/"


@pytest.fixture
def behind_one_proxy(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    settings.API_ANON_RATE = "3/min"
    cache.clear()
    with time_machine.travel(dt.datetime(2026, 11, 21, 12, 0, 5, tzinfo=dt.UTC), tick=False):
        yield
    cache.clear()


@pytest.mark.django_db
def test_a_direct_client_rotating_x_forwarded_for_is_still_limited(client, behind_one_proxy):
    codes = [
        client.get(
            STATUS, REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=f"10.1.1.{n}"
        ).status_code
        for n in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]


@pytest.mark.django_db
def test_through_the_proxy_the_appended_address_counts(client, behind_one_proxy):
    def via_nginx(claimed: str, real: str) -> int:
        return client.get(
            STATUS, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"{claimed}, {real}"
        ).status_code

    assert [via_nginx(f"10.1.1.{n}", "203.0.113.7") for n in range(4)] == [200, 200, 200, 429]
    assert via_nginx("10.1.1.1", "198.51.100.1") == 200  # another client


def test_the_middleware_drops_forwarded_headers_only_from_untrusted_peers(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    seen = {}

    def view(request):
        seen["ip"] = client_ip(request)
        seen["proto"] = request.META.get("HTTP_X_FORWARDED_PROTO")
        from django.http import HttpResponse

        return HttpResponse()

    ops = OpsMiddleware(view)
    factory = RequestFactory()
    forwarded = {"HTTP_X_FORWARDED_FOR": "1.2.3.4, 203.0.113.7", "HTTP_X_FORWARDED_PROTO": "https"}
    ops(factory.get("/", REMOTE_ADDR="127.0.0.1", **forwarded))
    assert seen == {"ip": "203.0.113.7", "proto": "https"}
    ops(factory.get("/", REMOTE_ADDR="198.51.100.9", **forwarded))
    assert seen == {"ip": "198.51.100.9", "proto": None}
