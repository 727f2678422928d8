"""Install the current change-counter function and triggers, whatever an earlier
version of 0001 left (it was edited in place: a database that applied the first
version keeps a function that bumps the counter once per row, and a 40,000-row update
took 25 s to commit instead of 2). And draw a fresh epoch, stored in the counter row:
the validators mix it in (tracker/api/conditional.py)."""

from django.db import migrations

# Frozen copies (a later change needs a migration of its own).
WATCHED_TABLES = [
    "commitments_party",
    "commitments_agreement",
    "commitments_agreement_parties",
    "commitments_source",
    "commitments_commitment",
    "commitments_commitment_parties",
    "commitments_lead",
    "commitments_milestone",
    "commitments_milestonepart",
    "commitments_statusupdate",
    "commitments_deadlinerevision",
]
WATCHED_USER_COLUMNS = ["username", "first_name", "last_name"]
COUNTER = "tracker_api_changecounter"

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION tracker_api_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Once per transaction (deferred: every row fires in the one COMMIT statement),
    -- once per statement when made immediate. A transaction-local setting remembers
    -- the last bump: updating the one counter row for every changed row walks an
    -- ever longer chain of its versions.
    IF current_setting('tracker_api.bumped_in', true)
            = txid_current()::text || '@' || statement_timestamp()::text THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('tracker_api.bumped_in',
                       txid_current()::text || '@' || statement_timestamp()::text, true);
    INSERT INTO {COUNTER} (id, value, epoch, changed_at)
    VALUES (1, 1, md5(random()::text || clock_timestamp()::text), clock_timestamp())
    ON CONFLICT (id) DO UPDATE
        SET value = {COUNTER}.value + 1, changed_at = clock_timestamp();
    RETURN NULL;
END
$$;
"""

SQLITE_BODY = f"""
BEGIN
    INSERT INTO {COUNTER} (id, value, epoch, changed_at)
    VALUES (1, 1, lower(hex(randomblob(16))), strftime('%Y-%m-%d %H:%M:%f', 'now'))
    ON CONFLICT(id) DO UPDATE SET value = value + 1, changed_at = excluded.changed_at;
END
"""

FRESH_EPOCH = {
    "postgresql": (
        f"INSERT INTO {COUNTER} (id, value, epoch, changed_at) "
        "VALUES (1, 0, md5(random()::text || clock_timestamp()::text), clock_timestamp()) "
        "ON CONFLICT (id) DO UPDATE SET epoch = excluded.epoch"
    ),
    "sqlite": (
        f"INSERT INTO {COUNTER} (id, value, epoch, changed_at) "
        "VALUES (1, 0, lower(hex(randomblob(16))), strftime('%Y-%m-%d %H:%M:%f', 'now')) "
        "ON CONFLICT(id) DO UPDATE SET epoch = excluded.epoch"
    ),
}


def _sqlite_events() -> list[tuple[str, str, str]]:
    events = [
        (op.lower(), table, op)
        for table in WATCHED_TABLES
        for op in ("INSERT", "UPDATE", "DELETE")
    ]
    events.append(("name", "auth_user", f"UPDATE OF {', '.join(WATCHED_USER_COLUMNS)}"))
    return events


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION)
        for table in [*WATCHED_TABLES, "auth_user"]:
            event = (
                f"UPDATE OF {', '.join(WATCHED_USER_COLUMNS)}"
                if table == "auth_user"
                else "INSERT OR UPDATE OR DELETE"
            )
            schema_editor.execute(f"DROP TRIGGER IF EXISTS tracker_api_bump ON {table}")
            schema_editor.execute(
                f"CREATE CONSTRAINT TRIGGER tracker_api_bump AFTER {event} ON {table} "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION tracker_api_bump()"
            )
    elif vendor == "sqlite":
        for suffix, table, event in _sqlite_events():
            name = f"tracker_api_bump_{table}_{suffix}"
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
            schema_editor.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW {SQLITE_BODY}"
            )
    else:
        raise NotImplementedError(f"no change-counter triggers for {vendor}")
    schema_editor.execute(FRESH_EPOCH[vendor])


class Migration(migrations.Migration):
    dependencies = [("tracker_api", "0001_initial")]

    # Backwards: 0001's triggers stay as they are (this one only makes them current).
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
