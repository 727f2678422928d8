"""The product's URLs plus three plain Django views: /bench/bare/ returns a fixed small
JSON, the ceiling the API is measured against; /bench/bare-80k/ a fixed JSON body of
80,000 bytes (the size of /api/v1/status/ on the benchmark's data), the ceiling for a
large 200; /bench/bare-80k-cached/ the same body read from the shared cache in one
round trip by the API's own helper (conditional.cached_body): the least a
cached 200 costs with its body in Redis. Never part of the product's urls."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from config.urls import urlpatterns as product_urlpatterns
from tracker.api import cache as safe_cache
from tracker.api.conditional import cached_body

LARGE = b'{"filler":"' + b"x" * (80_000 - 13) + b'"}'


def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "version": 1})


def bare_large(request: HttpRequest) -> HttpResponse:
    return HttpResponse(LARGE, content_type="application/json")


def bare_large_cached(request: HttpRequest) -> HttpResponse:
    stored = cached_body("bench-80k", lambda: {"body": LARGE, "headers": {}}, safe_cache.get)
    return HttpResponse(stored["body"], content_type="application/json")


urlpatterns = [
    path("bench/bare/", bare),
    path("bench/bare-80k/", bare_large),
    path("bench/bare-80k-cached/", bare_large_cached),
    *product_urlpatterns,
]
