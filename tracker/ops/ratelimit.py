"""The one rate counter of the site, and the one guard for the cache being down: the
API's throttles (tracker.api.throttling) and the public POST endpoints' limits
(tracker.ops.throttle) both count here.

A fixed window: ``period`` seconds, numbered from the epoch. Its counter is a cache key
named after the window, created by ``add`` (expiring with the window) and counted by
``incr``, which is atomic in Redis and in Django's local-memory cache. A client may
burst up to twice its rate across a window's edge; for these limits that is fine.

The cache down or hanging (refused at once, or past the socket timeouts of
config/settings.py): the error is logged once and the cache is left alone in this
process for API_CACHE_RETRY_SECONDS, so that an outage costs one timeout per process
per interval, not one per request. Meanwhile nothing is counted and every request is
let through (a limit must not take the site down with it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_skip_until = 0.0


def guarded(call: Callable[[], _T], default: _T) -> _T:
    """``call()``, or ``default`` when the cache fails (or failed moments ago)."""
    global _skip_until
    if time.monotonic() < _skip_until:
        return default
    try:
        return call()
    except Exception as error:  # any client error: answer without the cache
        _skip_until = time.monotonic() + settings.API_CACHE_RETRY_SECONDS
        log.warning(
            "cache unavailable (%s: %s); rate limits are off for %s s",
            type(error).__name__,
            error,
            settings.API_CACHE_RETRY_SECONDS,
        )
        return default


def reset() -> None:
    """Forget a failure: the next call tries the cache again (tests)."""
    global _skip_until
    _skip_until = 0.0


@dataclass(frozen=True)
class Window:
    """One counter's current window: how many were counted, and when it ends."""

    count: int
    reset: int  # epoch seconds


def _name(key: str, period: int) -> tuple[str, int]:
    window = int(time.time() // period)
    return f"ratelimit:{key}:{period}:{window}", (window + 1) * period


def hit(key: str, period: int) -> Window | None:
    """Count one for ``key`` in the current window of ``period`` seconds; None when the
    cache cannot be reached."""
    name, ends = _name(key, period)

    def count() -> int:
        cache.add(name, 0, period + 1)
        try:
            return int(cache.incr(name))
        except ValueError:  # expired between add and incr: the window just ended
            cache.add(name, 1, period + 1)
            return 1

    counted = guarded(count, None)
    return None if counted is None else Window(counted, ends)


def peek(key: str, period: int) -> Window | None:
    """The current window of ``key`` without counting; None when the cache fails."""
    name, ends = _name(key, period)
    counted = guarded(lambda: int(cache.get(name, 0)), None)
    return None if counted is None else Window(counted, ends)
