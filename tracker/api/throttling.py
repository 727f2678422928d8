"""Rate limits: a fixed-window counter per client in the default cache.

The cache is Redis when CACHE_URL is set, so every gunicorn worker counts in the same
place; the count is an atomic INCR, so concurrent workers cannot lose increments (DRF's
own throttles read, append and write back a list of timestamps: several workers
undercount, and the list grows with the rate). A fixed window lets a client burst up to
twice the rate across a window's edge, which is fine for a polling limit. Rates are
read from settings at each request (API_ANON_RATE, API_USER_RATE).
"""

from __future__ import annotations

import functools
import time
from typing import Any

from django.conf import settings
from django.core.cache import caches
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from .cache import count as counter

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@functools.lru_cache(maxsize=64)
def parse_rate(rate: str) -> tuple[int, int]:
    """'120/min' -> (120, 60)."""
    number, period = rate.split("/")
    return int(number), PERIODS[period[0]]


class FixedWindowThrottle(BaseThrottle):
    scope = ""

    def rate(self) -> str | None:
        raise NotImplementedError

    def ident_for(self, request: Request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        return self._allow(self.rate(), self.ident_for(request))

    def _allow(self, rate: str | None, ident: str | None) -> bool:
        if not rate or ident is None:
            return True
        limit, period = parse_rate(rate)
        now = time.time()
        window = int(now // period)
        key = f"throttle:{self.scope}:{ident}:{window}"
        count = counter(caches["default"], key, timeout=period + 1)
        self._wait = (window + 1) * period - now
        return count <= limit

    def wait(self) -> float:
        return self._wait


class AnonReadThrottle(FixedWindowThrottle):
    """Anonymous callers, per client address."""

    scope = "anon"

    def rate(self) -> str | None:
        return settings.API_ANON_RATE

    def ident_for(self, request: Request) -> str | None:
        return None if request.user and request.user.is_authenticated else self.get_ident(request)

    def allow_anonymous(self, request: Any) -> bool:
        """``allow_request`` for a request known to be anonymous (no token, no session
        cookie: ``views.answer_304_early``), without resolving ``request.user``."""
        return self._allow(self.rate(), self.get_ident(request))


class ClientThrottle(FixedWindowThrottle):
    """Token holders, per user (all their clients together)."""

    scope = "user"

    def rate(self) -> str | None:
        return settings.API_USER_RATE

    def ident_for(self, request: Request) -> str | None:
        return str(request.user.pk) if request.user and request.user.is_authenticated else None
