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
  conditional requests is still bounded: 304s count in a bucket of their own, kept in
  each web process's memory (no Redis round trip: on a loaded machine that round trip
  was half a 304's cost), API_REVALIDATION_FACTOR times the limit (default 10) per
  window per process; past it, 429 too. So a client gets at most P x factor x limit
  304s per window from P web processes (workers x hosts). A 304 shows the main bucket
  in its headers as this process last read it, at most API_VALIDATOR_TTL_MS old (0:
  read on every 304).
- The main bucket is in the default cache, Redis when CACHE_URL is set, so every web
  worker counts in the same place; the count is an atomic INCR (one script round
  trip). A read is counted once its answer is known; a 200 whose body is in the shared
  cache in the round trip that reads it (``RateLimitMixin.read_charged``). A fixed
  window lets a client burst up to twice the rate across a window's edge, which is
  fine for polling.
- The cache down or hanging: the limits are off (degrade open) and a line is logged
  (``cache.guarded``); the headers are then left out.
"""

from __future__ import annotations

import functools
import threading
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


class _ProcessCounts:
    """What this process keeps of the limits: its 304 counts, and the main bucket's
    count as it last read it (for a 304's headers). Per scope, only the current window
    is kept, so it holds at most one small entry per client seen in the window."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, int] = {}
        self._revalidations: dict[str, dict[str, int]] = {}
        self._seen: dict[str, dict[str, tuple[int, float]]] = {}

    def _current(self, scope: str, window: int) -> None:
        if self._windows.get(scope) != window:  # a new window: forget the old one
            self._windows[scope] = window
            self._revalidations[scope] = {}
            self._seen[scope] = {}

    def revalidated(self, scope: str, ident: str, window: int) -> int:
        with self._lock:
            self._current(scope, window)
            counts = self._revalidations[scope]
            counts[ident] = counts.get(ident, 0) + 1
            return counts[ident]

    def saw(self, scope: str, ident: str, window: int, used: int) -> None:
        with self._lock:
            self._current(scope, window)
            self._seen[scope][ident] = (used, time.monotonic())

    def seen(self, scope: str, ident: str, window: int) -> int | None:
        """The main bucket's count as last read, if younger than API_VALIDATOR_TTL_MS."""
        with self._lock:
            if self._windows.get(scope) != window:
                return None
            used, at = self._seen[scope].get(ident, (0, -1e9))
        fresh = (time.monotonic() - at) * 1000 < settings.API_VALIDATOR_TTL_MS
        return used if fresh else None

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()


process_counts = _ProcessCounts()


def charge(
    request: Request, *, revalidation: bool = False, read: str | None = None
) -> tuple[Usage | None, bool, Any]:
    """Count this request: (the main bucket's usage, whether it is allowed, the value
    cached under ``read``). The usage is None when there is no limit, or the cache
    cannot be reached for the main bucket (then it is allowed). With ``read`` (a 200's
    body), that key is read in the count's round trip (and dropped if refused)."""
    scope, ident, rate = _caller(request)
    if not rate:
        return None, True, None if read is None else safe_cache.get(read)
    limit, period = parse_rate(rate)
    window = int(time.time() // period)
    main = f"throttle:{scope}:{ident}:{window}"
    reset = (window + 1) * period
    if revalidation:
        # Counted here, in memory; the main bucket is only read, and not every time.
        revalidations = process_counts.revalidated(scope, ident, window)
        used = process_counts.seen(scope, ident, window)
        if used is None:
            used = safe_cache.guarded(lambda cache: int(cache.get(main) or 0))
            if used is not None:
                process_counts.saw(scope, ident, window, used)
        if used is None:  # the cache is out of reach: limits off, as for the rest
            return None, True, None
        allowed = revalidations <= limit * settings.API_REVALIDATION_FACTOR
        return Usage(limit, used, reset), allowed, None
    if read is None:
        counted = safe_cache.guarded(lambda cache: safe_cache.count(cache, main, period + 1))
        value = None
    else:
        counted, value = safe_cache.guarded(
            lambda cache: safe_cache.count_and_get(cache, main, period + 1, read),
            default=(None, None),
        )
    if counted is None:
        return None, True, value
    process_counts.saw(scope, ident, window, counted)
    allowed = counted <= limit
    return Usage(limit, counted, reset), allowed, value if allowed else None


def refuse(usage: Usage) -> Throttled:
    error = Throttled(wait=max(1, usage.reset - int(time.time())))
    error.rate_limit = usage  # type: ignore[attr-defined]
    return error


class RateLimitThrottle(BaseThrottle):
    """DRF's hook, for views without ``RateLimitMixin`` (the schema and the docs)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        usage, allowed, _ = charge(request)
        if usage is None:
            return True
        request._tracker_rate_limit = usage  # type: ignore[attr-defined]
        self._wait = max(1, usage.reset - time.time())
        return allowed

    def wait(self) -> float:
        return self._wait


class RateLimitMixin:
    """Charges each request once, to the right bucket, and sends the headers.

    A write is counted on entry, as DRF does. A read (GET, HEAD) is counted once its
    answer is known: a 304 in the revalidation bucket; a 200 in the main one, and when
    its body comes from the shared cache (``ApiView.respond``), in the round trip that
    reads the body (``read_charged``); an error before either (a bad parameter, a
    missing object) at the end, where it counts but is not refused (it is an answer
    already)."""

    # Set by a view about to read its 200's body with ``read_charged``: the charge
    # waits for that read instead of being made in ``on_modified``.
    charge_with_body = False

    def check_throttles(self, request: Request) -> None:
        if request.method in ("GET", "HEAD"):
            return  # charged in on_not_modified / on_modified / read_charged, or at the end
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
        if not self.charge_with_body:
            self._charge(self.request, revalidation=False)  # type: ignore[attr-defined]

    def read_charged(self, key: str) -> Any:
        """The value cached under ``key``, read in the round trip that charges this
        request (429 instead when it is over its limit); a plain read if charged."""
        return self._charge(self.request, revalidation=False, read=key)  # type: ignore[attr-defined]

    def _charge(
        self, request: Request, *, revalidation: bool, enforce: bool = True, read: str | None = None
    ) -> Any:
        if getattr(request, "_tracker_charged", False):
            return None if read is None else safe_cache.get(read)
        request._tracker_charged = True  # type: ignore[attr-defined]
        usage, allowed, value = charge(request, revalidation=revalidation, read=read)
        if usage is not None:
            request._tracker_rate_limit = usage  # type: ignore[attr-defined]
            if enforce and not allowed:
                raise refuse(usage)
        return value

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        # An error before the answer was known (a bad parameter, a missing object)
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
