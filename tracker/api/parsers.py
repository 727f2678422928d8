from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.parsers import JSONParser

from .exceptions import RequestTooLarge


def check_length(meta: dict[str, Any]) -> None:
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.API_MAX_BODY_BYTES:
        raise RequestTooLarge(
            f"The body has {length} bytes; the limit is {settings.API_MAX_BODY_BYTES}."
        )


class LimitedJSONParser(JSONParser):
    """JSON only (anything else is 415), and no more than API_MAX_BODY_BYTES (413)."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        request = (parser_context or {}).get("request")
        if request is not None:
            check_length(request.META)
        return super().parse(stream, media_type, parser_context)
