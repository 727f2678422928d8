"""The client's address: one rule for the API's rate limit and the login lockout.

It is DRF's own (``BaseThrottle.get_ident``): with ``API_NUM_PROXIES=N``, the N-th
address from the right of X-Forwarded-For, else REMOTE_ADDR. X-Forwarded-For from a
peer that is not in ``TRUSTED_PROXIES`` has already been dropped by
``tracker.ops.middleware.OpsMiddleware``, so only what the proxy appended is read."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle

_THROTTLE = BaseThrottle()


def client_ip(request: HttpRequest) -> str:
    return _THROTTLE.get_ident(request)  # type: ignore[arg-type]
