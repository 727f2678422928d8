"""Local HTTP servers for the fetch tests (pytest-httpserver, a thread in this
process), and a clean slate of per-host fetch state (backoff, robots, locks)."""

from __future__ import annotations

import ipaddress

import pytest
from django.core.cache import cache
from pytest_httpserver import HTTPServer

from tracker import netguard

# The "public" test host: a loopback address the guard is told to treat as public,
# so that a redirect from it to 127.0.0.1 or 169.254.169.254 meets the real guard.
PUBLIC_TEST_IP = "127.0.0.2"


@pytest.fixture(autouse=True)
def _fresh_fetch_state():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def sites(settings, monkeypatch):
    """Makes web servers on 127.0.0.2, one host each (a port of its own), that the
    private-address guard lets through (every other private address is still
    refused), each with an empty robots.txt."""
    settings.TRACKER_FETCH_ALLOW_PRIVATE = False
    settings.TRACKER_FETCH_CONNECT_TIMEOUT = 2
    settings.TRACKER_FETCH_READ_TIMEOUT = 1
    settings.TRACKER_FETCH_MAX_BYTES = 1024 * 1024
    real = netguard.is_public
    test_ip = ipaddress.ip_address(PUBLIC_TEST_IP)
    monkeypatch.setattr(netguard, "is_public", lambda a: a == test_ip or real(a))
    started: list[HTTPServer] = []

    def make() -> HTTPServer:
        server = HTTPServer(host=PUBLIC_TEST_IP, port=0)
        server.start()
        server.expect_request("/robots.txt").respond_with_data("", status=404)
        started.append(server)
        return server

    yield make
    for server in started:
        server.clear()
        if server.is_running():
            server.stop()


@pytest.fixture
def site(sites):
    return sites()
