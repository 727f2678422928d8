from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from ... import seeds


class Command(BaseCommand):
    help = "Load the example watched sources (disabled) and the starting keywords."

    def handle(self, *args: Any, **options: Any) -> None:
        sources, keywords = seeds.load()
        self.stdout.write(f"{sources} source(s) and {keywords} keyword(s) added.")
