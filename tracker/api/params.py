"""The query string, checked before anything else is done with it: an unknown
parameter, a single-value parameter given twice, an empty value, or a non-ASCII value
where only ASCII makes sense (fullwidth digits) is a 400 naming the parameter; so is a
filter's bad value."""

from __future__ import annotations

from typing import Any

import django_filters as df
from rest_framework.exceptions import ValidationError


def allowed_params(
    filterset_class: type[df.FilterSet] | None, *, paginated: bool
) -> dict[str, bool]:
    """name -> whether it may be repeated."""
    allowed: dict[str, bool] = {"format": False}
    if paginated:
        allowed.update(dict.fromkeys(("page", "page_size"), False))
    for name, field in (filterset_class.base_filters if filterset_class else {}).items():
        allowed[name] = isinstance(field, df.MultipleChoiceFilter)
    return allowed


def free_text(filterset_class: type[df.FilterSet] | None) -> set[str]:
    filters = filterset_class.base_filters if filterset_class else {}
    return {name for name, field in filters.items() if type(field).__name__ == "TextFilter"}


def check_query(request: Any, allowed: dict[str, bool], text: set[str]) -> None:
    errors: dict[str, list[str]] = {}
    params = request.GET
    for name in params:
        values = params.getlist(name)
        if name not in allowed:
            known = ", ".join(sorted(allowed))
            errors[name] = [f"Unknown parameter; this address takes {known}."]
        elif len(values) > 1 and not allowed[name]:
            errors[name] = ["Give this parameter once."]
        elif any(value == "" for value in values):
            errors[name] = ["Give a value, or leave the parameter out."]
        elif name not in text and not all(value.isascii() for value in values):
            errors[name] = ["Use ASCII characters (no fullwidth digits)."]
    if errors:
        raise ValidationError(errors)


def check_filters(filterset_class: type[df.FilterSet], request: Any) -> None:
    """Before any 304: a filter's bad value is an error, not "not modified"."""
    filterset = filterset_class(data=request.GET)
    if not filterset.is_valid():
        raise ValidationError(dict(filterset.errors))
