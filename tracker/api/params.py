"""The query string, checked before anything else is done with it: an unknown
parameter, a single-value parameter given twice, an empty value, or a non-ASCII value
where only ASCII makes sense (fullwidth digits) is a 400 naming the parameter."""

from __future__ import annotations

import functools
from typing import Any, Protocol

import django_filters as df
from django.http import QueryDict
from rest_framework.exceptions import ValidationError


class FilterSetClass(Protocol):
    """A django-filter FilterSet class, as used here (django-filter ships no types)."""

    base_filters: dict[str, Any]
    _meta: Any

    def __call__(self, *, data: QueryDict, queryset: Any) -> Any: ...
    def __hash__(self) -> int: ...  # a class is; the lru_cache below keys on it


FORMAT = "format"
PAGE_PARAMS = ("page", "page_size")


def allowed_params(filterset_class: FilterSetClass | None, *, paginated: bool) -> dict[str, bool]:
    """name -> whether it may be repeated."""
    allowed: dict[str, bool] = {FORMAT: False}
    if paginated:
        allowed.update(dict.fromkeys(PAGE_PARAMS, False))
    for name, field in (filterset_class.base_filters if filterset_class else {}).items():
        allowed[name] = isinstance(field, df.MultipleChoiceFilter)
    return allowed


def free_text(filterset_class: FilterSetClass | None) -> set[str]:
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


@functools.lru_cache(maxsize=1024)
def _filter_errors(
    filterset_class: FilterSetClass, query: tuple[tuple[str, tuple[str, ...]], ...]
) -> dict[str, Any] | None:
    """Whether filter values are valid depends on the values alone (no filter looks
    anything up), so the answer is remembered: building a FilterSet's form costs more
    than the rest of a 304."""
    params = QueryDict(mutable=True)
    for name, values in query:
        params.setlist(name, list(values))
    filterset = filterset_class(data=params, queryset=filterset_class._meta.model.objects.none())
    return None if filterset.is_valid() else dict(filterset.errors)


def check_filters(filterset_class: FilterSetClass, request: Any) -> None:
    names = set(filterset_class.base_filters) & set(request.GET)
    if not names:
        return
    query = tuple((name, tuple(request.GET.getlist(name))) for name in sorted(names))
    errors = _filter_errors(filterset_class, query)
    if errors:
        raise ValidationError(errors)
