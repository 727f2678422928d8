from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

_NUMBER = re.compile(r"[0-9]{1,9}")  # ASCII digits only: int() takes "１２" too


class Pagination(PageNumberPagination):
    """``?page=`` and ``?page_size=`` (capped at API_MAX_PAGE_SIZE). Every list has a
    total order (its sort key, then id), so pages do not overlap or skip rows while
    nothing changes. A page past the end is a 400 naming ``page``. The links are in the
    body and in a ``Link`` header (RFC 8288: first, prev, next, last)."""

    page_size_query_param = "page_size"

    @property
    def max_page_size(self) -> int:  # type: ignore[override]
        return settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return settings.API_PAGE_SIZE
        size = int(raw) if _NUMBER.fullmatch(raw) else 0
        if not 1 <= size <= self.max_page_size:
            raise ValidationError(
                {"page_size": [f"Give a whole number from 1 to {self.max_page_size}."]}
            )
        return size

    def get_page_number(self, request: Request, paginator: object = None) -> str:
        raw = request.query_params.get(self.page_query_param, "1")
        if not _NUMBER.fullmatch(raw) or int(raw) < 1:
            raise ValidationError({"page": ["Give a page number from 1."]})
        return raw

    def check_page(self, queryset: QuerySet[Any], request: Request) -> None:
        """Before any 304: a page past the end is an error, not "not modified". Page 1
        always exists (empty or not), so a poller of page 1 pays no count."""
        number, size = int(self.get_page_number(request)), self.get_page_size(request)
        if number > 1:
            last = self.django_paginator_class(queryset, size).num_pages
            if number > last:
                raise _past_the_end(number, last)

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            last = self.django_paginator_class(queryset, self.get_page_size(request)).num_pages
            raise _past_the_end(int(self.get_page_number(request)), last) from None

    def links(self) -> str:
        """The ``Link`` header of the page just paginated."""
        request, page = self.request, self.page
        assert request is not None and page is not None, "links() follows paginate_queryset()"
        url = request.build_absolute_uri()
        last = page.paginator.num_pages
        # prev and next are None only on the first and last pages, where they are left out.
        links: list[tuple[str, str | None]] = [
            ("first", remove_query_param(url, self.page_query_param))
        ]
        if page.has_previous():
            links.append(("prev", self.get_previous_link()))
        if page.has_next():
            links.append(("next", self.get_next_link()))
        links.append(("last", replace_query_param(url, self.page_query_param, last)))
        return ", ".join(f'<{target}>; rel="{rel}"' for rel, target in links)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        params = super().get_schema_operation_parameters(view)
        for param in params:
            if param["name"] == "page_size":
                param["schema"].update(minimum=1, maximum=self.max_page_size)
            if param["name"] == "page":
                param["schema"].update(minimum=1, maximum=999_999_999)
        return params


def _past_the_end(number: int, last: int) -> ValidationError:
    return ValidationError({"page": [f"There is no page {number}; the last is {last}."]})
