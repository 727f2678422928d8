"""The webhook channel end to end: a real receiver on loopback verifies every delivery
with the ``standardwebhooks`` library; the receiver is down, then slow, then back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine

from commitments.models import Milestone
from tests.conftest import free_port
from tests.tracker.receiver import Receiver
from tracker.alerts import delivery, sweep, webhooks
from tracker.models import Alert, WebhookAttempt, WebhookEndpoint

AFTER = dt.datetime(2026, 4, 27, 0, 0, tzinfo=dt.UTC)  # the ministerial is overdue


@pytest.fixture
def endpoint(agreements, settings) -> WebhookEndpoint:
    settings.TRACKER_WEBHOOK_ALLOW_PRIVATE = True  # the receiver is on loopback
    settings.TRACKER_WEBHOOK_TIMEOUT_SECONDS = 1
    ministerial = Milestone.objects.get(key="ministerial-convened")
    hook = WebhookEndpoint.objects.create(
        name="newsroom", url="http://placeholder/", secret=webhooks.new_secret()
    )
    hook.agreements.add(ministerial.commitment.agreement)
    return hook


@pytest.fixture
def receiver(endpoint) -> Iterator[Receiver]:
    r = Receiver(endpoint.secret, port=free_port())
    yield r
    if r._thread.is_alive():
        r.stop()
    else:
        r.server.server_close()


def deliver_at(moment: dt.datetime) -> delivery.DeliveryResult:
    with time_machine.travel(moment, tick=False):
        return delivery.deliver()


def test_down_then_slow_then_back_every_delivery_verified_once(endpoint, receiver):
    # Down: the port is reserved for the receiver, but nothing listens yet.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=receiver.url)
    receiver.server.server_close()
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
    down = deliver_at(AFTER)
    hooks = Alert.objects.filter(channel="webhook")
    assert down.failed == hooks.count() == 2  # overdue ministerial, project selection due
    assert all("ConnectionRefused" in a.last_error for a in hooks)

    # Slow: answers after the sender's timeout (1 s): a failure, retried later.
    receiver.__init__(endpoint.secret, port=receiver.port)  # same port, now listening
    receiver.mode, receiver.delay = "slow", 1.5
    receiver.start()
    assert deliver_at(AFTER + dt.timedelta(seconds=30)).failed == 0  # backoff: not yet
    slow = deliver_at(AFTER + dt.timedelta(minutes=2))
    assert slow.failed == 2 and all("timed out" in a.last_error for a in hooks.all())

    # Back: every delivery arrives, signed, verified by the reference library.
    receiver.mode = "ok"
    back = deliver_at(AFTER + dt.timedelta(minutes=10))
    assert back.webhooks == 2 and not hooks.filter(sent_at__isnull=True).exists()
    ids = receiver.ids()
    assert receiver.rejected == [] and set(ids) == {f"alert_{a.pk}" for a in hooks}
    types = sorted(p["type"] for _, p in receiver.verified)
    assert "milestone.overdue" in types
    # Every attempt logged: refused, timed out, then 204.
    log = list(WebhookAttempt.objects.filter(alert=hooks.first()).order_by("at", "id"))
    assert [(a.status_code, a.ok) for a in log][-1] == (204, True)
    assert [bool(a.error) for a in log] == [True, True, False]
    # Nothing left: a further run sends nothing again.
    assert deliver_at(AFTER + dt.timedelta(minutes=20)).webhooks == 0
    # A slow receiver may finish a request the sender gave up on: that copy arrives
    # again, under the same webhook-id, for the receiver to de-duplicate. At most the
    # requests of the slow run (2) are doubled.
    repeated = sum(n - 1 for n in receiver.ids().values())
    assert repeated <= 2 and len(receiver.ids()) == 2


def test_no_request_to_loopback_unless_allowed(endpoint, receiver, settings):
    settings.TRACKER_WEBHOOK_ALLOW_PRIVATE = False
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=receiver.url)
    receiver.start()
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        result = delivery.deliver()
    assert result.webhooks == 0 and receiver.requests == 0
    errors = set(WebhookAttempt.objects.values_list("error", flat=True))
    assert errors and all("non-public address" in e for e in errors)


def test_redirects_are_not_followed(endpoint, receiver):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=receiver.url)
    receiver.mode = "redirect"
    receiver.start()
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        result = delivery.deliver()
    assert result.webhooks == 0 and receiver.requests == 2
    assert all("302" in a.last_error for a in Alert.objects.filter(channel="webhook"))


def test_an_endpoint_failing_in_a_row_is_disabled_with_the_reason(endpoint, settings):
    settings.TRACKER_WEBHOOK_DISABLE_AFTER = 3
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=f"http://127.0.0.1:{free_port()}/")
    moment = AFTER
    with time_machine.travel(moment, tick=False):
        sweep.run()
    for _ in range(3):
        deliver_at(moment)
        moment += dt.timedelta(hours=2)
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is not None and endpoint.consecutive_failures >= 3
    assert "3 failed deliveries in a row" in endpoint.disabled_reason
    assert "ConnectionRefused" in endpoint.disabled_reason
    # Re-enabled from the admin's action: counted from zero again.
    assert webhooks.enable([endpoint.pk]) == 1
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is None and endpoint.consecutive_failures == 0


def test_signature_is_the_standard_one():
    from standardwebhooks.webhooks import Webhook

    secret = webhooks.new_secret()
    body = b'{"type":"milestone.overdue"}'
    now = int(dt.datetime.now(dt.UTC).timestamp())
    headers = {
        "webhook-id": "alert_1",
        "webhook-timestamp": str(now),
        "webhook-signature": webhooks.sign(secret, "alert_1", now, body),
    }
    assert Webhook(secret).verify(body, headers) == {"type": "milestone.overdue"}
    with pytest.raises(Exception, match="signature"):
        Webhook(webhooks.new_secret()).verify(body, headers)


@pytest.mark.parametrize(
    ("answer", "sent"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok\x00\x00!", True),
        (b"\x00\x00 not HTTP\r\n\r\n", False),
    ],
    ids=["accepted", "garbled"],
)
def test_a_receiver_answering_nul_bytes_is_logged_and_the_others_go_on(
    endpoint, receiver, answer, sent
):
    """PostgreSQL's text holds no NUL: the receiver's bytes are logged without them,
    and every alert of the batch is judged (none left claimed, none sent again)."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=receiver.url)
    receiver.mode, receiver.answer = "raw", answer
    receiver.start()
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        result = delivery.deliver()
    hooks = Alert.objects.filter(channel="webhook")
    assert hooks.count() == 2 and receiver.requests == 2
    assert all((a.sent_at is not None) == sent for a in hooks)
    assert result.webhooks == (2 if sent else 0) and result.failed == (0 if sent else 2)
    log = WebhookAttempt.objects.all()
    assert log.count() == 2 and all(a.ok == sent for a in log)
    texts = [a.response_excerpt + a.error for a in log] + [a.last_error for a in hooks]
    assert not any("\x00" in text for text in texts)
    if not sent:
        assert all("BadStatusLine" in a.last_error for a in hooks)
    assert deliver_at(AFTER + dt.timedelta(seconds=1)).webhooks == 0  # not sent twice


