"""The product's URLs plus /bench/bare/, a plain Django view returning a fixed small
JSON: the ceiling the API is measured against. Never part of the product's urls."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import urlpatterns as product_urlpatterns


def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "version": 1})


urlpatterns = [path("bench/bare/", bare), *product_urlpatterns]
