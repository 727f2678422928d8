"""The record's own words in the reader's language, saying where they come from.

``{% record_text obj "title" %}`` on a Japanese page gives the Japanese version marked
``lang="ja"``, followed by 「当サイトによる翻訳」 when it is the tracker's translation
(``ja_is_translation``) rather than a Japanese source's words; where there is no
Japanese version, the English one, marked ``lang="en"`` and said to be English. On an
English page it gives the English text as it always did, with no markup. (Here rather
than in tracker/public/: template libraries load from installed apps, and the public
site is part of the ``tracker`` app.)"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language

register = template.Library()

# Shown only on Japanese pages, so written in Japanese (not interface strings to
# translate): the reader's own language says whose words these are.
OUR_TRANSLATION = "当サイトによる翻訳"
ENGLISH_ONLY = "日本語版なし・英語のまま表示"


def reading_japanese() -> bool:
    return (get_language() or "").split("-")[0] == "ja"


@register.simple_tag
def record_text(obj: Any, field: str) -> SafeString | str:
    english = getattr(obj, f"{field}_en", None) or getattr(obj, field, "") or ""
    if not reading_japanese():
        return english  # escaped by the template engine, as {{ obj.title }} was
    japanese = getattr(obj, f"{field}_ja", None)
    if japanese:
        if getattr(obj, "ja_is_translation", True):
            return format_html(
                '<span lang="ja">{}</span> <small class="record-origin">（{}）</small>',
                japanese,
                OUR_TRANSLATION,
            )
        return format_html('<span lang="ja">{}</span>', japanese)
    if not english:
        return ""
    return format_html(
        '<span lang="en">{}</span> <small class="record-fallback">（{}）</small>',
        english,
        ENGLISH_ONLY,
    )
