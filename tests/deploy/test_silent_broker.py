"""A broker that accepts connections and never answers (a hung Redis, a half-open
link): a completion that rings the doorbell still answers within a bounded time.

The bound: the doorbell's one publish waits at most REDIS_TIMEOUT (3 s) for a reply on
each command it sends; we assert the whole request under 2 x REDIS_TIMEOUT + 2 s."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.urls import reverse

from commitments.models import Milestone, Status
from tests.api.conftest import client_for
from tests.conftest import SilentListener
from tracker.alerts import dispatch, tasks
from tracker.models import Subscription

EVIDENCE = "https://example.org/evidence"
BOUND = 2 * settings.REDIS_TIMEOUT + 2


@contextmanager
def celery_on_silent_broker() -> Iterator[SilentListener]:
    """The Celery app as config/celery.py makes it, with the production Redis
    transport options, on a broker that never answers."""
    from celery import Celery, _state

    listener = SilentListener()
    previous, previous_default = _state.get_current_app(), _state.default_app
    app = Celery("tracker", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    url = f"redis://127.0.0.1:{listener.port}/0"
    app.conf.broker_read_url = app.conf.broker_write_url = url
    app.conf.broker_transport_options = {
        "visibility_timeout": 3600,
        **settings.REDIS_SOCKET_OPTIONS,
    }
    app.set_current()
    try:
        yield listener
    finally:
        app.close()
        previous.set_current()
        _state.set_default_app(previous_default)
        listener.close()


@pytest.fixture(autouse=True)
def doorbell_not_paused():
    tasks._doorbell_reset()
    yield
    tasks._doorbell_reset()


@pytest.mark.django_db(transaction=True)
def test_an_api_completion_answers_in_bounded_time_when_the_broker_is_silent(agreements, alice):
    m = Milestone.objects.select_related("commitment__agreement").get(key="ministerial-convened")
    Subscription.objects.create(email="newsroom@example.org", agreement=m.commitment.agreement)
    api = client_for(alice)
    with celery_on_silent_broker() as listener:
        started = time.perf_counter()
        response = api.patch(
            f"/api/v1/milestones/{m.pk}/",
            {"status": "completed", "evidence_url": EVIDENCE},
            format="json",
        )
        took = time.perf_counter() - started
    m.refresh_from_db()
    print(
        f"\n[silent broker] API PATCH {response.status_code} in {took:.2f} s "
        f"({len(listener.accepted)} connection(s) accepted); bound {BOUND} s"
    )
    assert response.status_code == 200, response.content
    assert m.status == Status.COMPLETED
    assert listener.accepted, "the doorbell never tried the broker"
    assert took < BOUND
    # The news (its history row) waits in the outbox for the scheduled dispatch.
    assert dispatch.undispatched() >= 1


@pytest.mark.django_db(transaction=True)
def test_an_admin_action_completing_five_answers_in_bounded_time(client, agreements, alice):
    done = list(Milestone.objects.order_by("pk").values_list("pk", flat=True)[:5])
    client.force_login(alice)
    with celery_on_silent_broker():
        started = time.perf_counter()
        response = client.post(
            reverse("admin:commitments_milestone_changelist"),
            {
                "action": "mark_completed_today",
                "apply": "1",
                "_selected_action": done,
                "evidence": EVIDENCE,
            },
        )
        took = time.perf_counter() - started
    completed = Milestone.objects.filter(pk__in=done, status=Status.COMPLETED).count()
    print(f"\n[silent broker] admin action on 5: {response.status_code} in {took:.2f} s")
    assert response.status_code == 302 and completed == 5
    # Five doorbells: the first waits for the silent broker, the rest are not rung.
    assert took < BOUND
