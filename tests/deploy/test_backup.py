"""A backup restores into a tracker that works: pg_dump of a populated database,
pg_restore into a fresh one, and there the change counter's triggers still fire (an
update moves the API's ETag forward) and the outbox resumes (a pending alert is sent).
The procedure is the one docs/deploy.md ("Backups") gives operators."""

from __future__ import annotations

import glob
import json
import shutil
import subprocess
import sys

import pytest
from django.db import connection
from django.test import Client

from commitments.models import Milestone, Status
from commitments.services import milestone_set_status
from tests.conftest import require_service
from tests.tracker.conftest import ROOT, database_url_for_subprocess, process_env
from tracker.alerts import dispatch
from tracker.api.models import ChangeCounter
from tracker.models import Subscription

RESTORED = "tracker_deploy_restore"
EVIDENCE = "https://example.org/evidence"


def pg_tool(name: str) -> str:
    """The client tools of the server's major version (Debian installs them side by
    side in /usr/lib/postgresql/<major>/bin)."""
    major = connection.pg_version // 10000
    candidates = glob.glob(f"/usr/lib/postgresql/{major}/bin/{name}")
    found = candidates[0] if candidates else shutil.which(name)
    require_service(found is not None, f"{name} (PostgreSQL {major}) is not installed")
    return found


def server_url(database: str) -> str:
    base = database_url_for_subprocess().rsplit("/", 1)[0]
    return f"{base}/{database}"


@pytest.mark.django_db(transaction=True)
def test_a_dump_restores_into_a_tracker_whose_triggers_and_outbox_work(
    agreements, settings, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.skip("pg_dump and pg_restore: PostgreSQL only")
    ministerial = Milestone.objects.select_related("commitment__agreement").get(
        key="ministerial-convened"
    )
    Subscription.objects.create(
        email="desk@example.org", agreement=ministerial.commitment.agreement
    )
    milestone_set_status(
        milestone=ministerial, status=Status.COMPLETED, by=None, evidence_url=EVIDENCE
    )
    pending = dispatch.undispatched()  # the outbox: history rows not yet alerts
    counter = ChangeCounter.objects.get(pk=1).value
    etag = Client().get("/api/v1/status/")["ETag"]
    assert pending >= 1

    dump = tmp_path / "tracker.dump"
    subprocess.run(
        [pg_tool("pg_dump"), "--format=custom", "--file", str(dump), database_url_for_subprocess()],
        check=True,
    )
    subprocess.run(
        [pg_tool("dropdb"), "--if-exists", "--maintenance-db", server_url("postgres"), RESTORED],
        check=True,
    )
    subprocess.run(
        [pg_tool("createdb"), "--maintenance-db", server_url("postgres"), RESTORED], check=True
    )
    try:
        subprocess.run(
            [
                pg_tool("pg_restore"),
                "--no-owner",
                "--exit-on-error",
                "-d",
                server_url(RESTORED),
                str(dump),
            ],
            check=True,
        )
        env = process_env(
            DATABASE_URL=server_url(RESTORED),
            ALLOWED_HOSTS="testserver",
            CELERY_BROKER_URL="memory://",
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        )
        env.pop("CACHE_URL", None)
        done = subprocess.run(
            [sys.executable, "tests/deploy/scripts/after_restore.py", "projects-selected"
             + "-and-funded"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        restored = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(
            [pg_tool("dropdb"), "--if-exists", "--maintenance-db", server_url("postgres"), RESTORED]
        )
    print(f"\n[backup] before the dump: counter {counter}, {pending} pending, ETag {etag}; "
          f"restored: {restored}")  # fmt: skip
    assert restored["counter_restored"] == counter
    # A restore is a new epoch (issue 8, finding 17): no poller holding an ETag from
    # before gets a 304 for data that may have moved since; it gets the body again.
    assert restored["etag_restored"] != etag
    assert restored["counter_after_update"] > counter  # the triggers fire
    assert restored["etag_after_update"] not in {etag, restored["etag_restored"]}
    assert restored["pending_before_delivery"] == pending
    assert restored["sent"] >= pending and restored["emails"] >= 1  # the outbox resumes
    assert restored["pending_after_delivery"] == 0
