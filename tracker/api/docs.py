"""The schema and the docs pages (Swagger UI and ReDoc from the sidecar: no CDN)."""

from __future__ import annotations

import hashlib
from typing import Any

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


class ContentETagMixin:
    """ETag from the content, which changes only with a deployment."""

    def finalize_response(
        self, request: Request, response: HttpResponse, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        if response.status_code != 200 or request.method not in ("GET", "HEAD"):
            return response
        response.render()
        etag = f'"{hashlib.blake2b(response.content, digest_size=12).hexdigest()}"'
        response["ETag"] = etag
        response["Cache-Control"] = "public, max-age=300"
        return get_conditional_response(request, etag=etag, response=response)


class SchemaView(ContentETagMixin, SpectacularAPIView):
    """The OpenAPI document (YAML; ``?format=json`` for JSON)."""

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        return super().get(request, *args, **kwargs)


class PageOptionsMixin:
    """OPTIONS on an HTML page: its Allow header, no body (DRF's metadata would render
    through the page's template renderer, and fail)."""

    def options(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
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