def test_a_url_with_a_non_ascii_path_is_sent_percent_encoded(endpoint, receiver):
    url = receiver.url.replace("/hooks/tracker", "/hooks/träcker")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=url)
    receiver.start()
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        result = delivery.deliver()
    assert result.webhooks == 2 and receiver.rejected == []
    assert receiver.paths == ["/hooks/tr%C3%A4cker"] * 2


def test_a_receiver_dripping_its_answer_is_cut_at_the_timeout(endpoint, receiver):
    """The timeout bounds the whole request: each byte here comes well within it (the
    socket's own timeout, per read, never fires), the whole answer takes 3 s."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=receiver.url)
    receiver.mode, receiver.delay = "drip", 0.1
    receiver.answer = b"HTTP/1.1 204 No Content\r\nX-Slow: 1\r\n\r\n"  # 38 bytes
    receiver.start()
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        result = delivery.deliver()
    hooks = Alert.objects.filter(channel="webhook")
    assert result.failed == hooks.count() == 2 and receiver.requests == 2
    assert all("no whole answer within 1 s" in a.last_error for a in hooks)


def test_a_batch_past_its_lease_leaves_the_rest_to_the_next_claim(endpoint, receiver, settings):
    """Receivers slow enough to use up the lease: what is left of the batch is not
    posted by this worker (another may claim it by then), and is posted once later."""
    settings.TRACKER_DELIVERY_LEASE_SECONDS = 300
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=receiver.url)
    receiver.start()
    with time_machine.travel(AFTER, tick=False) as clock:
        sweep.run()
        # Each POST takes, on the frozen clock, the whole lease.
        receiver.on_request = lambda: clock.shift(dt.timedelta(seconds=300))
        first = delivery.deliver()
        receiver.on_request = None
        hooks = Alert.objects.filter(channel="webhook")
        assert (first.webhooks, receiver.requests) == (1, 1)
        left = hooks.get(sent_at__isnull=True)
        assert left.attempts == 0 and left.last_error == ""  # not tried, not failed
        clock.shift(dt.timedelta(seconds=1))  # its claim has run out
        second = delivery.deliver()
    assert (second.webhooks, receiver.requests) == (1, 2)
    assert set(receiver.ids()) == {f"alert_{a.pk}" for a in hooks}
