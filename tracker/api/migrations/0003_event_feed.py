"""The event feed's table, the triggers that append to it (statement-level on
PostgreSQL, with transition tables; per row on SQLite), and the change counter on the
new log table."""

from django.db import migrations, models


# Frozen copy of tracker.api.models.EVENT_TABLES.
EVENT_TABLES = {
    "commitments_agreement": "agreement",
    "commitments_commitment": "commitment",
    "commitments_milestone": "milestone",
    "commitments_milestonepart": "milestone_part",
    "commitments_statusupdate": "status_update",
    "commitments_deadlinerevision": "deadline_revision",
    "commitments_logentry": "log_entry",
    "commitments_source": "source",
    "commitments_lead": "lead",
    "commitments_party": "party",
}
EVENT = "tracker_api_event"
COLUMNS = "(txid, at, subject, action, object_id, milestone_id, commitment_id)"
COUNTER = "tracker_api_changecounter"

# What an UPDATE was, first match wins (the columns a table does not have are skipped).
UPDATE_ACTIONS = [
    ("archived_at", "archived", "{o} IS NULL AND {n} IS NOT NULL"),
    ("archived_at", "restored", "{o} IS NOT NULL AND {n} IS NULL"),
    ("overdue_since", "overdue_flagged", "{o} IS NULL AND {n} IS NOT NULL"),
    ("overdue_since", "overdue_cleared", "{o} IS NOT NULL AND {n} IS NULL"),
    ("assessment", "assessed", "{o} IS DISTINCT FROM {n}"),
    ("due_on", "deadline_changed", "{o} IS DISTINCT FROM {n}"),
    ("status", "status_changed", "{o} IS DISTINCT FROM {n}"),
]

