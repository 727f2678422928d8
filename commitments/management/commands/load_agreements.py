from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from commitments.loader import DEFAULT_PATH, FixtureError, load_agreements


class Command(BaseCommand):
    help = "Load the shipped agreements (idempotent: a second run creates nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", default=str(DEFAULT_PATH), type=Path)

    def handle(self, *args: Any, path: Path, **options: Any) -> None:
        try:
            created = load_agreements(path)
        except FixtureError as exc:
            raise CommandError(str(exc)) from None
        if not created or not sum(created.values()):
            self.stdout.write("Agreements already loaded; nothing to create.")
            return
        summary = ", ".join(f"{n} {kind}" for kind, n in sorted(created.items()) if n)
        self.stdout.write(self.style.SUCCESS(f"Created {summary}."))
