"""The event trigger turns each changed row into JSON once, not once per use.

0003's UPDATE branch joined two subqueries of ``to_jsonb(row)``; PostgreSQL flattens
them, so every row was converted again in the join filter and in each output column:
at 14,000 flagged milestones the trigger took 1.0 to 3.2 s of a 2.0 to 4.0 s UPDATE.
Materialized CTEs convert each row once (360 ms; bench/README.md, "Sweep"). Same rows,
same actions: only the plan changes. SQLite's per-row triggers are untouched."""

from importlib import import_module

from django.db import migrations

EVENT = "tracker_api_event"
COLUMNS = "(txid, at, subject, action, object_id, milestone_id, commitment_id)"

PG_FUNCTION = f"""
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
        -- MATERIALIZED: each row becomes JSON once (inlined, it was converted again
        -- for the comparison and for every column read from it).
        WITH n AS MATERIALIZED (SELECT r.id, to_jsonb(r) AS j FROM new_rows r),
             o AS MATERIALIZED (SELECT r.id, to_jsonb(r) AS j FROM old_rows r)
        INSERT INTO {EVENT} {COLUMNS}
        SELECT txid_current(), clock_timestamp(), subject,
               tracker_api_event_action(o.j, n.j), n.id,
               (CASE subject WHEN 'milestone' THEN n.j->>'id'
                ELSE n.j->>'milestone_id' END)::bigint,
               (CASE subject WHEN 'commitment' THEN n.j->>'id'
                ELSE n.j->>'commitment_id' END)::bigint
        FROM n JOIN o ON o.id = n.id
        WHERE n.j IS DISTINCT FROM o.j  -- a no-op UPDATE is no event
        ORDER BY n.id;
    END IF;
    RETURN NULL;
END
$$;
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION)


def restore_0003(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        previous = import_module("tracker.api.migrations.0003_event_feed")
        schema_editor.execute(previous.PG_FUNCTIONS)


class Migration(migrations.Migration):
    dependencies = [("tracker_api", "0003_event_feed")]

    operations = [migrations.RunPython(install, restore_0003, elidable=False)]
