"""One bad row must not stop alerts for everyone. Each case is a value a staff editor
could once store (or that reaches the database some other way); the form now refuses
it, and the sweep, dispatcher, delivery and digests skip it, record it on its row and
go on with the rest."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from commitments.models import Milestone
from tracker.alerts import delivery, digests, dispatch, emails, sweep
from tracker.alerts.audience import Audience
from tracker.alerts.forms import SubscriptionForm
from tracker.models import Alert, AlertEvent, DigestSent, Subscription

AFTER = dt.datetime(2026, 4, 27, 0, 0, tzinfo=dt.UTC)  # the ministerial is overdue
MONDAY_NOON = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def good(agreements) -> Subscription:
    agreement = Milestone.objects.get(key="ministerial-convened").commitment.agreement
    return Subscription.objects.create(email="good@example.org", agreement=agreement)


@pytest.mark.parametrize("lead_days", [["7"], [100000000], [0], "7", [True]])
def test_a_bad_lead_time_in_the_database_skips_that_subscription_only(good, lead_days):
    bad = Subscription.objects.create(email="bad@example.org", lead_days=[7])
    Subscription.objects.filter(pk=bad.pk).update(lead_days=lead_days)  # past the form
    with time_machine.travel(AFTER, tick=False):
        result = sweep.run()
        delivery.deliver()
    # The ministerial, and the shipped milestones of other agreements already past due.
    assert Milestone.objects.get(key="ministerial-convened").overdue_since is not None
    assert result.flagged == Milestone.objects.filter(overdue_since__isnull=False).count()
    assert set(Alert.objects.values_list("recipient", flat=True)) == {"good@example.org"}
    bad.refresh_from_db()
    assert "lead day" in bad.last_error or "lead days" in bad.last_error


def test_an_unknown_kind_in_the_database_skips_that_subscription_only(good):
    bad = Subscription.objects.create(email="bad@example.org")
    Subscription.objects.filter(pk=bad.pk).update(kinds=["overdue", "everything!"])
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        dispatch.run()
    assert set(Alert.objects.values_list("recipient", flat=True)) == {"good@example.org"}
    bad.refresh_from_db()
    assert "unknown kind(s) everything!" in bad.last_error


def test_a_time_zone_from_mars_stops_only_its_own_digest(agreements, smtp_server):
    mars = Subscription.objects.create(email="mars@example.org", kinds=["digest"])
    Subscription.objects.filter(pk=mars.pk).update(time_zone="Mars/Olympus_Mons")
    Subscription.objects.create(email="earth@example.org", kinds=["digest"], time_zone="UTC")
    assert digests.send_due_digests(now=MONDAY_NOON) == 1
    assert [m["To"] for m in smtp_server.messages] == ["earth@example.org"]
    mars.refresh_from_db()
    assert "Mars/Olympus_Mons" in mars.last_error
    assert not DigestSent.objects.filter(subscription=mars).exists()


def test_a_title_with_a_line_break_is_sent_on_one_subject_line(good, smtp_server):
    Milestone.objects.filter(key="ministerial-convened").update(
        title="Ministerial\nconvened\r\nBcc: everyone@example.org"
    )
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        result = delivery.deliver()
    assert result.failed == 0 and result.emails == 1
    (mail,) = smtp_server.messages
    assert mail["Subject"].startswith("OVERDUE: Ministerial convened Bcc: everyone@example.org")
    assert mail["Bcc"] is None


def test_an_alert_that_cannot_be_rendered_fails_alone(good, smtp_server, monkeypatch, agreements):
    other = Subscription.objects.create(email="other@example.org")
    describe = emails.describe

    def fragile(alert, now):
        if alert.milestone.key == "ministerial-convened":
            raise ValueError("cannot render this one")
        return describe(alert, now)

    monkeypatch.setattr(emails, "describe", fragile)
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        result = delivery.deliver()
    bad = Alert.objects.filter(milestone__key="ministerial-convened")
    assert bad.count() == 2  # good@ and other@, overdue
    assert all(a.failed and a.attempts == 1 and "cannot render" in a.last_error for a in bad)
    # The same recipients' other alerts went out, each recipient's in its own email.
    assert not Alert.objects.exclude(pk__in=bad).filter(sent_at__isnull=True).exists()
    assert result.failed == 2 and result.sent == Alert.objects.count() - 2
    assert {m["To"] for m in smtp_server.messages} == {"good@example.org", other.address}


def test_an_event_that_cannot_be_expanded_is_recorded_and_the_rest_go_on(good, monkeypatch):
    recipients = Audience.recipients

    def fragile(self, event, m):
        if event.kind == "overdue" and m.key == "ministerial-convened":
            raise RuntimeError("bad data on this milestone")
        return recipients(self, event, m)

    monkeypatch.setattr(Audience, "recipients", fragile)
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        result = dispatch.run()
    bad = AlertEvent.objects.get(kind="overdue", milestone__key="ministerial-convened")
    assert bad.dispatched_at is None and bad.attempts == 1 and "bad data" in bad.last_error
    assert result.failed == 1 and result.dispatched >= 1
    assert Alert.objects.filter(kind__startswith="due_").exists()


@pytest.mark.parametrize(
    ("lead_days", "error"),
    [
        ("7, x", "'x' is not a whole number of days"),
        ("0", "lead day 0 is not between 1 and 366"),
        ("367", "lead day 367 is not between 1 and 366"),
        ("100000000", "not between 1 and 366"),
        ("9" * 5000, "not between 1 and 366"),  # more digits than int() reads
        ("7.5", "'7.5' is not a whole number"),
        ("7, ²", "'²' is not a whole number"),  # a digit to str.isdigit(), not to int()
    ],
)
def test_the_form_refuses_bad_lead_times(db, lead_days, error):
    form = SubscriptionForm(
        data={"email": "a@example.org", "kinds": ["overdue"], "lead_days": lead_days}
    )
    assert not form.is_valid() and error in form.errors["lead_days"][0]


def test_the_form_takes_a_list_checkboxes_and_a_real_zone(db):
    form = SubscriptionForm(
        data={
            "email": "a@example.org",
            "kinds": ["overdue", "due_soon"],
            "lead_days": "1, 30 ,7",
            "time_zone": "Asia/Tokyo",
            "active": "on",
        }
    )
    assert form.is_valid(), form.errors
    sub = form.save()
    assert sub.lead_days == [30, 7, 1] and sub.kinds == ["overdue", "due_soon"]
    bad = SubscriptionForm(
        data={
            "email": "a@example.org",
            "kinds": ["sometimes"],
            "lead_days": "7",
            "time_zone": "Mars/Olympus_Mons",
        }
    )
    assert not bad.is_valid() and {"kinds", "time_zone"} <= set(bad.errors)


def test_the_admin_counts_and_lists_subscriptions_with_a_problem(client, alice, good):
    bad = Subscription.objects.create(email="bad@example.org")
    Subscription.objects.filter(pk=bad.pk).update(lead_days=["7"])
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
    alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    page = client.get(reverse("admin:tracker_subscription_changelist") + "?problem=yes")
    assert page.status_code == 200
    assert [s.pk for s in page.context["cl"].result_list] == [bad.pk]
    assert b"Has a problem (1)" in page.content  # the count, beside the filter
