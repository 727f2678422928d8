"""RFC 9457 problem details: the one builder of the site's machine-readable errors (the
API's exception handler, the ops middleware's 503, the public badges' 404 and 400).

    {"type": "about:blank", "title": "Bad Request", "status": 400,
     "detail": "as_of: is not a day of the calendar", "instance": "/api/v1/status/",
     "code": "invalid", "errors": [{"field": "as_of", "reason": "..."}]}
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, JsonResponse

PROBLEM = "application/problem+json"


def problem(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    code: str | None = None,
    errors: list[dict[str, str | None]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    if code:
        body["code"] = code
    if errors:
        body["errors"] = errors
    return body


def problem_response(
    request: HttpRequest,
    status: int,
    detail: str,
    *,
    code: str | None = None,
    errors: list[dict[str, str | None]] | None = None,
) -> JsonResponse:
    """A problem answered outside DRF (Django's error views, middleware, plain views)."""
    body = problem(status, detail, instance=request.path, code=code, errors=errors)
    response = JsonResponse(
        body,
        status=status,
        content_type=PROBLEM,
        json_dumps_params={"separators": (",", ":"), "ensure_ascii": False},
    )
    response["Cache-Control"] = "no-store"
    return response
