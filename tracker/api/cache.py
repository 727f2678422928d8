"""Django's Redis cache, keeping one client per connection pool.

Django's backend builds a new ``redis.Redis`` object for every cache call, and recent
redis-py clients are costly to build (their response-callback tables): on a 304 that
was a third of the time. A client is thread-safe and shares its pool, so one per pool
is enough. Otherwise identical (``CACHE_URL`` selects it; see config/settings.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.cache.backends import redis as django_redis
from redis.exceptions import NoScriptError

logger = logging.getLogger(__name__)


class RedisCacheClient(django_redis.RedisCacheClient):
    if TYPE_CHECKING:
        # Django's private members this class builds on; django-stubs declares only
        # the public ones.
        _client: Callable[..., Any]
        _serializer: Any

        def _get_connection_pool_index(self, write: bool) -> int: ...
        def _get_connection_pool(self, write: bool) -> Any: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._client(connection_pool=self._get_connection_pool(write))
            self._clients[index] = client
        return client


_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class RedisCache(django_redis.RedisCache):
    if TYPE_CHECKING:
        _cache: RedisCacheClient  # Django's cached property (private, not in the stubs)

    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
        self._scripts: dict[int, Any] = {}

    def _counter(self) -> tuple[Any, Any]:
        """(the client, the counting script registered with it)."""
        client = self._cache.get_client(write=True)
        script = self._scripts.get(id(client))
        if script is None:
            script = self._scripts[id(client)] = client.register_script(_COUNT)
        return client, script

    def count(self, key: str, timeout: int) -> int:
        """Add one to a counter that expires ``timeout`` seconds after it was created:
        one round trip, always (a script run by its SHA: INCR, and EXPIRE on the first;
        atomic, so a counter never lives without its expiry)."""
        _, script = self._counter()
        return int(script(keys=[self.make_and_validate_key(key)], args=[timeout]))

    def count_and_get(self, key: str, timeout: int, other: str) -> tuple[int, Any]:
        """``count``, and ``get(other)``, in one round trip (pipelined: on a loaded
        machine a round trip costs far more than its commands; bench/README.md)."""
        client, script = self._counter()
        key, other = self.make_and_validate_key(key), self.make_and_validate_key(other)
        pipe = client.pipeline(transaction=False)
        pipe.evalsha(script.sha, 1, key, timeout)
        pipe.get(other)
        counted, raw = pipe.execute(raise_on_error=False)
        if isinstance(counted, NoScriptError):  # Redis restarted, or its scripts flushed
            counted = script(keys=[key], args=[timeout])
        elif isinstance(counted, Exception):
            raise counted
        if isinstance(raw, Exception):
            raise raw
        return int(counted), None if raw is None else self._cache._serializer.loads(raw)


def count(cache: Any, key: str, timeout: int) -> int:
    """``RedisCache.count`` on any cache backend (add, then incr, elsewhere)."""
    if isinstance(cache, RedisCache):
        return cache.count(key, timeout)
    try:
        return int(cache.incr(key))
    except ValueError:  # the first (or a race for it)
        return 1 if cache.add(key, 1, timeout=timeout) else int(cache.incr(key))


def count_and_get(cache: Any, key: str, timeout: int, other: str) -> tuple[int, Any]:
    """``RedisCache.count_and_get`` on any cache backend (two calls elsewhere)."""
    if isinstance(cache, RedisCache):
        return cache.count_and_get(key, timeout, other)
    return count(cache, key, timeout), cache.get(other)


# --- When the cache is down -------------------------------------------------------------
# The cache holds rate-limit counters and rendered bodies: both can be done without. A
# failing call (Redis down: refused at once; hanging: the socket timeouts in
# config/settings.py) is logged, and the cache is then left alone for
# API_CACHE_RETRY_SECONDS in this process, so that an outage costs one timeout per
# process per interval, not one per request.

_skip_until = 0.0


def guarded(call: Any, default: Any = None) -> Any:
    """``call(cache)`` on the default cache, or ``default`` when the cache fails."""
    global _skip_until
    from django.conf import settings
    from django.core.cache import caches

    if time.monotonic() < _skip_until:
        return default
    try:
        return call(caches["default"])
    except Exception as error:  # any client error: the API answers without the cache
        _skip_until = time.monotonic() + settings.API_CACHE_RETRY_SECONDS
        logger.warning(
            "cache unavailable (%s: %s); rate limits and the body cache are off for %s s",
            type(error).__name__,
            error,
            settings.API_CACHE_RETRY_SECONDS,
        )
        return default


def get(key: str) -> Any:
    """The default cache's value under ``key``; None when missing or the cache fails."""
    return guarded(lambda cache: cache.get(key))


def reset_guard() -> None:
    global _skip_until
    _skip_until = 0.0
