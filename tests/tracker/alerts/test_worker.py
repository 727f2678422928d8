"""The whole path through a real Celery worker, real Redis and a real SMTP server: the
sweep task flags, rings delivery on commit, and the delivery task sends the email.

The worker runs in a thread of this process, so time-machine's clock is its clock too.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
import time_machine

from commitments.models import Milestone, Status, StatusUpdate
from commitments.services import milestone_set_status
from tracker.alerts import tasks
from tracker.models import Alert, Subscription

pytestmark = [pytest.mark.celery, pytest.mark.smtp, pytest.mark.django_db(transaction=True)]

DAY_BEFORE = dt.datetime(2026, 4, 25, 0, 0, tzinfo=dt.UTC)  # 09:00 in Tokyo, due tomorrow
AFTER = dt.datetime(2026, 4, 27, 0, 0, tzinfo=dt.UTC)  # 09:00 in Tokyo, a day overdue
TITLE = "Mining, Minerals and Metals Investment Ministerial (due 2026-04-26)"


def labels(inbox) -> Counter[str]:
    return Counter(subject.split(":")[0] for subject in inbox.subjects())


def test_a_deadline_passing_alerts_once_through_the_worker(
    celery_worker, ministerial, alice, smtp_server
):
    Subscription.objects.create(email="newsroom@example.org", milestone=ministerial)

    with time_machine.travel(DAY_BEFORE, tick=True):
        tasks.sweep_deadlines.delay()
        celery_worker.wait("sweep_deadlines", 1)
        celery_worker.wait("deliver_alerts", 1)  # rung by the sweep, on commit
        # The same day again: nothing new to queue, nothing new to send.
        tasks.sweep_deadlines.delay()
        tasks.deliver_alerts.delay()
        celery_worker.wait("sweep_deadlines", 2)
        celery_worker.wait("deliver_alerts", 2)
        celery_worker.wait("deliver_emails", 1)  # rung by the dispatch: an email was due
    assert smtp_server.subjects() == [f"DUE IN 1 DAY: {TITLE}"]

    with time_machine.travel(AFTER, tick=True):
        tasks.sweep_deadlines.delay()
        celery_worker.wait("sweep_deadlines", 3)
        celery_worker.wait("deliver_alerts", 3)
        tasks.sweep_deadlines.delay()
        tasks.deliver_alerts.delay()
        celery_worker.wait("sweep_deadlines", 4)
        celery_worker.wait("deliver_alerts", 4)
        celery_worker.wait("deliver_emails", 2)
        ministerial.refresh_from_db()
        assert ministerial.overdue_since is not None
        assert ministerial.overdue_since - AFTER < dt.timedelta(minutes=1)
        assert labels(smtp_server) == {"DUE IN 1 DAY": 1, "OVERDUE": 1}
        assert smtp_server.subjects()[-1] == f"OVERDUE: {TITLE}"

        # Completing it rings delivery (the "completed" email); the next sweep clears
        # the flag.
        milestone_set_status(
            milestone=ministerial,
            status=Status.COMPLETED,
            by=alice,
            evidence_url="https://example.org/ministerial-held",
        )
        celery_worker.wait("deliver_alerts", 5)
        celery_worker.wait("deliver_emails", 3)
        tasks.sweep_deadlines.delay()
        celery_worker.wait("sweep_deadlines", 5)

    ministerial.refresh_from_db()
    events = Counter(
        StatusUpdate.objects.filter(milestone=ministerial).values_list("kind", flat=True)
    )
    counts = labels(smtp_server)
    ran = celery_worker.counts
    print(
        f"\n[worker] {ran['tracker.alerts.tasks.sweep_deadlines']} sweeps and "
        f"{ran['tracker.alerts.tasks.deliver_alerts']} dispatches and "
        f"{ran['tracker.alerts.tasks.deliver_emails']} email deliveries run by the worker; "
        f"emails {dict(counts)}; events {dict(events)}"
    )
    assert ministerial.overdue_since is None and ministerial.status == Status.COMPLETED
    assert counts == {"DUE IN 1 DAY": 1, "OVERDUE": 1, "COMPLETED": 1}, counts
    assert events == {"overdue_flagged": 1, "status": 1, "overdue_cleared": 1}, events
    assert not Alert.objects.filter(sent_at__isnull=True).exists()
    # Other agreements' shipped milestones may be flagged too; none of US–Japan's is.
    japan = Milestone.objects.filter(commitment__agreement=ministerial.commitment.agreement)
    assert not japan.filter(overdue_since__isnull=False).exists()
