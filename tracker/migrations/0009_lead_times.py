"""LeadTimes, and the triggers on the subscription table that keep it (PostgreSQL and
SQLite): how many listening subscriptions hold each (lead_days, kinds) pair, so that
the sweep's reminders read a handful of rows, not every subscription.

"Listening" is frozen here as ``active AND pending_since IS NULL``, a copy of
``tracker.alerts.audience.listening``: a change to that rule needs a migration of its
own (tests/tracker/alerts/test_lead_times.py compares the two)."""

from django.db import migrations, models

LISTENING = "{row}active AND {row}pending_since IS NULL"

# Once per statement, from its transition tables: a bulk insert of 100,000 rows is one
# GROUP BY and a handful of upserts, not 100,000 updates of the same counter row.
PG_FUNCTION = f"""
CREATE FUNCTION tracker_lead_times() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM tracker_leadtimes;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE tracker_leadtimes AS t SET subscriptions = t.subscriptions - gone.n
        FROM (SELECT lead_days, kinds, count(*) AS n FROM old_rows WHERE {LISTENING.format(row="")}
              GROUP BY lead_days, kinds) AS gone
        WHERE t.lead_days = gone.lead_days AND t.kinds = gone.kinds;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO tracker_leadtimes (lead_days, kinds, subscriptions)
        SELECT lead_days, kinds, count(*) FROM new_rows WHERE {LISTENING.format(row="")}
        GROUP BY lead_days, kinds ORDER BY 1, 2
        ON CONFLICT (lead_days, kinds)
        DO UPDATE SET subscriptions = tracker_leadtimes.subscriptions + EXCLUDED.subscriptions;
    END IF;
    DELETE FROM tracker_leadtimes WHERE subscriptions = 0;
    RETURN NULL;
END
$$;
"""
PG_TRIGGERS = [
    "CREATE TRIGGER tracker_lead_times_insert AFTER INSERT ON tracker_subscription "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tracker_lead_times()",
    "CREATE TRIGGER tracker_lead_times_update AFTER UPDATE ON tracker_subscription "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION tracker_lead_times()",
    "CREATE TRIGGER tracker_lead_times_delete AFTER DELETE ON tracker_subscription "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tracker_lead_times()",
    "CREATE TRIGGER tracker_lead_times_truncate AFTER TRUNCATE ON tracker_subscription "
    "FOR EACH STATEMENT EXECUTE FUNCTION tracker_lead_times()",
]

# SQLite has no statement triggers; one writer at a time makes a row's upsert cheap.
ADD = f"""
    INSERT INTO tracker_leadtimes (lead_days, kinds, subscriptions)
    SELECT NEW.lead_days, NEW.kinds, 1 WHERE {LISTENING.format(row="NEW.")}
    ON CONFLICT (lead_days, kinds) DO UPDATE SET subscriptions = subscriptions + 1;
"""
REMOVE = f"""
    UPDATE tracker_leadtimes SET subscriptions = subscriptions - 1
    WHERE {LISTENING.format(row="OLD.")} AND lead_days = OLD.lead_days AND kinds = OLD.kinds;
    DELETE FROM tracker_leadtimes WHERE subscriptions = 0;
"""
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER tracker_lead_times_insert AFTER INSERT ON tracker_subscription "
    f"BEGIN {ADD} END",
    f"CREATE TRIGGER tracker_lead_times_update AFTER UPDATE OF lead_days, kinds, active, "
    f"pending_since ON tracker_subscription BEGIN {REMOVE} {ADD} END",
    f"CREATE TRIGGER tracker_lead_times_delete AFTER DELETE ON tracker_subscription "
    f"BEGIN {REMOVE} END",
]

FILL = f"""
INSERT INTO tracker_leadtimes (lead_days, kinds, subscriptions)
SELECT lead_days, kinds, count(*) FROM tracker_subscription WHERE {LISTENING.format(row="")}
GROUP BY lead_days, kinds
"""


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION)
        for statement in PG_TRIGGERS:
            schema_editor.execute(statement)
    elif vendor == "sqlite":
        for statement in SQLITE_TRIGGERS:
            schema_editor.execute(statement)
    else:  # pragma: no cover - the project runs on these two
        raise NotImplementedError(f"no lead-time triggers for {vendor}")
    schema_editor.execute(FILL)


def drop_triggers(apps, schema_editor):
    for name in ("insert", "update", "delete", "truncate"):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f"DROP TRIGGER IF EXISTS tracker_lead_times_{name} ON tracker_subscription"
            )
        elif name != "truncate":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS tracker_lead_times_{name}")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS tracker_lead_times()")


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0008_subscription_language"),
    ]

    operations = [
        migrations.CreateModel(
            name="LeadTimes",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("lead_days", models.JSONField()),
                ("kinds", models.JSONField()),
                ("subscriptions", models.PositiveIntegerField()),
            ],
            options={
                "verbose_name_plural": "lead times",
                "constraints": [
                    models.UniqueConstraint(fields=("lead_days", "kinds"), name="lead_times_once")
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
