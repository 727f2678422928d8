from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from commitments.models import Milestone, Status
from commitments.services import milestone_set_status
from tests.conftest import free_port
from tracker.alerts import delivery, dispatch, sweep
from tracker.models import Alert, Subscription

AFTER = dt.datetime(2026, 4, 27, 0, 0, tzinfo=dt.UTC)  # the ministerial is overdue


@pytest.fixture
def followers(agreements) -> list[Subscription]:
    agreement = Milestone.objects.get(key="ministerial-convened").commitment.agreement
    return [
        Subscription.objects.create(email=e, agreement=agreement)
        for e in ("newsroom@example.org", "analyst@example.org")
    ]


def test_one_email_per_recipient_naming_the_most_urgent(followers, smtp_server):
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        result = delivery.deliver()
    assert (result.emails, result.sent, result.failed) == (2, 4, 0)
    (mail,) = smtp_server.to("newsroom@example.org")
    assert mail["Subject"] == (
        "OVERDUE: Mining, Minerals and Metals Investment Ministerial (due 2026-04-26) and 1 more"
    )
    text = mail.get_body(("plain",)).get_content()
    assert "US–Japan critical minerals framework" in text
    assert "1 day overdue" in text and "[DUE IN 1 DAY] Projects of interest" in text
    assert "Due: 2026-04-26 (1 day overdue)" in text
    assert "/milestones/" in text and "/admin/commitments/milestone/" in text
    assert mail.get_body(("html",)) is not None
    assert (
        str(mail["List-Unsubscribe"]).strip().startswith("<http")
        and "One-Click" in mail["List-Unsubscribe-Post"]
    )
    assert not Alert.objects.filter(sent_at__isnull=True).exists()
    # Nothing pending: a second run sends nothing.
    with time_machine.travel(AFTER + dt.timedelta(minutes=1), tick=False):
        assert delivery.deliver().emails == 0
    assert len(smtp_server.messages) == 2


def test_smtp_down_keeps_alerts_pending_then_delivers_all(followers, settings, smtp_server):
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
    settings.EMAIL_PORT = free_port()  # nothing listens there
    with time_machine.travel(AFTER, tick=False):
        down = delivery.deliver()
    pending = Alert.objects.filter(sent_at__isnull=True)
    assert down.sent == 0 and down.failed == 4 and pending.count() == 4
    assert all(a.attempts == 1 and "ConnectionRefused" in a.last_error for a in pending)
    # Backoff: not retried at once…
    with time_machine.travel(AFTER + dt.timedelta(seconds=30), tick=False):
        assert delivery.deliver().failed == 0
    settings.EMAIL_PORT = smtp_server.port
    with time_machine.travel(AFTER + dt.timedelta(minutes=2), tick=False):
        up = delivery.deliver()
    print(
        f"SMTP down then up: failed attempts {down.failed}, then delivered {up.sent} "
        f"alerts in {up.emails} emails, lost {4 - up.sent}"
    )
    assert (up.sent, up.emails) == (4, 2)
    assert not Alert.objects.filter(sent_at__isnull=True).exists()


def test_delivery_gives_up_after_the_attempt_limit(followers, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    settings.TRACKER_ALERT_MAX_ATTEMPTS = 3
    moment = AFTER
    with time_machine.travel(moment, tick=False):
        sweep.run()
    for _ in range(5):
        with time_machine.travel(moment, tick=False):
            delivery.deliver()
        moment += dt.timedelta(hours=2)
    assert set(Alert.objects.values_list("failed", "attempts")) == {(True, 3)}
    assert delivery.retry(list(Alert.objects.values_list("id", flat=True))) == 4
    assert not Alert.objects.filter(failed=True).exists()


def test_an_alert_that_went_stale_is_skipped(followers, alice, smtp_server):
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        m = Milestone.objects.get(key="ministerial-convened")
        milestone_set_status(
            milestone=m,
            status=Status.COMPLETED,
            by=alice,
            evidence_url="https://example.org/e",
            completed_on=dt.date(2026, 4, 25),
        )
        result = delivery.deliver()
    kinds = {a.kind: a.state for a in Alert.objects.filter(milestone=m)}
    assert kinds == {"overdue": "skipped", "completed": "sent"}
    assert result.skipped == 2
    assert all("OVERDUE" not in s for s in smtp_server.subjects())


def test_completion_alert_reaches_followers(followers, alice, smtp_server):
    with time_machine.travel(dt.datetime(2026, 4, 20, tzinfo=dt.UTC), tick=False):
        m = Milestone.objects.get(key="ministerial-convened")
        milestone_set_status(
            milestone=m,
            status=Status.COMPLETED,
            by=alice,
            evidence_url="https://example.org/e",
            completed_on=dt.date(2026, 4, 19),
        )
        delivery.deliver()
    assert (
        sorted(smtp_server.subjects())
        == ["COMPLETED: Mining, Minerals and Metals Investment Ministerial (due 2026-04-26)"] * 2
    )


def test_delivery_queries_do_not_grow_with_the_batch(agreements, settings):
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    ministerial = Milestone.objects.get(key="ministerial-convened")
    counts = []
    for readers in (3, 30):
        with transaction.atomic():  # each round from the same start, undone after
            Subscription.objects.bulk_create(
                Subscription(email=f"reader{i}@example.org", milestone=ministerial)
                for i in range(readers)
            )
            with time_machine.travel(AFTER, tick=False):
                sweep.run()
                dispatch.run()
                with CaptureQueriesContext(connection) as queries:
                    result = delivery.deliver()
            assert result.emails >= readers
            counts.append(len(queries))
            transaction.set_rollback(True)
    assert counts[0] == counts[1], counts


class _Envelopes:
    """An aiosmtpd handler keeping each message's whole envelope (with the MAIL and
    RCPT options); refuses the data of messages to ``refuse``."""

    def __init__(self, refuse: str = "") -> None:
        self.refuse = refuse
        self.seen: list[tuple] = []

    async def handle_DATA(self, server, session, envelope):
        rcpt = tuple(envelope.rcpt_tos)
        options = (tuple(envelope.mail_options), tuple(envelope.rcpt_options))
        self.seen.append((envelope.mail_from, options, rcpt, envelope.original_content))
        return "554 5.6.0 refused here" if self.refuse in rcpt else "250 OK"


@pytest.fixture
def envelopes(settings):
    from aiosmtpd.controller import Controller

    handler = _Envelopes()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    yield handler
    controller.stop()


def test_a_message_the_server_refuses_fails_alone(agreements, envelopes):
    """The server's refusal of one message's data (read while the next message is
    handed over) fails that message's alerts only, with the server's answer."""
    ministerial = Milestone.objects.get(key="ministerial-convened")
    readers = [f"reader{i}@example.org" for i in range(5)]
    for reader in readers:
        Subscription.objects.create(email=reader, milestone=ministerial)
    envelopes.refuse = "reader2@example.org"
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        result = delivery.deliver()
    refused = Alert.objects.get(recipient="reader2@example.org", milestone=ministerial)
    assert refused.sent_at is None and refused.attempts == 1
    assert "554" in refused.last_error and "refused here" in refused.last_error
    others = Alert.objects.filter(recipient__in=readers).exclude(pk=refused.pk)
    assert others.count() == 4 and not others.filter(sent_at__isnull=True).exists()
    assert sorted(to for _from, _options, (to,), _raw in envelopes.seen) == readers
    assert result.failed == 1
