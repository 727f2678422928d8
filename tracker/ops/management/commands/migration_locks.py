from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from tracker.ops.migration_locks import migration_locks


class Command(BaseCommand):
    help = (
        "List the locks each migration takes on existing tables (PostgreSQL), and flag "
        "those held while a table is scanned or an index built ('long')."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--long-only", action="store_true", help="only the 'long' ones")

    def handle(self, *args: Any, long_only: bool = False, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                f"migration_locks reads PostgreSQL's SQL; DATABASE_URL is {connection.vendor}"
            )
        for lock in migration_locks():
            if long_only and lock.verdict != "long":
                continue
            self.stdout.write(
                f"{lock.app}.{lock.migration}: {lock.table}: {lock.lock} [{lock.verdict}]\n"
                f"    {lock.statement}"
            )
