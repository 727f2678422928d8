"""From fetched bytes to candidate items: feed entries (feedparser), and the new
paragraphs of a page reduced to its main text (trafilatura), as changedetection.io
compares a page with its last fetch."""

from __future__ import annotations

import calendar
import datetime as dt
import html
import re
from dataclasses import dataclass
from urllib.parse import quote

import feedparser
import trafilatura
from django.utils.html import strip_tags

from tracker.public.citations import web_address

# A feed has no use for entity declarations; refusing them stops entity expansion
# ("billion laughs") and external entities before any parser sees the document.
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
TITLE_MAX = 500


class ParseError(Exception):
    """The document could not be read as what the source says it is."""


@dataclass(frozen=True)
class Candidate:
    address: str
    title: str
    published: dt.datetime | None
    text: str


def plain(fragment: str) -> str:
    """Text of an HTML fragment: tags removed, entities decoded, blank runs collapsed,
    paragraph breaks kept."""
    fragment = re.sub(r"(?i)<\s*(br|/p|/div|/li|/h[1-6])\b[^>]*>", "\n", fragment or "")
    # A NUL (&#0; in a feed) is no text, and PostgreSQL refuses to store one.
    text = html.unescape(strip_tags(fragment)).replace("\x00", "")
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def parse_feed(body: bytes, *, content_type: str = "") -> tuple[list[Candidate], str]:
    """The feed's entries with a web address, in document order, and a warning ("" if
    none) when the feed was malformed but still readable. Raises ParseError when
    nothing could be read, or when the document declares entities."""
    if _ENTITY_DECLARATION.search(body):
        raise ParseError("the document declares XML entities (refused: entity expansion)")
    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=False)
    warning = ""
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        warning = f"malformed feed: {type(exc).__name__}: {exc}"[:500]
        if not parsed.entries:
            raise ParseError(warning)
    out = []
    for entry in parsed.entries:
        address = web_address(entry.get("link") or entry.get("id") or "")
        if not address or "\x00" in address:
            continue
        content = entry.get("content") or []
        body_html = content[0].get("value", "") if content else entry.get("summary", "")
        out.append(
            Candidate(
                address=address,
                title=" ".join(plain(entry.get("title", "")).split())[:TITLE_MAX],
                published=_when(entry.get("published_parsed") or entry.get("updated_parsed")),
                text=plain(body_html),
            )
        )
    return out, warning


def _when(parsed: object) -> dt.datetime | None:
    """feedparser's UTC struct_time as an aware datetime."""
    if parsed is None:
        return None
    try:
        return dt.datetime.fromtimestamp(calendar.timegm(parsed), tz=dt.UTC)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None


def page_text(body: bytes) -> tuple[str, str]:
    """(title, main text) of an HTML page: trafilatura drops menus, footers and ads.
    It is given the bytes, and reads them in the page's own charset (its <meta>, else
    a guess): a Shift_JIS page read as UTF-8 would be all replacement characters."""
    text = trafilatura.extract(body, include_comments=False, include_tables=False) or ""
    metadata = trafilatura.extract_metadata(body)
    title = (metadata.title if metadata is not None and metadata.title else "") or ""
    return title[:TITLE_MAX], text


def new_paragraphs(old_text: str, new_text: str) -> list[list[str]]:
    """Runs of consecutive paragraphs of ``new_text`` that ``old_text`` did not have."""
    seen = {" ".join(p.split()) for p in old_text.splitlines() if p.strip()}
    runs: list[list[str]] = []
    current: list[str] = []
    for paragraph in (" ".join(p.split()) for p in new_text.splitlines()):
        if not paragraph:
            continue
        if paragraph in seen:
            if current:
                runs.append(current)
                current = []
        else:
            current.append(paragraph)
    if current:
        runs.append(current)
    return runs


def page_candidates(url: str, title: str, old_text: str, new_text: str) -> list[Candidate]:
    """One candidate per run of new paragraphs. Its address opens the page at the run
    (a text fragment, ``#:~:text=``, of its first words); nothing on a first fetch,
    which only sets the baseline."""
    if not old_text:
        return []
    out = []
    for run in new_paragraphs(old_text, new_text):
        first_words = " ".join(run[0].split()[:8])
        address = f"{url.split('#', 1)[0]}#:~:text={quote(first_words, safe='')}"
        out.append(Candidate(address, title or url, None, "\n".join(run)))
    return out
