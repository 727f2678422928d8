"""The change counter and the triggers that keep it (PostgreSQL and SQLite)."""

from django.db import migrations, models

# Frozen copies of tracker.api.models.WATCHED_TABLES / WATCHED_USER_COLUMNS: a later
# change to those lists needs a migration of its own.
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
    -- Once per statement, not once per row: the trigger fires at COMMIT for every
    -- changed row, and updating the one counter row again and again walks an ever
    -- longer chain of its versions (a sweep flagging 70,000 rows would take minutes
    -- to commit). Deferred, all rows fire in the one COMMIT statement, so this is
    -- once per transaction; made immediate (SET CONSTRAINTS, as the tests do), once
    -- per statement. A transaction-local setting remembers the last bump.
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


def _events() -> list[tuple[str, str, str]]:
    """(trigger suffix, table, event) for every watched write."""
    events = [(op.lower(), table, op) for table in WATCHED_TABLES
              for op in ("INSERT", "UPDATE", "DELETE")]
    events.append(("name", "auth_user", f"UPDATE OF {', '.join(WATCHED_USER_COLUMNS)}"))
    return events


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION)
        for table in [*WATCHED_TABLES, "auth_user"]:
            event = (f"UPDATE OF {', '.join(WATCHED_USER_COLUMNS)}" if table == "auth_user"
                     else "INSERT OR UPDATE OR DELETE")
            schema_editor.execute(
                f"CREATE CONSTRAINT TRIGGER tracker_api_bump AFTER {event} ON {table} "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION tracker_api_bump()"
            )
    elif vendor == "sqlite":
        # SQLite has one writer at a time, so an immediate trigger is as good.
        for suffix, table, event in _events():
            schema_editor.execute(
                f"CREATE TRIGGER tracker_api_bump_{table}_{suffix} AFTER {event} ON {table} "
                f"FOR EACH ROW {SQLITE_BODY}"
            )
    else:
        raise NotImplementedError(f"no change-counter triggers for {vendor}")


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table in [*WATCHED_TABLES, "auth_user"]:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS tracker_api_bump ON {table}")
        schema_editor.execute("DROP FUNCTION IF EXISTS tracker_api_bump()")
    elif vendor == "sqlite":
        for suffix, table, _ in _events():
            schema_editor.execute(f"DROP TRIGGER IF EXISTS tracker_api_bump_{table}_{suffix}")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("commitments", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ChangeCounter",
            fields=[
                ("id", models.PositiveSmallIntegerField(primary_key=True, serialize=False)),
                ("value", models.BigIntegerField(default=0)),
                ("epoch", models.CharField(max_length=32)),
                ("changed_at", models.DateTimeField()),
            ],
            options={"verbose_name": "change counter"},
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
