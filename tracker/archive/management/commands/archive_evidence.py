"""Archive one cited address now, or every address the record cites (--all)."""

from __future__ import annotations

import json
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
        "it is), or --all: every address the record cites. Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("address", nargs="?")
        parser.add_argument("--all", action="store_true", help="every cited address")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["all"] == bool(options["address"]):
            raise CommandError("give one ADDRESS or --all")
        if options["all"]:
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

    def _print(self, capture: Capture, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(as_dict(capture), ensure_ascii=False))
        else:
            self.stdout.write(f"{capture.state}\t{capture.address}\t{capture.warc}")
