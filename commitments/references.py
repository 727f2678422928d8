"""What a source's address may be, for the loader and for staff's entries alike: a page
a reader can open (an http(s) address with a path: never a bare domain), a seed file
name, or, where allowed, the tracker's own notes (``docs/sources.md#…``, where a
"checked, nothing found" entry records what was searched)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

SEED_NAME = re.compile(r"^\d{3}_[0-9a-f]{16}\.txt$")
NOTES_ADDRESS = re.compile(r"^docs/[\w./-]+(#[\w-]+)?$")


def problem(reference: str, *, allow_notes: bool = False) -> str | None:
    """Why ``reference`` cannot be cited, or None."""
    reference = (reference or "").strip()
    if not reference:
        return "no address: give a page address (https://…) or a seed file name"
    if SEED_NAME.match(reference) or (allow_notes and NOTES_ADDRESS.match(reference)):
        return None
    parts = urlsplit(reference)
    if parts.scheme in ("http", "https") and parts.netloc and " " not in reference:
        if parts.path.strip("/") or parts.query:
            return None
        return f"'{reference}' is a bare domain: give the address of the page"
    return f"'{reference}' is neither a page address (https://…) nor a seed file name"
