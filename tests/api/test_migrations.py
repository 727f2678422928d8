"""The counter's migration 0002 makes any earlier trigger function current (finding
18), and a restored database never repeats an ETag (finding 17)."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection, transaction
from django.db.models import F

from commitments.models import Milestone
from tracker.api.models import ChangeCounter

migration = importlib.import_module(
    "tracker.api.migrations.0002_counter_function_once_per_transaction"
)

# The function as the first version of 0001 installed it: one bump per row.
PER_ROW = """
CREATE OR REPLACE FUNCTION tracker_api_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tracker_api_changecounter (id, value, epoch, changed_at)
    VALUES (1, 1, md5(random()::text), clock_timestamp())
    ON CONFLICT (id) DO UPDATE
        SET value = tracker_api_changecounter.value + 1, changed_at = clock_timestamp();
    RETURN NULL;
END
$$;
"""


def bumps_of_one_transaction() -> int:
    before = ChangeCounter.objects.get(pk=1).value
    with transaction.atomic():
        Milestone.objects.update(version=F("version") + 1)
    return ChangeCounter.objects.get(pk=1).value - before


@pytest.mark.django_db(transaction=True)
def test_0002_replaces_a_per_row_function(agreements):
    if connection.vendor != "postgresql":
        pytest.skip("the per-row function was PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute(PER_ROW)
    assert bumps_of_one_transaction() == Milestone.objects.count() > 10  # the old cost
    with connection.schema_editor() as editor:
        migration.install(None, editor)
    assert bumps_of_one_transaction() == 1


@pytest.mark.django_db(transaction=True)
def test_0002_draws_a_fresh_epoch(agreements):
    epoch = ChangeCounter.objects.get(pk=1).epoch
    with connection.schema_editor() as editor:
        migration.install(None, editor)
    assert ChangeCounter.objects.get(pk=1).epoch != epoch


def test_a_restored_counter_never_repeats_an_etag(api, agreements, settings):
    """pg_restore --clean recreates the tables from the dump: the counter row comes
    back with values already handed out, but in a table with a new OID."""
    if connection.vendor != "postgresql":
        pytest.skip("the restore epoch is PostgreSQL's (SQLite: see docs/api.md)")
    before = api.get("/api/v1/milestones/")["ETag"]
    table = ChangeCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE saved AS SELECT * FROM {table}")
        cursor.execute(f"DROP TABLE {table}")
        cursor.execute(f"CREATE TABLE {table} (LIKE saved INCLUDING ALL)")
        cursor.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (id)")
        cursor.execute(f"INSERT INTO {table} SELECT * FROM saved")
    after = api.get("/api/v1/milestones/", HTTP_IF_NONE_MATCH=before)
    assert after.status_code == 200 and after["ETag"] != before
