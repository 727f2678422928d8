"""The request body: JSON only (415 otherwise), a declared length (411 for a chunked
body, which Django's WSGI handler would read as empty), at most API_MAX_BODY_BYTES
(413), no key twice in an object and no nesting deeper than API_MAX_JSON_DEPTH (400,
where Python's parser would take the last key or raise RecursionError)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# The module, not its names: exceptions imports DRF's views, which import this.
from . import exceptions as errors


def check_length(meta: dict[str, Any]) -> None:
    if "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower() and not meta.get(
        "CONTENT_LENGTH"
    ):
        raise errors.LengthRequired()
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.API_MAX_BODY_BYTES:
        raise errors.RequestTooLarge(
            f"The body has {length} bytes; the limit is {settings.API_MAX_BODY_BYTES}."
        )


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def check_depth(text: str, limit: int) -> None:
    """Nesting depth, counted on the text before it is parsed (strings left out)."""
    depth = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub('""', text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            raise ParseError(f"JSON nested deeper than {limit} levels.")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ParseError(f"JSON object has the key {key!r} twice.")
        seen[key] = value
    return seen


class LimitedJSONParser(JSONParser):
    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        request = (parser_context or {}).get("request")
        if request is not None:
            check_length(request.META)
        raw = stream.read(settings.API_MAX_BODY_BYTES + 1) if stream is not None else b""
        if len(raw) > settings.API_MAX_BODY_BYTES:
            raise errors.RequestTooLarge(f"The body is over {settings.API_MAX_BODY_BYTES} bytes.")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("The body is not UTF-8.") from None
        check_depth(text, settings.API_MAX_JSON_DEPTH)
        try:
            return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_constant)
        except (ValueError, RecursionError) as error:
            raise ParseError(f"JSON parse error - {error}") from None


def _constant(name: str) -> Any:
    raise ParseError(f"JSON has {name}, which is not JSON.")
