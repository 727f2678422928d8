"""The public site's language: English at today's addresses, Japanese under /ja/.

The address alone says the language (never a cookie, never Accept-Language), so a
page's URL names one answer and caches stay simple. What Accept-Language and the
language cookie do is only suggest: an English page read by someone whose browser
prefers Japanese (or who chose Japanese before) says, in Japanese, that the page is
there in Japanese too. That suggestion is why English pages vary on Accept-Language
and Cookie; Japanese pages, the API and the admin do not (the API and the admin have
one language and one address each)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers

# Addresses outside the public site's i18n_patterns (config/urls.py).
UNPREFIXED = ("/api/", "/admin/", "/language/", "/static/")


def is_public(path: str) -> bool:
    return not path.startswith(UNPREFIXED)


class PathLocaleMiddleware:
    """Django's LocaleMiddleware, minus the negotiation: the language of a request is
    the prefix of its path (/ja/…) or English. Django's would also add
    ``Vary: Accept-Language`` to every unprefixed answer, the API's among them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = translation.get_language_from_path(request.path_info)
        translation.activate(language or settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = translation.get_language()
        try:
            response = self.get_response(request)
            if is_public(request.path_info) and response.get("Content-Type", "").startswith(
                "text/html"
            ):
                response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
                if request.LANGUAGE_CODE == settings.LANGUAGE_CODE:
                    patch_vary_headers(response, ("Accept-Language", "Cookie"))
        finally:
            # A thread (a test, a worker) goes back to English after each request.
            translation.deactivate()
        return response


def address_in(path: str, code: str, query: str = "") -> str:
    """The same page in another language, with its query (?as_of=, ?page=)."""
    prefix = translation.get_language_from_path(path)
    plain = path[len(prefix) + 1 :] if prefix and prefix != settings.LANGUAGE_CODE else path
    localised = plain if code == settings.LANGUAGE_CODE else f"/{code}{plain}"
    return f"{localised}?{query}" if query else localised


def languages(request: HttpRequest) -> dict[str, Any]:
    """The page's language, its versions (for the switch and hreflang) and whether to
    suggest the Japanese one. Nothing for the API and the admin."""
    path = request.path_info
    if not is_public(path):
        return {}
    current = translation.get_language() or settings.LANGUAGE_CODE
    query = request.META.get("QUERY_STRING", "")
    versions = [
        {
            "code": code,
            "name": name,
            "url": address_in(path, code, query),
            "absolute": request.build_absolute_uri(address_in(path, code, query)),
            "current": code == current,
        }
        for code, name in settings.LANGUAGES
    ]
    return {
        "page_lang": current,
        "versions": versions,
        "other_versions": [v for v in versions if not v["current"]],
        "default_version": versions[0],
        # On an English page: the reader chose Japanese before (the cookie), or has not
        # chosen and their browser prefers Japanese to English.
        "suggest_ja": current == settings.LANGUAGE_CODE
        and translation.get_language_from_request(request) == "ja",
        "ja_url": address_in(path, "ja", query),
        # Between sentences and after a colon: a space in English, none in Japanese
        # (its full stop and colon are full width and carry their own space).
        "sp": "" if current == "ja" else " ",
    }
