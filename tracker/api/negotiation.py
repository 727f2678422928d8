"""Content negotiation that honours ``q=0`` ("not acceptable"): DRF's own ignores
quality values, so ``Accept: application/json;q=0`` got JSON. Nothing acceptable is a
406 (problem details, whatever was asked for); a ``?format=`` no renderer has is a 400
naming it (DRF's is a 404)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.utils.mediatypes import _MediaType


def _refused(item: str) -> bool:
    params = _MediaType(item).params
    try:
        return float(params.get("q", "1")) <= 0
    except ValueError:
        return False


class ContentNegotiation(DefaultContentNegotiation):
    def get_accept_list(self, request: Any) -> list[str]:
        accepted = [item for item in super().get_accept_list(request) if not _refused(item)]
        # Everything refused: ask for something no renderer gives, so the answer is 406.
        return accepted or ["application/x-nothing-acceptable"]

    def filter_renderers(
        self, renderers: Iterable[BaseRenderer], format: str
    ) -> list[BaseRenderer]:
        offered = list(renderers)
        chosen = [renderer for renderer in offered if renderer.format == format]
        if not chosen:
            formats = ", ".join(dict.fromkeys(renderer.format for renderer in offered))
            raise ValidationError({"format": [f"Give one of {formats}."]})
        return chosen
