"""Rate limits: a fixed-window counter per client in the default cache, and the
GitHub-style headers that let a client budget its requests.

Every answer carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``,
``X-RateLimit-Used``, ``X-RateLimit-Reset`` (epoch seconds when the window ends) and
``X-RateLimit-Resource`` (``core``), as GitHub's REST API does.

- Anonymous callers count per client address (API_ANON_RATE), token holders per user
  (API_USER_RATE). A request with a token that is not valid counts against its address
  (so guessing tokens is limited like anything else anonymous), and is refused with 429
  once the address is over its limit.
- A 304 is free: it does not count against the limit (GitHub's rule). A flood of
  conditional requests is still bounded: 304s count in a bucket of their own,
  API_REVALIDATION_FACTOR times the limit (default 10); past it, 429 too. A 304 shows the
  main bucket in its headers, read in the same round trip as its own count.
- The cache is Redis when CACHE_URL is set, so every web worker counts in the same
  place; the count is an atomic INCR (one script round trip). A fixed window lets a
  client burst up to twice the rate across a window's edge, which is fine for polling.
- The cache down or hanging: the limits are off (degrade open) and a line is logged
  (``cache.guarded``); the headers are then left out.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from . import cache as safe_cache

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@functools.lru_cache(maxsize=64)
def parse_rate(rate: str) -> tuple[int, int]:
    """'120/min' -> (120, 60)."""
    number, period = rate.split("/")
    return int(number), PERIODS[period[0]]


@dataclass(frozen=True)
class Usage:
    """The main bucket as a client should see it."""

    limit: int
    used: int
    reset: int  # epoch seconds

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Used": str(min(self.used, self.limit)),
            "X-RateLimit-Reset": str(self.reset),
            "X-RateLimit-Resource": "core",
        }


def _caller(request: Request) -> tuple[str, str, str | None]:
    """(scope, ident, rate). Anonymous (or a failed token) counts by address."""
    try:
        user = getattr(request, "_user", None) if _auth_failed(request) else request.user
    except Exception:  # a bad token, met here first (the method was refused before it)
        user = None
    if user is not None and user.is_authenticated:
        return "user", str(user.pk), settings.API_USER_RATE
    return "anon", BaseThrottle().get_ident(request), settings.API_ANON_RATE


def _auth_failed(request: Request) -> bool:
    return getattr(request, "_tracker_auth_failed", False)


def charge(request: Request, *, revalidation: bool = False) -> tuple[Usage, bool] | None:
    """Count this request; (the main bucket's usage, whether it is allowed). None when
    there is no limit or the cache cannot be reached."""
    scope, ident, rate = _caller(request)
    if not rate:
        return None
    limit, period = parse_rate(rate)
    now = time.time()
    window = int(now // period)
    main = f"throttle:{scope}:{ident}:{window}"
    reset = (window + 1) * period
    if revalidation:
        key, peek, allowed_count = (
            f"throttle:{scope}-304:{ident}:{window}",
            main,
            limit * settings.API_REVALIDATION_FACTOR,
        )
    else:
        key, peek, allowed_count = main, None, limit
    counted = safe_cache.guarded(
        lambda cache: safe_cache.count(cache, key, timeout=period + 1, peek=peek)
    )
    if counted is None:
        return None
    used = counted[1] if revalidation else counted[0]
    return Usage(limit, used, int(reset)), counted[0] <= allowed_count


def refuse(usage: Usage) -> Throttled:
    error = Throttled(wait=max(1, usage.reset - int(time.time())))
    error.rate_limit = usage  # type: ignore[attr-defined]
    return error


class RateLimitThrottle(BaseThrottle):
    """DRF's hook, for views without ``RateLimitMixin`` (the schema and the docs)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        result = charge(request)
        if result is None:
            return True
        request._tracker_rate_limit = result[0]  # type: ignore[attr-defined]
        self._wait = max(1, result[0].reset - time.time())
        return result[1]

    def wait(self) -> float:
        return self._wait


class RateLimitMixin:
    """Charges each request once, to the right bucket, and sends the headers.

    A plain request is counted on entry, as DRF does. A conditional GET is counted once
    its answer is known: a 304 in the revalidation bucket, anything else in the main
    one."""

    def check_throttles(self, request: Request) -> None:
        if request.method in ("GET", "HEAD") and _conditional(request):
            return  # charged in on_not_modified / on_modified, or at the end
        self._charge(request, revalidation=False)

    def perform_authentication(self, request: Request) -> None:
        try:
            super().perform_authentication(request)  # type: ignore[misc]
        except Exception:
            request._tracker_auth_failed = True  # type: ignore[attr-defined]
            self._charge(request, revalidation=False)
            raise

    def on_not_modified(self) -> None:
        self._charge(self.request, revalidation=True)  # type: ignore[attr-defined]

    def on_modified(self) -> None:
        self._charge(self.request, revalidation=False)  # type: ignore[attr-defined]

    def _charge(self, request: Request, *, revalidation: bool, enforce: bool = True) -> None:
        if getattr(request, "_tracker_charged", False):
            return
        request._tracker_charged = True  # type: ignore[attr-defined]
        result = charge(request, revalidation=revalidation)
        if result is None:
            return
        usage, allowed = result
        request._tracker_rate_limit = usage  # type: ignore[attr-defined]
        if enforce and not allowed:
            raise refuse(usage)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        # An error before the answer was known (a bad parameter on a conditional GET)
        # still counts; it is not refused for that (it is an answer already).
        self._charge(request, revalidation=False, enforce=False)
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        add_headers(request, response)
        return response


def add_headers(request: Any, response: Any) -> None:
    usage = getattr(request, "_tracker_rate_limit", None)
    if usage is not None:
        for name, value in usage.headers().items():
            response[name] = value


def _conditional(request: Request) -> bool:
    meta = request.META
    return "HTTP_IF_NONE_MATCH" in meta or "HTTP_IF_MODIFIED_SINCE" in meta
