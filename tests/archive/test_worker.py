"""Archive on save through a real Celery worker (in this process, real Redis): a
source saved by staff queues its page once the save commits, and the worker archives
it; a page that fails is recorded and left for the retry, and the save never waits."""

from __future__ import annotations

import pytest

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
    Source.objects.create(agreement=agreement, reference=good.url_for("/release"), fact="a")
    Source.objects.create(agreement=agreement, reference=bad.url_for("/release"), fact="b")

    def settled() -> bool:
        return not Capture.objects.filter(state=Capture.State.PENDING).exists()

    wait_until(settled, timeout=30, what="the worker to archive both pages")
    got = dict(Capture.objects.values_list("address", "state"))
    assert got == {good.url_for("/release"): "archived", bad.url_for("/release"): "failed"}
    failed = Capture.objects.get(state="failed")
    assert failed.error == "HTTP 404" and failed.next_try is not None
    assert celery_worker.counts["tracker.archive.tasks.archive_due"] >= 1
