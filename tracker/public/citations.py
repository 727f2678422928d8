"""How a source reads to a reader. A record names its source by a web address, a seed
file name (a copy of a published article that the record was built from) or one of
the tracker's own searches (``docs/sources.md#…``). A reader can open none of the last
two, so a seed is shown as the article it is (its headline, or its opening words where
the copy has none, its site and dateline) linked to where it was published, and a
search links to the public page that says what was looked for, where and when. What
is known of each comes from ``fixtures/sources.json``; nothing is guessed for a name
that is not there.

Only ``http(s)`` addresses are ever linked: a staff-typed ``javascript:`` address is
shown as text."""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse

CATALOGUE = settings.BASE_DIR / "fixtures" / "sources.json"


def web_address(value: str) -> str:
    """``value`` if a browser may follow it from our pages (http or https with a
    host), else ""."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return ""
    return value.strip() if parts.scheme in ("http", "https") and parts.hostname else ""


@dataclass(frozen=True)
class Citation:
    label: str  # what the reader reads: a headline, opening words, an address
    url: str  # "" when nothing can be linked
    site: str = ""  # the host the article was published on
    dated: dt.date | None = None  # the date the source itself gives
    quoted_label: bool = False  # the label is the source's own words (a headline)
    opening: bool = False  # the label is the article's opening words (no headline)


@dataclass(frozen=True)
class Search:
    anchor: str
    title: str
    on: dt.date
    where: str
    what: str
    queries: list[str]
    found: str


@dataclass(frozen=True)
class Seed:
    name: str
    citation: Citation


@functools.cache
def _catalogue() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    return data


def seeds() -> list[Seed]:
    return [Seed(name, _seed(name, entry)) for name, entry in sorted(_catalogue()["seeds"].items())]


def searches() -> list[Search]:
    return [
        Search(
            anchor=entry["anchor"],
            title=entry["title"],
            on=dt.date.fromisoformat(entry["on"]),
            where=entry["where"],
            what=entry["what"],
            queries=list(entry["queries"]),
            found=entry["found"],
        )
        for entry in _catalogue()["searches"].values()
    ]


def _seed(name: str, entry: dict[str, Any]) -> Citation:
    address = web_address(entry.get("address") or "")
    dated = dt.date.fromisoformat(entry["dated"]) if entry.get("dated") else None
    if entry.get("title"):
        label, opening = entry["title"], False
    else:
        label, opening = f"{entry['opening']}…", True
    return Citation(
        label=label,
        url=address,
        site=(urlsplit(address).hostname or "").removeprefix("www."),
        dated=dated,
        quoted_label=True,
        opening=opening,
    )


def cite(reference: str) -> Citation:
    """What a reader is shown for ``reference`` (a Source's ``reference``, a log
    entry's ``source_address``, a deadline revision's ``source``)."""
    reference = reference.strip()
    if url := web_address(reference):
        return Citation(label=url, url=url)
    catalogue = _catalogue()
    if reference in catalogue["seeds"]:
        return _seed(reference, catalogue["seeds"][reference])
    if reference in catalogue["searches"]:
        search = catalogue["searches"][reference]
        return Citation(
            label=search["title"], url=f"{reverse('tracker:sources')}#{search['anchor']}"
        )
    return Citation(label=reference, url="")
