from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from commitments.loader import DEFAULT_PATH, FixtureError, load_agreements


class Command(BaseCommand):
    help = (
        "Load the shipped agreements by natural keys. A record staff edited since it was "
        "loaded is reported as a conflict and kept; one staff deleted or archived is not "
        "brought back."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", default=str(DEFAULT_PATH), type=Path)

    def handle(self, *args: Any, path: Path, **options: Any) -> None:
        try:
            report = load_agreements(path)
        except FixtureError as exc:
            raise CommandError(str(exc)) from None
        for line in report.conflicts:
            self.stdout.write(self.style.WARNING(f"conflict: {line}"))
        for line in report.skipped:
            self.stdout.write(f"skipped: {line}")
        counts = report.counts()
        summary = ", ".join(f"{n} {what}" for what, n in counts.items())
        detail = "; ".join(
            f"{label}: " + ", ".join(f"{n} {kind}" for kind, n in sorted(counter.items()) if n)
            for label, counter in (("created", report.created), ("updated", report.updated))
            if sum(counter.values())
        )
        style = self.style.WARNING if report.conflicts else self.style.SUCCESS
        self.stdout.write(
            style(f"Agreements loaded: {summary}." + (f" ({detail})" if detail else ""))
        )
        if report.occurrences:
            n = report.occurrences
            self.stdout.write(
                f"{n} occurrence{'' if n == 1 else 's'} of recurring obligations made, "
                "up to the next one ahead."
            )