PG_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION tracker_api_event_action(o jsonb, n jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        {" ".join(
            "WHEN n ? '{c}' AND {cond} THEN '{a}'".format(
                c=column, a=action,
                cond=cond.format(o=f"o->>'{column}'", n=f"n->>'{column}'"),
            )
            for column, action, cond in UPDATE_ACTIONS
        )}
        ELSE 'changed' END
$$;

CREATE OR REPLACE FUNCTION tracker_api_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    subject text := TG_ARGV[0];
BEGIN
    -- One statement-level trigger per operation (transition tables), so a sweep that
    -- flags 70,000 milestones appends its events in one INSERT ... SELECT.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO {EVENT} {COLUMNS}
        SELECT txid_current(), clock_timestamp(), subject, 'created', (j->>'id')::bigint,
               (CASE subject WHEN 'milestone' THEN j->>'id' ELSE j->>'milestone_id' END)::bigint,
               (CASE subject WHEN 'commitment' THEN j->>'id' ELSE j->>'commitment_id' END)::bigint
        FROM (SELECT to_jsonb(r) AS j FROM new_rows r ORDER BY r.id) AS rows;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO {EVENT} {COLUMNS}
        SELECT txid_current(), clock_timestamp(), subject, 'deleted', (j->>'id')::bigint,
               (CASE subject WHEN 'milestone' THEN j->>'id' ELSE j->>'milestone_id' END)::bigint,
               (CASE subject WHEN 'commitment' THEN j->>'id' ELSE j->>'commitment_id' END)::bigint
        FROM (SELECT to_jsonb(r) AS j FROM old_rows r ORDER BY r.id) AS rows;
    ELSE
        INSERT INTO {EVENT} {COLUMNS}
        SELECT txid_current(), clock_timestamp(), subject,
               tracker_api_event_action(o.j, n.j), n.id,
               (CASE subject WHEN 'milestone' THEN n.j->>'id'
                ELSE n.j->>'milestone_id' END)::bigint,
               (CASE subject WHEN 'commitment' THEN n.j->>'id'
                ELSE n.j->>'commitment_id' END)::bigint
        FROM (SELECT r.id, to_jsonb(r) AS j FROM new_rows r) AS n
        JOIN (SELECT r.id, to_jsonb(r) AS j FROM old_rows r) AS o ON o.id = n.id
        WHERE n.j IS DISTINCT FROM o.j  -- a no-op UPDATE is no event
        ORDER BY n.id;
    END IF;
    RETURN NULL;
END
$$;
"""

SQLITE_COUNTER_BODY = f"""
BEGIN
    INSERT INTO {COUNTER} (id, value, epoch, changed_at)
    VALUES (1, 1, lower(hex(randomblob(16))), strftime('%Y-%m-%d %H:%M:%f', 'now'))
    ON CONFLICT(id) DO UPDATE SET value = value + 1, changed_at = excluded.changed_at;
END
"""


def _columns(schema_editor, table):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        return {c.name for c in connection.introspection.get_table_description(cursor, table)}


def _sqlite_refs(subject, columns, row):
    milestone = f"{row}.id" if subject == "milestone" else (
        f"{row}.milestone_id" if "milestone_id" in columns else "NULL"
    )
    commitment = f"{row}.id" if subject == "commitment" else (
        f"{row}.commitment_id" if "commitment_id" in columns else "NULL"
    )
    return milestone, commitment


def _sqlite_action(columns):
    whens = [
        f"WHEN {cond.format(o=f'OLD.{column}', n=f'NEW.{column}')} THEN '{action}'"
        for column, action, cond in UPDATE_ACTIONS
        if column in columns
    ]
    return f"CASE {' '.join(whens)} ELSE 'changed' END" if whens else "'changed'"


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTIONS)
        for table, subject in EVENT_TABLES.items():
            for op, ref in [
                ("INSERT", "NEW TABLE AS new_rows"),
                ("DELETE", "OLD TABLE AS old_rows"),
                ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ]:
                schema_editor.execute(
                    f"CREATE TRIGGER tracker_api_event_{op.lower()} AFTER {op} ON {table} "
                    f"REFERENCING {ref} FOR EACH STATEMENT "
                    f"EXECUTE FUNCTION tracker_api_event('{subject}')"
                )
        # The log is shown by the API too: the change counter follows it.
        schema_editor.execute(
            "CREATE CONSTRAINT TRIGGER tracker_api_bump AFTER INSERT OR UPDATE OR DELETE "
            "ON commitments_logentry DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            "EXECUTE FUNCTION tracker_api_bump()"
        )
    elif vendor == "sqlite":
        now = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
        for table, subject in EVENT_TABLES.items():
            columns = _columns(schema_editor, table)
            for op, row, action in [
                ("INSERT", "NEW", "'created'"),
                ("DELETE", "OLD", "'deleted'"),
                ("UPDATE", "NEW", _sqlite_action(columns)),
            ]:
                milestone, commitment = _sqlite_refs(subject, columns, row)
                schema_editor.execute(
                    f"CREATE TRIGGER tracker_api_event_{table}_{op.lower()} AFTER {op} "
                    f"ON {table} FOR EACH ROW BEGIN INSERT INTO {EVENT} {COLUMNS} VALUES "
                    f"(0, {now}, '{subject}', {action}, {row}.id, {milestone}, {commitment}); "
                    "END"
                )
        for op in ("INSERT", "UPDATE", "DELETE"):
            schema_editor.execute(
                f"CREATE TRIGGER tracker_api_bump_commitments_logentry_{op.lower()} AFTER {op} "
                f"ON commitments_logentry FOR EACH ROW {SQLITE_COUNTER_BODY}"
            )
    else:
        raise NotImplementedError(f"no event triggers for {vendor}")


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table in EVENT_TABLES:
            for op in ("insert", "update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS tracker_api_event_{op} ON {table}")
        schema_editor.execute("DROP TRIGGER IF EXISTS tracker_api_bump ON commitments_logentry")
        schema_editor.execute("DROP FUNCTION IF EXISTS tracker_api_event()")
        schema_editor.execute("DROP FUNCTION IF EXISTS tracker_api_event_action(jsonb, jsonb)")
    elif vendor == "sqlite":
        for table in EVENT_TABLES:
            for op in ("insert", "update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS tracker_api_event_{table}_{op}")
        for op in ("insert", "update", "delete"):
            schema_editor.execute(
                f"DROP TRIGGER IF EXISTS tracker_api_bump_commitments_logentry_{op}"
            )


class Migration(migrations.Migration):

    dependencies = [
        ('tracker_api', '0002_counter_function_once_per_transaction'),
        ('commitments', '0005_record_log_archive_versions'),
    ]

    operations = [
        migrations.CreateModel(
            name='Event',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('txid', models.BigIntegerField()),
                ('at', models.DateTimeField()),
                ('subject', models.CharField(max_length=32)),
                ('action', models.CharField(max_length=32)),
                ('object_id', models.BigIntegerField()),
                ('milestone_id', models.BigIntegerField(null=True)),
                ('commitment_id', models.BigIntegerField(null=True)),
            ],
            options={
                'indexes': [models.Index(fields=['txid', 'id'], name='event_cursor_idx')],
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
