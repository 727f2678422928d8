"""The one CSV writer of the site: the public download (tracker.public.downloads) and
the API's lists (tracker.api.csv_export). UTF-8, CRLF lines, a header row, ISO dates,
UTC instants ("Z"), true/false, an empty cell for nothing.

No cell is a formula in a spreadsheet (OWASP, "CSV Injection"): a text cell starting
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

CONTENT_TYPE = "text/csv; charset=utf-8; header=present"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LINES_PER_CHUNK = 500  # one write to the client per this many rows, not one per row


def cell(value: Any) -> Any:
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else value


class _Line:
    """A file-like object that hands back what is written (Django's "Echo")."""

    def write(self, value: str) -> str:
        return value


def stream(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[bytes]:
    """The file, in chunks of LINES_PER_CHUNK rows: 100,000 rows never sit in memory."""
    writer = csv.writer(_Line(), lineterminator="\r\n")
    yield writer.writerow(header).encode()
    lines: list[str] = []
    for row in rows:
        lines.append(writer.writerow([cell(value) for value in row]))
        if len(lines) == LINES_PER_CHUNK:
            yield "".join(lines).encode()
            lines = []
    if lines:
        yield "".join(lines).encode()
