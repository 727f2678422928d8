"""Answers for what readers embed and poll (badges, calendars, feeds, pictures): an
ETag from the body, 304 when it still holds, and a Cache-Control a CDN can use; a bad
``?as_of`` is a 400 naming it (problem details), as it is a 400 page on the pages."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control

from commitments.selectors import AsOfError
from tracker.ops.problems import problem_response

from .record import moment_of

# What XML 1.0 cannot carry (its Char production): the C0 controls but tab, line feed
# and carriage return; lone surrogates; U+FFFE and U+FFFF.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """Record words as XML can carry them: a control character left in a title or a
    note (a word processor's vertical tab) becomes a space. Django's feed writer
    refuses them (a 500); feed readers, cairosvg (the PNG) and browsers drawing an SVG
    cannot parse them."""
    return NOT_XML.sub(" ", text)


def cached(request: HttpRequest, body: bytes | str, content_type: str) -> HttpResponse:
    data = body.encode() if isinstance(body, str) else body
    response = HttpResponse(data, content_type=content_type)
    response["ETag"] = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    patch_cache_control(response, public=True, max_age=settings.TRACKER_PUBLIC_MAX_AGE)
    return get_conditional_response(request, etag=response["ETag"], response=response) or response


def as_of_checked(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A view whose ``?as_of``, if any, must be a day that can be shown."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            moment_of(request)
        except AsOfError as exc:
            errors: list[dict[str, str | None]] = [{"field": "as_of", "reason": exc.reason}]
            return problem_response(request, 400, str(exc), code="invalid", errors=errors)
        return view(request, *args, **kwargs)

    return wrapped
