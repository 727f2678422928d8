"""An item's text with the matched words marked, every character escaped."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


def highlight(text: str, terms: Iterable[str]) -> SafeString:
    """``text`` escaped, each whole-word occurrence of a term in <mark>. Terms are
    matched case-insensitively, longest first ("price floor" before "price")."""
    wanted = sorted({t for t in terms if t.strip()}, key=len, reverse=True)
    if not wanted:
        return escape(text)
    pattern = re.compile(
        r"(?<!\w)(" + "|".join(r"\s+".join(map(re.escape, t.split())) for t in wanted) + r")(?!\w)",
        re.IGNORECASE,
    )
    parts = pattern.split(text)
    out = [
        f"<mark>{escape(part)}</mark>" if index % 2 else escape(part)
        for index, part in enumerate(parts)
    ]
    return mark_safe("".join(out))  # every part is escaped above
