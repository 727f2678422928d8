"""Fixtures of the API tests: a client, tokens, and a database whose change counter
counts inside the test's transaction."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from knox.models import AuthToken
from rest_framework.test import APIClient

from tracker.ops import ratelimit

# 12:00 in Tokyo: the Ministerial (due 2026-04-26) and project selection (due
# 2026-04-28) are both overdue.
TODAY = dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.UTC)
EVIDENCE = "https://www.meti.go.jp/press/ministerial"


@pytest.fixture(autouse=True)
def counting(db, settings):
    """On PostgreSQL the counter's triggers are deferred to commit, and a test never
    commits: make them fire at once. Generous rate limits, an empty cache, and no
    failure of the cache remembered from another test."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    settings.API_ANON_RATE = "100000/min"
    settings.API_USER_RATE = "100000/min"
    ratelimit.reset()
    cache.clear()
    yield
    cache.clear()
    ratelimit.reset()


@pytest.fixture
def frozen():
    with time_machine.travel(TODAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def token_for(user, **kwargs) -> str:
    return AuthToken.objects.create(user=user, **kwargs)[1]


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client
