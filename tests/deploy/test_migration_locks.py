"""Which locks the migrations take, and the rule for new ones (tracker/ops/migration_locks.py)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from tracker.ops.migration_locks import classify, migration_locks

# Released before the rule: they built indexes with a plain CREATE INDEX (SHARE lock,
# every write to the table waits for the build), or re-added a foreign key that checks
# every row (commitments 0003 on the history table: the 8.9 s wait the issue measured).
# Never edited; new ones must not. The SQL depends on the database's state (what there
# is to drop): the test database, like production, is migrated.
GRANDFATHERED = {
    ("commitments", "0002_milestone_milestone_to_flag_idx_and_more"),
    ("commitments", "0003_alter_statusupdate_milestone"),
    ("commitments", "0004_clearing_indexes"),
    ("tracker", "0003_sweeprun_finished_idx"),
    ("tracker", "0004_alter_alert_milestone"),
    # On main before the rule landed (the lead's schema commit): its AlterFields may
    # change a column's type on commitments_source, a small table.
    ("commitments", "0005_record_log_archive_versions"),
    # Written beside the rule, on another branch, and merged after it (the alert
    # outbox): its new keys and indexes on tracker_alert lock that table while they
    # scan it. Known and noted; the next migration on tracker_alert follows the rule.
    ("tracker", "0006_outbox_events_deliveries_webhooks"),
    # Written on a branch (recurring obligations, issue 21) and merged at the end of the
    # session of 2026-12-07 without the rule: a foreign key checked at once and a unique
    # partial index built plainly on commitments_milestone (hundreds of rows today).
    # Known and noted on the issue; the next migration on that table follows the rule.
    ("commitments", "0008_milestone_series"),
    ("commitments", "0009_milestone_series_idx"),
}


def test_a_plain_index_build_on_an_existing_table_is_long():
    sql = 'CREATE INDEX "x_idx" ON "commitments_milestone" ("due_on");'
    assert classify(sql, set()) == ("commitments_milestone", "SHARE (blocks writes)", "long")


def test_a_concurrent_index_build_is_ok():
    sql = 'CREATE INDEX CONCURRENTLY "x_idx" ON "tracker_alert" ("kind");'
    assert classify(sql, set()) == ("tracker_alert", "SHARE UPDATE EXCLUSIVE", "ok")


def test_a_foreign_key_not_valid_then_validated_is_brief_then_ok():
    add = (
        'ALTER TABLE "tracker_alert" ADD CONSTRAINT "fk" FOREIGN KEY ("m_id") '
        'REFERENCES "commitments_milestone" ("id") NOT VALID;'
    )
    validate = 'ALTER TABLE "tracker_alert" VALIDATE CONSTRAINT "fk";'
    assert classify(add, set())[2] == "brief"
    assert classify(validate, set())[2] == "ok"
    plain = add.replace(" NOT VALID", "")
    assert classify(plain, set())[2] == "long"


def test_statements_on_a_table_created_in_the_same_migration_wait_for_nothing():
    new: set[str] = set()
    assert classify('CREATE TABLE "tracker_webhook" ("id" bigint);', new) is None
    assert classify('CREATE INDEX "w_idx" ON "tracker_webhook" ("id");', new) is None


@pytest.mark.django_db
def test_no_migration_after_the_rule_holds_a_long_lock():
    if connection.vendor != "postgresql":
        pytest.skip("reads PostgreSQL's SQL; the suite is on SQLite")
    locks = migration_locks()
    long_ones = {(lock.app, lock.migration) for lock in locks if lock.verdict == "long"}
    print(
        "\n".join(
            f"{lock.app}.{lock.migration} {lock.table}: {lock.lock} [{lock.verdict}]"
            for lock in locks
            if lock.verdict != "brief"
        )
    )
    assert long_ones - GRANDFATHERED == set(), (
        "a new migration holds a strong lock while it scans or builds: use "
        "AddIndexConcurrently (atomic = False), or NOT VALID then VALIDATE CONSTRAINT"
    )
    # The check still sees what it saw (on a migrated database).
    assert long_ones >= {
        ("commitments", "0004_clearing_indexes"),
        ("tracker", "0004_alter_alert_milestone"),
    }


@pytest.mark.django_db
def test_the_command_lists_them(capsys):
    if connection.vendor != "postgresql":
        pytest.skip("reads PostgreSQL's SQL; the suite is on SQLite")
    call_command("migration_locks", "--long-only")
    out = capsys.readouterr().out
    assert "commitments.0004_clearing_indexes: commitments_milestone: SHARE (blocks writes)" in out
