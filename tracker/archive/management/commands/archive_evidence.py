"""Archive one cited address now, or every address the record cites (--all)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracker.archive import services
from tracker.archive.models import Capture
from tracker.public.citations import web_address


def as_dict(capture: Capture) -> dict[str, Any]:
    return {
        "address": capture.address,
        "status": capture.state,
        "http_status": capture.status,
        "sha256": capture.sha256 or None,
        "warc": capture.warc or None,
        "fetched_at": capture.fetched_at.isoformat() if capture.fetched_at else None,
        "error": capture.error or None,
    }


class Command(BaseCommand):
    help = (
        "Fetch ADDRESS now and keep it as WARC (an address already archived is kept as "
        "it is), or --all: every address the record cites, or --seeds DIR: the text of "
        "every seed the record cites. Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("address", nargs="?")
        parser.add_argument("--all", action="store_true", help="every cited address")
        parser.add_argument(
            "--seeds", metavar="DIR", help="keep each cited seed's text (DIR/<name>) as its copy"
        )
        parser.add_argument("--json", action="store_true", help="one JSON object per line")

    def handle(self, *args: Any, **options: Any) -> None:
        if [bool(options["address"]), options["all"], bool(options["seeds"])].count(True) != 1:
            raise CommandError("give one ADDRESS, --all or --seeds DIR")
        if options["seeds"]:
            captures = self._seeds(Path(options["seeds"]))
        elif options["all"]:
            captures = services.archive_all()
        else:
            address = web_address(options["address"])
            if not address:
                raise CommandError(f"{options['address']!r} is not an http(s) address")
            captures = [services.archive_address(address)]
        for capture in captures:
            self._print(capture, options["json"])
        failed = [c for c in captures if not c.archived]
        if failed:
            names = ", ".join(f"{c.address} ({c.error or c.outcome})" for c in failed)
            raise CommandError(f"could not archive {names}")

    def _seeds(self, folder: Path) -> list[Capture]:
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a directory")
        names = services.cited_seeds()
        missing = [n for n in names if not (folder / n).is_file()]
        captures = [
            services.archive_seed(n, (folder / n).read_bytes()) for n in names if n not in missing
        ]
        if missing:  # the others are kept all the same
            for capture in captures:
                self._print(capture, True)
            raise CommandError(f"no file in {folder} for the seed {', '.join(missing)}")
        return captures

    def _print(self, capture: Capture, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(as_dict(capture), ensure_ascii=False))
        else:
            self.stdout.write(f"{capture.state}\t{capture.address}\t{capture.warc}")
