"""Which PostgreSQL locks each migration takes, read from the SQL it would run.

The rule for new migrations on tables that hold data (milestones, history, alerts):

- indexes with ``django.contrib.postgres.operations.AddIndexConcurrently`` (and
  ``RemoveIndexConcurrently``), in a migration with ``atomic = False``: the build takes
  SHARE UPDATE EXCLUSIVE, and reads and writes go on;
- a foreign key or check on an existing table as ``NOT VALID`` first, then
  ``VALIDATE CONSTRAINT`` in a later migration (SHARE UPDATE EXCLUSIVE while it scans);
- no column type change or ``SET NOT NULL`` on a full table in one step.

A plain ``CREATE INDEX`` holds a SHARE lock (every write waits) for the whole build,
and ``ADD CONSTRAINT … FOREIGN KEY`` a SHARE ROW EXCLUSIVE lock on both tables while
it checks every row. ``manage.py migration_locks`` prints the list; the test
``tests/deploy/test_migration_locks.py`` holds new migrations to the rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# Verdicts: "ok" (no lock that waits for the table's size), "brief" (a strong lock held
# for a catalogue change only), "long" (a strong lock held while the table is read or
# written: it grows with the table).
_RULES: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"^CREATE (UNIQUE )?INDEX CONCURRENTLY", re.I), "SHARE UPDATE EXCLUSIVE", "ok"),
    (re.compile(r"^DROP INDEX CONCURRENTLY", re.I), "SHARE UPDATE EXCLUSIVE", "ok"),
    (re.compile(r"^CREATE (UNIQUE )?INDEX", re.I), "SHARE (blocks writes)", "long"),
    (re.compile(r"^DROP INDEX", re.I), "ACCESS EXCLUSIVE", "brief"),
    (re.compile(r"VALIDATE CONSTRAINT", re.I), "SHARE UPDATE EXCLUSIVE", "ok"),
    (re.compile(r"FOREIGN KEY.*NOT VALID", re.I), "SHARE ROW EXCLUSIVE", "brief"),
    (re.compile(r"CHECK .*NOT VALID", re.I), "ACCESS EXCLUSIVE", "brief"),
    (
        re.compile(r"ADD CONSTRAINT .* FOREIGN KEY", re.I),
        "SHARE ROW EXCLUSIVE, both tables",
        "long",
    ),
    (re.compile(r"ADD CONSTRAINT .* (UNIQUE|PRIMARY KEY)", re.I), "ACCESS EXCLUSIVE", "long"),
    (re.compile(r"ADD CONSTRAINT .* CHECK", re.I), "ACCESS EXCLUSIVE", "long"),
    (re.compile(r"ALTER COLUMN .* TYPE", re.I), "ACCESS EXCLUSIVE (may rewrite)", "long"),
    (re.compile(r"SET NOT NULL", re.I), "ACCESS EXCLUSIVE", "long"),
    (re.compile(r"^ALTER TABLE", re.I), "ACCESS EXCLUSIVE", "brief"),
    (
        re.compile(r"^CREATE (OR REPLACE )?(CONSTRAINT )?TRIGGER", re.I),
        "SHARE ROW EXCLUSIVE",
        "brief",
    ),
    (re.compile(r"^(DROP|TRUNCATE) ", re.I), "ACCESS EXCLUSIVE", "brief"),
    (re.compile(r"^(UPDATE|DELETE|INSERT) ", re.I), "ROW EXCLUSIVE (row locks)", "long"),
]
_TABLE = re.compile(
    r'(?:ON|ALTER TABLE|TRIGGER \S+ .* ON|UPDATE|DELETE FROM|INSERT INTO|TRUNCATE)\s+"?(\w+)"?',
    re.I,
)
_CREATED = re.compile(r'^CREATE TABLE (?:IF NOT EXISTS )?"?(\w+)"?', re.I)


@dataclass(frozen=True)
class Lock:
    app: str
    migration: str
    table: str
    lock: str
    verdict: str
    statement: str


def classify(statement: str, new_tables: set[str]) -> tuple[str, str, str] | None:
    """(table, lock, verdict) for one SQL statement, or None for one that locks no
    existing table (a new table, a function, a comment)."""
    sql = " ".join(statement.split())
    created = _CREATED.match(sql)
    if created:
        new_tables.add(created.group(1))
        return None
    table_match = _TABLE.search(sql)
    if table_match is None:
        return None
    table = table_match.group(1)
    for pattern, lock, verdict in _RULES:
        if pattern.search(sql):
            if table in new_tables and verdict != "ok":
                # An empty table of this migration's own: nothing to wait for, except
                # that a foreign key locks the table it points at, briefly.
                return (table, lock, "brief") if "FOREIGN KEY" in sql.upper() else None
            return table, lock, verdict
    return None


def _split(sql_lines: list[str]) -> list[str]:
    statements, current = [], []
    for line in sql_lines:
        if line.startswith("--") or not line.strip():
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            statements.append(" ".join(current))
            current = []
    return [s for s in statements if s.strip().upper() not in ("BEGIN;", "COMMIT;")]


def migration_locks(apps_labels: tuple[str, ...] = ("commitments", "tracker", "tracker_api")):
    """Every lock our migrations take on existing tables, in order. PostgreSQL only
    (the SQL is PostgreSQL's); the database need not be migrated."""
    executor = MigrationExecutor(connection)
    out: list[Lock] = []
    for app, name in sorted(executor.loader.disk_migrations):
        if app not in apps_labels:
            continue
        migration = executor.loader.get_migration(app, name)
        state = executor.loader.project_state((app, name), at_end=False)
        with connection.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
            migration.apply(state, editor, collect_sql=True)
        new_tables: set[str] = set()
        for statement in _split(editor.collected_sql):
            found = classify(statement, new_tables)
            if found:
                table, lock, verdict = found
                out.append(Lock(app, name, table, lock, verdict, statement[:160]))
        for op in migration.operations:
            if type(op).__name__ == "RunPython":
                out.append(Lock(app, name, "?", "row locks (Python code)", "review", repr(op)))
    return out
