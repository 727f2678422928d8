"""Rate limits, as a DRF throttle over the site's one fixed-window counter
(``tracker.ops.ratelimit``), with GitHub's ``X-RateLimit-*`` headers on every answer
(``views.ApiView.finalize_response``). Anonymous callers count per address, token
holders per user; a 304 is free, and a flood of them is still bounded by a bucket of
its own (``charge``). The rules and why: docs/api.md, "Rate limits".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from tracker.ops import ratelimit

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'120/min' -> (120, 60)."""
    number, period = rate.split("/")
    return int(number), PERIODS[period[0]]


def revalidating(request: Request) -> bool:
    """A GET that may be answered 304, and then costs nothing."""
    meta = request.META
    return request.method in ("GET", "HEAD") and (
        "HTTP_IF_NONE_MATCH" in meta or "HTTP_IF_MODIFIED_SINCE" in meta
    )


@dataclass(frozen=True)
class Usage:
    """The main bucket as a client should see it."""

    limit: int
    used: int
    reset: int  # epoch seconds

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.used)),
            "X-RateLimit-Used": str(min(self.used, self.limit)),
            "X-RateLimit-Reset": str(self.reset),
            "X-RateLimit-Resource": "core",
        }


class RateLimitThrottle(BaseThrottle):
    """One per request (DRF makes a new one per ``get_throttles()``); ``usage`` is what
    it last saw of the main bucket, for the headers."""

    def __init__(self) -> None:
        self.usage: Usage | None = None

    def _bucket(self, request: Request) -> tuple[str, int, int]:
        """(key, limit, period). ``request.user`` is anonymous after a failed token."""
        user = request.user
        if user is not None and user.is_authenticated:
            return f"api:user:{user.pk}", *parse_rate(settings.API_USER_RATE)
        return f"api:anon:{self.get_ident(request)}", *parse_rate(settings.API_ANON_RATE)

    def allow_request(self, request: Request, view: Any) -> bool:
        if not revalidating(request):
            return self.charge(request)
        key, limit, period = self._bucket(request)
        counted = ratelimit.hit(f"{key}:revalidations", period)
        main = ratelimit.peek(key, period)
        if counted is None or main is None:
            return True
        self.usage = Usage(limit, main.count, main.reset)
        return counted.count <= limit * settings.API_REVALIDATION_FACTOR

    def charge(self, request: Request) -> bool:
        """Count in the main bucket; False past the limit."""
        key, limit, period = self._bucket(request)
        counted = ratelimit.hit(key, period)
        if counted is None:
            return True
        self.usage = Usage(limit, counted.count, counted.reset)
        return counted.count <= limit

    def wait(self) -> float | None:
        return max(1, self.usage.reset - int(time.time())) if self.usage else None
