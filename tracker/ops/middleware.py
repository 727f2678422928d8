"""One middleware, first in the chain, for what operators need of every request."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Callable
from functools import lru_cache

import redis
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from . import metrics
from .problems import problem_response

log = logging.getLogger(__name__)

# Headers a proxy sets; from any other peer they are a client's claim, and dropped.
FORWARDED = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_REAL_IP",
)
LOOPBACK = {"127.0.0.1", "::1"}


@lru_cache(maxsize=1)
def _trusted_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in settings.TRUSTED_PROXIES)


@lru_cache(maxsize=4096)
def is_trusted_proxy(addr: str) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in network for network in _trusted_networks())


def _plain(text: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Touches nothing else."""
    return _plain("ok\n")


@lru_cache(maxsize=1)
def _redis_for_probe() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_CACHE_URL, socket_timeout=1, socket_connect_timeout=1
    )


def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: the database answers, and Redis (the cache) when it is configured.
    One ``SELECT 1`` and one PING, each with a short timeout; names no host."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError:
        checks["database"] = "unreachable"
    if settings.REDIS_CACHE_URL:
        try:
            _redis_for_probe().ping()
            checks["redis"] = "ok"
        except redis.RedisError:
            checks["redis"] = "unreachable"
    ready = all(value == "ok" for value in checks.values())
    response = JsonResponse({"ready": ready, "checks": checks}, status=200 if ready else 503)
    response["Cache-Control"] = "no-store"
    return response


def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if token:
        sent = request.META.get("HTTP_AUTHORIZATION", "")
        allowed = hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
    else:
        # No token: only a scraper on this host, talking to gunicorn directly.
        allowed = (
            request.META.get("REMOTE_ADDR") in LOOPBACK
            and "HTTP_X_FORWARDED_FOR" not in request.META
        )
    if not allowed:
        return _plain("Not found\n", status=404)
    response = HttpResponse(
        metrics.render(), content_type="text/plain; version=0.0.4; charset=utf-8"
    )
    response["Cache-Control"] = "no-store"
    return response


ROUTES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": healthz,
    "/readyz": readyz,
    "/metrics": metrics_view,
}


class OpsMiddleware:
    """Drops forwarded headers that no trusted proxy set, answers the probes and
    /metrics before the host check and the HTTPS redirect (load balancers and
    scrapers talk to gunicorn by address, over plain HTTP), counts every answer by
    status, and turns a database that went away into 503, not 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        if not is_trusted_proxy(meta.get("REMOTE_ADDR", "")):
            for header in FORWARDED:
                meta.pop(header, None)
        probe = ROUTES.get(request.path_info.rstrip("/"))
        response = probe(request) if probe else self.get_response(request)
        metrics.count_request(response.status_code)
        return response

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not isinstance(exc, OperationalError | InterfaceError):
            return None
        # The database restarts or fails over: tell clients to come back, in the API's
        # format under /api/. Nothing was acknowledged, so nothing is lost.
        log.warning("database unavailable: %s", exc)
        response: HttpResponse
        if request.path_info.startswith("/api/"):
            detail = "The database is unavailable; try again shortly."
            response = problem_response(request, 503, detail, code="unavailable")
        else:
            response = _plain("The service is briefly unavailable; try again shortly.\n", 503)
        response["Retry-After"] = "5"
        return response
