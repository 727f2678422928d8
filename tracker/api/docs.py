"""The schema and the docs pages (Swagger UI and ReDoc from the sidecar: no CDN)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.http import HttpResponse
from django.utils.cache import get_conditional_response
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

if TYPE_CHECKING:
    # What the mixins are mixed into, so that mypy checks them against DRF's view.
    _View = APIView
else:
    _View = object


class ContentETagMixin(_View):
    """ETag from the content, which changes only with a deployment."""

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code != 200 or request.method not in ("GET", "HEAD"):
            return response
        response.render()
        etag = f'"{hashlib.blake2b(response.content, digest_size=12).hexdigest()}"'
        response["ETag"] = etag
        response["Cache-Control"] = "public, max-age=300"
        # A 304 is a plain HttpResponse; DRF returns whatever this gives (stubs: Response).
        return get_conditional_response(request, etag=etag, response=response)  # type: ignore[return-value]


class SchemaView(ContentETagMixin, SpectacularAPIView):
    """The OpenAPI document (YAML; ``?format=json`` for JSON)."""

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        return super().get(request, *args, **kwargs)


class PageOptionsMixin(_View):
    """OPTIONS on an HTML page: its Allow header, no body (DRF's metadata would render
    through the page's template renderer, and fail)."""

    # A bare 204, not a DRF Response (its renderers would fail here; the stubs say Response).
    def options(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:  # type: ignore[override]
        response = HttpResponse(status=204)
        response["Allow"] = "GET, HEAD, OPTIONS"
        return response


class SwaggerView(PageOptionsMixin, ContentETagMixin, SpectacularSwaggerSplitView):
    """Swagger UI with its init script served as a file (``?script``): no inline
    script for the CSP to allow."""


# Redoc injects style elements and runs its search in a blob: worker; only this page
# relaxes the CSP for that (config/settings.py, "Deployment and hardening").
@method_decorator(csp_update({"style-src": [UNSAFE_INLINE], "worker-src": ["blob:"]}), "dispatch")
class RedocView(PageOptionsMixin, ContentETagMixin, SpectacularRedocView):
    pass
