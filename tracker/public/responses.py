"""Answers for what readers embed and poll (badges, calendars, feeds, pictures): an
ETag from the body, 304 when it still holds, and a Cache-Control a CDN can use."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control


def cached(request: HttpRequest, body: bytes | str, content_type: str) -> HttpResponse:
    data = body.encode() if isinstance(body, str) else body
    etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    sent = [
        t.strip().removeprefix("W/") for t in request.headers.get("If-None-Match", "").split(",")
    ]
    response: HttpResponse
    if etag in sent:
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(data, content_type=content_type)
    response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=settings.TRACKER_PUBLIC_MAX_AGE)
    return response
