from __future__ import annotations

from rest_framework import renderers


class JSONRenderer(renderers.JSONRenderer):
    """Compact UTF-8 JSON; problem details go out with their own content type."""

    charset = None
