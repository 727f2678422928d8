from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class AxesBackend(AxesStandaloneBackend):
    """Axes' backend, for logins that come with a request (the admin's, the API's).

    ``authenticate()`` without a request (a management command, the test client's
    ``login``) has no address to key a lockout on: it is passed on to the next backend
    instead of refused."""

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> Any:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)
