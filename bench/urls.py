"""The product's URLs plus two plain Django views: /bench/bare/ returns a fixed small
JSON, the ceiling the API is measured against; /bench/bare-80k/ a fixed JSON body of
80,000 bytes (the size of /api/v1/status/ on the benchmark's data), the ceiling for a
large 200. Never part of the product's urls."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from config.urls import urlpatterns as product_urlpatterns

LARGE = b'{"filler":"' + b"x" * (80_000 - 13) + b'"}'


def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "version": 1})


def bare_large(request: HttpRequest) -> HttpResponse:
    return HttpResponse(LARGE, content_type="application/json")


urlpatterns = [
    path("bench/bare/", bare),
    path("bench/bare-80k/", bare_large),
    *product_urlpatterns,
]
