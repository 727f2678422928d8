"""The schema and the docs pages (Swagger UI and ReDoc from the sidecar: no CDN), each
with an ETag from its content, which changes only with a deployment (Django's
ConditionalGetMiddleware, on these views alone; ``ContentConditions``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.middleware.http import ConditionalGetMiddleware
from django.utils.decorators import decorator_from_middleware, method_decorator
from django.views.decorators.cache import cache_control
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.request import Request
from rest_framework.views import APIView

from tracker.ops.problems import problem_response

from .exceptions import ProblemsInJson

_View = TypeVar("_View", bound=type)


class ContentConditions(ConditionalGetMiddleware):
    """Django's, with a failed If-Match or If-Unmodified-Since answered as every error
    under /api/ is (Django's 412 is empty, text/html)."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        response = super().process_response(request, response)
        if response.status_code != 412:
            return response
        detail = "If-Match or If-Unmodified-Since does not hold."
        return problem_response(request, 412, detail, code="precondition_failed")


def by_content(view: _View) -> _View:
    """Reused for five minutes, then revalidated by an ETag of the content."""
    view = method_decorator(cache_control(public=True, max_age=300), "dispatch")(view)
    return method_decorator(decorator_from_middleware(ContentConditions), "dispatch")(view)


@by_content
class SchemaView(ProblemsInJson, SpectacularAPIView):
    """The OpenAPI document (YAML; ``?format=json`` for JSON), itself left out of it
    (SERVE_INCLUDE_SCHEMA)."""


if TYPE_CHECKING:
    _APIView = APIView  # what the mixin is mixed into
else:
    _APIView = object


class PageOptions(_APIView):
    """OPTIONS on an HTML page: its Allow header, no body (DRF's metadata would render
    through the page's template renderer, and fail)."""

    # A bare 204, not a DRF Response (its renderers would fail here; the stubs say Response).
    def options(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:  # type: ignore[override]
        response = HttpResponse(status=204)
        response["Allow"] = "GET, HEAD, OPTIONS"
        return response


@by_content
class SwaggerView(PageOptions, ProblemsInJson, SpectacularSwaggerSplitView):
    """Swagger UI with its init script served as a file (``?script``): no inline
    script for the CSP to allow."""


# Redoc injects style elements and runs its search in a blob: worker; only this page
# relaxes the CSP for that (config/settings.py, "Deployment and hardening").
@method_decorator(csp_update({"style-src": [UNSAFE_INLINE], "worker-src": ["blob:"]}), "dispatch")
@by_content
class RedocView(PageOptions, ProblemsInJson, SpectacularRedocView):
    pass
