"""The throttle of the public POST endpoints (email follow, unsubscribe): one rule.

A fixed one-hour window per (scope, key) in the default cache: ``cache.add`` starts
it, ``incr`` counts in it. Keys are hashed (an email address is never a cache key in
clear). Who the client is comes from ``tracker.ops.client_ip`` (the API's rule). With
no shared cache (``CACHE_URL`` unset) each process counts on its own; a cache that
does not answer lets the request through (the cache's own timeouts bound the wait):
a throttle must not take the site down with it.
"""

from __future__ import annotations

import hashlib
import logging

from django.core.cache import cache
from django.http import HttpRequest

from .client_ip import client_ip

WINDOW_SECONDS = 3600
RETRY_AFTER = str(WINDOW_SECONDS)  # the Retry-After of a 429: at most the window
log = logging.getLogger(__name__)


def allowed(scope: str, key: str, limit: int) -> bool:
    """Counts one request for ``key``; False once more than ``limit`` came this hour."""
    digest = hashlib.sha256(f"{scope}:{key}".encode()).hexdigest()[:32]
    cache_key = f"tracker:throttle:{digest}"
    try:
        if cache.add(cache_key, 1, WINDOW_SECONDS):
            return True
        try:
            return cache.incr(cache_key) <= limit
        except ValueError:  # expired between add and incr
            cache.add(cache_key, 1, WINDOW_SECONDS)
            return True
    except Exception:  # the cache is down or hanging: let the request through
        log.warning("throttle: the cache did not answer; %s not counted", scope, exc_info=True)
        return True


def client_allowed(request: HttpRequest, scope: str, limit: int) -> bool:
    return allowed(scope, f"client:{client_ip(request)}", limit)


def address_allowed(address: str, scope: str, limit: int) -> bool:
    return allowed(scope, f"address:{address.strip().lower()}", limit)
