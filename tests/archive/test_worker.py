"""Archive on save through a real Celery worker (in this process, real Redis): a
source saved by staff queues its page once the save commits, and the worker archives
it; a page that fails is recorded and left for the retry, and the save never waits."""

from __future__ import annotations

import pytest
from django.db import transaction

from commitments.models import Source
from tests.factories import AgreementFactory
from tests.tracker.conftest import celery_worker, redis_url, wait_until  # noqa: F401
from tracker.archive.models import Capture

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def test_a_saved_source_is_archived_by_the_worker(celery_worker, sites):  # noqa: F811
    good, bad = sites(), sites()
    good.expect_request("/release").respond_with_data("<p>words</p>", content_type="text/html")
    bad.expect_request("/release").respond_with_data("gone", status=404)
    agreement = AgreementFactory()
    with transaction.atomic():  # one save of two sources: one doorbell, on commit
        Source.objects.create(agreement=agreement, reference=good.url_for("/release"), fact="a")
        Source.objects.create(agreement=agreement, reference=bad.url_for("/release"), fact="b")
    # Waiting on the worker's count, not on the database: SQLite's shared in-memory test
    # database refuses a read while the worker's thread writes ("table is locked").
    task = "tracker.archive.tasks.archive_due"
    wait_until(lambda: celery_worker.counts[task] >= 1, timeout=30, what=f"{task} to run")
    got = dict(Capture.objects.values_list("address", "state"))
    assert got == {good.url_for("/release"): "archived", bad.url_for("/release"): "failed"}
    failed = Capture.objects.get(state="failed")
    assert failed.error == "HTTP 404" and failed.next_try is not None
    assert celery_worker.results[0] == (task, {"archived": 1, "failed": 1})
