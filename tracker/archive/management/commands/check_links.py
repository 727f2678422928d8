"""Run the link check now: every cited address (or those given) asked again."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracker.archive import links
from tracker.archive.models import LinkCheck
from tracker.public.citations import web_address


def as_dict(check: LinkCheck) -> dict[str, Any]:
    return {
        "address": check.address,
        "outcome": check.outcome,
        "status": check.status,
        "answers": check.answers,
        "passages": check.passages,
        "passages_gone": check.passages_gone,
        "checked_at": check.checked_at.isoformat(),
        "error": check.error or None,
    }


class Command(BaseCommand):
    help = "Check every cited address (or ADDRESS...): does it answer, are the quoted words there?"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addresses", nargs="*")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")

    def handle(self, *args: Any, **options: Any) -> None:
        addresses = None
        if options["addresses"]:
            addresses = [web_address(a) for a in options["addresses"]]
            bad = [a for a, ok in zip(options["addresses"], addresses, strict=True) if not ok]
            if bad:
                raise CommandError(f"{bad[0]!r} is not an http(s) address")
        run = links.check_all(addresses=addresses)
        for check in run.checks:
            if options["json"]:
                self.stdout.write(json.dumps(as_dict(check), ensure_ascii=False))
            else:
                self.stdout.write(f"{check.outcome}\t{check.passages_gone} gone\t{check.address}")
        dead = [c for c in run.checks if c.answers is False]
        if dead:
            names = ", ".join(f"{c.address} ({c.error or c.outcome})" for c in dead)
            raise CommandError(f"no answer from {names}")
