"""One error format for the whole API: RFC 9457 problem details.

    {"type": "about:blank", "title": "Bad Request", "status": 400,
     "detail": "status: 'done' is not a valid choice.", "instance": "/api/v1/...",
     "errors": [{"field": "status", "reason": "'done' is not a valid choice."}]}

``errors`` names each field at fault and why; ``detail`` says the same in one line.
Domain refusals (``commitments.services.TransitionError``) become 400s with the field
the service names; a version conflict becomes 412 (with If-Match) or 409.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.views import csrf, defaults
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import set_rollback

from commitments.services import ConflictError, NotAllowedError, TransitionError
from tracker.ops.problems import PROBLEM, problem, problem_response

logger = logging.getLogger(__name__)


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


class LengthRequired(exceptions.APIException):
    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_detail = "Send the body with a Content-Length (not chunked)."
    default_code = "length_required"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The milestone has changed since the ETag you sent in If-Match."
    default_code = "precondition_failed"


class DatabaseUnavailable(exceptions.APIException):
    """The database restarts or fails over: come back shortly (nothing was committed)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unavailable; try again shortly."
    default_code = "unavailable"
    wait = 5


class CursorExpired(exceptions.APIException):
    """The event feed pruned events after the client's cursor (API_EVENT_RETENTION_DAYS)."""

    status_code = status.HTTP_410_GONE
    default_code = "cursor_expired"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def _flatten(detail: Any, field: str | None = None) -> list[dict[str, str | None]]:
    """DRF's nested error details as a flat list of {field, reason}."""
    if isinstance(detail, dict):
        out: list[dict[str, str | None]] = []
        for key, value in detail.items():
            name = None if key in ("non_field_errors", "detail") else str(key)
            out += _flatten(value, f"{field}.{name}" if field and name else (name or field))
        return out
    if isinstance(detail, list):
        return [e for item in detail for e in _flatten(item, field)]
    return [{"field": field, "reason": str(detail)}]


def problem_handler(exc: Exception, context: dict[str, Any]) -> Response:
    request = context.get("request")
    view = context.get("view")
    instance = getattr(request, "path", None)
    headers: dict[str, str] = {}

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied | NotAllowedError):
        exc = exceptions.PermissionDenied(getattr(exc, "message", None))
    elif isinstance(exc, ConflictError):
        if request is not None and request.headers.get("If-Match"):
            exc = PreconditionFailed(exc.message)
        else:
            exc = Conflict(exc.message)
    elif isinstance(exc, TransitionError):
        exc = exceptions.ValidationError({exc.field or "non_field_errors": [exc.message]})
    elif isinstance(exc, SuspiciousOperation):
        # What Django answers 400 outside a view, e.g. more parameters than
        # DATA_UPLOAD_MAX_NUMBER_FIELDS (TooManyFieldsSent, raised on reading request.GET).
        exc = exceptions.ParseError(str(exc))
    elif isinstance(exc, OperationalError | InterfaceError):
        set_rollback()
        exc = DatabaseUnavailable()

    if not isinstance(exc, exceptions.APIException):
        # A bug: say so in the log, and keep the promise of one format to the client.
        logger.exception("unhandled error in %s", view.__class__.__name__ if view else "API")
        set_rollback()
        body = problem(500, "Internal error; it has been logged.", instance=instance)
        return Response(body, status=500, content_type=PROBLEM)

    # DRF's handle_exception has set a 401's auth_header, or made it a 403.
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    wait = getattr(exc, "wait", None)  # Throttled's
    if wait:
        headers["Retry-After"] = str(int(wait))

    code: str | None
    if isinstance(exc.detail, dict | list):
        errors = _flatten(exc.detail)
        detail = "; ".join(
            f"{e['field']}: {e['reason']}" if e["field"] else str(e["reason"]) for e in errors
        )
        code = "invalid"
    else:
        errors = []
        detail = str(exc.detail)
        code = getattr(exc.detail, "code", None)
    set_rollback()
    body = problem(exc.status_code, detail, instance=instance, errors=errors, code=code)
    response = Response(body, status=exc.status_code, headers=headers, content_type=PROBLEM)
    response["Cache-Control"] = "no-store"
    return response


if TYPE_CHECKING:
    # Only for mypy: DRF's views import this module (through the parsers).
    from rest_framework.views import APIView as _APIView  # what the mixin is mixed into
else:
    _APIView = object


class ProblemsInJson(_APIView):
    """Problems are JSON whatever was negotiated: a CSV request's 400, the YAML schema's
    405, a docs page's 401 (every view under /api/)."""

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and response.content_type == PROBLEM:
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = PROBLEM
        return response


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Unknown paths under /api/: the same format as every other error."""
    return problem_response(request, 404, f"No API endpoint at {request.path}.", code="not_found")


def server_error(request: HttpRequest) -> Any:
    """handler500: problem details under /api/, Django's page elsewhere."""
    if is_api(request):
        return problem_response(request, 500, "Internal error; it has been logged.", code="error")
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception) -> Any:
    """handler400, for a request Django refuses before any view (e.g. a Host it does not
    serve). Its message, which advises on ALLOWED_HOSTS, stays in the log."""
    if is_api(request):
        return problem_response(request, 400, "Bad request.", code="bad_request")
    return defaults.bad_request(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> Any:
    """handler404, for a 404 raised outside the API's views (e.g. by a middleware)."""
    if is_api(request):
        return not_found(request)
    return defaults.page_not_found(request, exception)


def csrf_failure(request: HttpRequest, reason: str = "") -> Any:
    """CSRF_FAILURE_VIEW: problem details under /api/, Django's page elsewhere."""
    if is_api(request):
        return problem_response(request, 403, f"CSRF check failed: {reason}", code="csrf_failed")
    return csrf.csrf_failure(request, reason)
