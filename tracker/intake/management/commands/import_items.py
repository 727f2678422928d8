"""``manage.py import_items PATH [--json]``: read an RSS or Atom file (``-`` for
standard input) as if fetched from a watched source and create findings.

With ``--json``, one JSON object per line per item, in input order::

    {"address", "title", "published", "suggestions": [{"agreement", "commitment",
     "score", "sentences"}]}

suggestions best first, ``[]`` when the item bears on nothing tracked. Idempotent: a
second run creates no finding and prints the same suggestions (those stored with the
finding). It changes nothing but items, findings and their suggestions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import parsing, services
from ...matching import Matcher


class Command(BaseCommand):
    help = "Create findings from an RSS or Atom file (- for standard input)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="an RSS or Atom file, or - for standard input")
        parser.add_argument("--json", action="store_true", help="one JSON object per item")

    def handle(self, *args: Any, path: str, json: bool, **options: Any) -> None:
        body = self._read(path)
        try:
            candidates, warning = parsing.parse_feed(body)
        except parsing.ParseError as exc:
            raise CommandError(f"{path}: {exc}") from None
        if warning:
            self.stderr.write(f"{path}: {warning}")
        done = services.items_ingest(candidates, source=None, matcher=Matcher.from_db())
        if json:
            for row in done:
                self.stdout.write(dump(row))
            return
        created = sum(1 for row in done if row.created)
        self.stdout.write(f"{len(done)} item(s) read, {created} new finding(s).")

    def _read(self, path: str) -> bytes:
        if path == "-":
            return sys.stdin.buffer.read()
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path!r}: {exc.strerror or exc}") from None


def dump(row: services.Ingested) -> str:
    candidate = row.candidate
    return json.dumps(
        {
            "address": candidate.address,
            "title": candidate.title,
            "published": candidate.published.isoformat() if candidate.published else None,
            "suggestions": [
                {
                    "agreement": m.agreement,
                    "commitment": m.commitment,
                    "score": round(m.score, 3),
                    "sentences": m.sentences,
                }
                for m in row.suggestions
            ],
        },
        ensure_ascii=False,
    )
