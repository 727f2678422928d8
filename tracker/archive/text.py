"""A page's words, as the link check compares them with a quoted passage: tags
stripped by lxml's HTML parser (scripts and styles dropped), then both sides
normalised the same way (Unicode NFKC, typographic quotes and dashes made plain,
case folded, whitespace collapsed), so that a reflowed paragraph still matches."""

from __future__ import annotations

import hashlib
import re
import unicodedata

import lxml.html
from lxml import etree

TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
_PLAIN = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-"})
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_PLAIN).casefold()
    return _SPACE.sub(" ", text).strip()


def passage_key(passage: str) -> str:
    """A short stable name for a passage (LinkCheck.missing)."""
    return hashlib.sha256(normalise(passage).encode()).hexdigest()[:16]


def page_words(body: bytes, content_type: str, charset: str | None = None) -> str | None:
    """The normalised words of a page, or None for a type we cannot read (a PDF)."""
    if content_type not in TEXT_TYPES:
        return None
    if content_type == "text/plain":
        try:
            return normalise(body.decode(charset or "utf-8", "replace"))
        except LookupError:  # a charset Python does not know: read as UTF-8
            return normalise(body.decode("utf-8", "replace"))
    if not body.strip():
        return ""
    try:
        root = lxml.html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return ""
    etree.strip_elements(root, "script", "style", "noscript", etree.Comment, with_tail=False)
    return normalise(root.text_content())
