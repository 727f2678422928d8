"""Unsubscribing, honestly: obeyed at send time, one link for one subscription (or,
by choice, everything to the address), no readable address in links, body links that
expire while the one-click header link keeps working."""

from __future__ import annotations

import base64
import datetime as dt
import re
import zlib

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from commitments.models import Agreement, Milestone
from tracker.alerts import delivery, dispatch, sweep
from tracker.models import Alert, OptOut, Subscription

AFTER = dt.datetime(2026, 4, 27, 0, 0, tzinfo=dt.UTC)  # the ministerial is overdue
PROVIDER = "198.51.100.7"  # a mail provider's address, shared by its readers' one-clicks


@pytest.fixture(autouse=True)
def clean_cache():
    cache.clear()  # the throttle's counters
    yield
    cache.clear()


@pytest.fixture
def two_subscriptions(agreements) -> tuple[Subscription, Subscription]:
    ministerial = Milestone.objects.get(key="ministerial-convened")
    # An agreement with no dated milestone: its subscription gets nothing that day.
    other = Agreement.objects.get(slug="us-thailand-critical-minerals-2025")
    return (
        Subscription.objects.create(
            email="newsroom@example.org", agreement=ministerial.commitment.agreement
        ),
        Subscription.objects.create(email="newsroom@example.org", agreement=other),
    )


def links(mail) -> tuple[str, str]:
    """(the body link's path, the one-click header link's path) of a message."""
    text = mail.get_body(("plain",)).get_content()
    page = re.search(r"(/unsubscribe/[^/\s]+/)", text).group(1)
    header = re.search(r"<[^>]*?(/unsubscribe/one-click/[^/>]+/)>", mail["List-Unsubscribe"])
    return page, header.group(1)


SOON = AFTER + dt.timedelta(hours=1)  # when the reader clicks


def first_mail(smtp_server):
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        delivery.deliver()
    return smtp_server.to("newsroom@example.org")[0]


def test_alerts_queued_before_an_opt_out_are_not_sent(two_subscriptions, smtp_server, settings):
    settings.EMAIL_PORT = 9  # nothing listens: the alerts stay queued
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        delivery.deliver()
    queued = Alert.objects.filter(recipient="newsroom@example.org", sent_at__isnull=True)
    assert queued.count() >= 1
    OptOut.objects.create(email="newsroom@example.org")  # everything to this address
    settings.EMAIL_PORT = smtp_server.port
    with time_machine.travel(AFTER + dt.timedelta(hours=2), tick=False):
        result = delivery.deliver()
    assert smtp_server.to("newsroom@example.org") == [] and result.suppressed >= 1
    assert all(a.skipped and "opted out" in a.last_error for a in queued.model.objects.all())


def test_one_link_silences_one_subscription(client, two_subscriptions, smtp_server):
    first, _ = two_subscriptions
    page, _ = links(first_mail(smtp_server))
    with time_machine.travel(SOON, tick=False):
        asked = client.get(page)
        assert asked.status_code == 200 and b"Stop this subscription" in asked.content
        assert not OptOut.objects.exists()  # a GET changes nothing
        assert client.post(page, {"scope": "this"}).status_code == 200
        assert client.post(page, {"scope": "this"}).status_code == 200  # twice is fine
    assert list(OptOut.objects.values_list("subscription_id", flat=True)) == [first.pk]
    # The other subscription still sends; the silenced one does not.
    Alert.objects.all().delete()
    with time_machine.travel(AFTER, tick=False):
        from tracker.models import AlertEvent

        AlertEvent.objects.all().update(dispatched_at=None)
        dispatch.run()
    recipients = set(Alert.objects.values_list("subscription_id", flat=True))
    assert first.pk not in recipients


def test_the_second_choice_silences_everything_to_the_address(
    client, two_subscriptions, smtp_server
):
    page, _ = links(first_mail(smtp_server))
    with time_machine.travel(SOON, tick=False):
        response = client.post(page, {"scope": "everything"})
    assert b"will get no more alerts or digests" in response.content
    everything = OptOut.objects.filter(subscription__isnull=True)
    assert set(everything.values_list("email", flat=True)) == {"newsroom@example.org"}


def test_links_carry_no_readable_address(two_subscriptions, smtp_server):
    mail = first_mail(smtp_server)
    for path in links(mail):
        token = path.rstrip("/").rsplit("/", 1)[1]
        assert "newsroom" not in token
        payload = token.split(":")[0]
        raw = base64.urlsafe_b64decode(payload.lstrip(".") + "=" * (-len(payload) % 4))
        data = zlib.decompress(raw) if payload.startswith(".") else raw
        assert b'"a"' in data and b"newsroom" not in data  # an alert's id, no address
    assert "newsroom" not in mail["List-Unsubscribe"]


def test_the_body_link_expires_the_one_click_link_does_not(
    client, two_subscriptions, smtp_server, settings
):
    page, click = links(first_mail(smtp_server))
    later = AFTER + dt.timedelta(days=settings.TRACKER_UNSUBSCRIBE_LINK_DAYS + 1)
    with time_machine.travel(later, tick=False):
        expired = client.get(page)
        assert expired.status_code == 400 and b"expire" in expired.content
        assert client.post(click).status_code == 200
    assert OptOut.objects.count() == 1


def test_a_forged_link_is_refused(client, two_subscriptions, smtp_server):
    page, click = links(first_mail(smtp_server))
    with time_machine.travel(SOON, tick=False):
        assert client.post(page[:-4] + "abc/", {"scope": "everything"}).status_code == 400
        assert client.post(click[:-4] + "abc/").status_code == 400
        assert client.get(page).status_code == 200  # the genuine one works
    assert not OptOut.objects.exists()


def test_the_admin_shows_an_opt_out_suppressing_an_active_subscription(
    client, alice, two_subscriptions
):
    first, _ = two_subscriptions
    OptOut.objects.create(email="newsroom@example.org", subscription=first)
    alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    listing = client.get(reverse("admin:tracker_subscription_changelist") + "?problem=suppressed")
    assert [s.pk for s in listing.context["cl"].result_list] == [first.pk]
    assert b"Suppressed" in listing.content
    # Staff re-activating it are told the opt-out still stands.
    Subscription.objects.filter(pk=first.pk).update(active=False)
    change = reverse("admin:tracker_subscription_change", args=[first.pk])
    response = client.post(
        change,
        {
            "email": "newsroom@example.org",
            "agreement": first.agreement_id,
            "kinds": ["overdue"],
            "lead_days": "7",
            "time_zone": "",
            "active": "on",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert b"stays silent until the opt-out is deleted" in response.content


def test_unsubscribe_posts_are_throttled_per_address(
    client, two_subscriptions, smtp_server, settings
):
    settings.TRACKER_UNSUBSCRIBE_PER_ADDRESS = 2
    page, click = links(first_mail(smtp_server))
    with time_machine.travel(SOON, tick=False):
        codes = [client.post(page, {"scope": "this"}).status_code for _ in range(2)]
        refused = client.post(page, {"scope": "everything"})
        refused_click = client.post(click, REMOTE_ADDR="10.0.0.9")  # same address, elsewhere
    assert codes == [200, 200]
    assert refused.status_code == 429 and refused["Retry-After"] == "3600"
    assert b"Too many requests" in refused.content and b"<html" in refused.content
    assert refused_click.status_code == 429 and b"try again" in refused_click.content
    # What was asked within the limit holds; the refused "everything" changed nothing.
    assert list(OptOut.objects.values_list("subscription_id", flat=True)) == [
        two_subscriptions[0].pk
    ]


def test_invalid_links_are_throttled_per_client_but_valid_ones_still_work(
    client, two_subscriptions, smtp_server, settings
):
    """Bad tokens sent through a provider's shared address (anyone can put our URL in
    a List-Unsubscribe header of their own) must not lock its readers out."""
    settings.TRACKER_UNSUBSCRIBE_PER_CLIENT = 2
    page, click = links(first_mail(smtp_server))
    with time_machine.travel(SOON, tick=False):
        forged = [
            client.post(click[:-4] + "abc/", REMOTE_ADDR=PROVIDER).status_code for _ in range(3)
        ]
        forged_page = client.post(page[:-4] + "abc/", {"scope": "this"}, REMOTE_ADDR=PROVIDER)
        genuine = client.post(click, REMOTE_ADDR=PROVIDER)
        elsewhere = client.post(click[:-4] + "abc/", REMOTE_ADDR="10.0.0.9")
    assert forged == [400, 400, 429]
    assert forged_page.status_code == 429 and b"Too many requests" in forged_page.content
    assert genuine.status_code == 200 and genuine.content == b"Unsubscribed."
    assert elsewhere.status_code == 400  # another client: its own count
    assert OptOut.objects.count() == 1


def test_one_click_posts_from_a_providers_shared_address_all_work(
    agreements, smtp_server, settings
):
    settings.TRACKER_UNSUBSCRIBE_PER_CLIENT = 2
    settings.TRACKER_UNSUBSCRIBE_PER_ADDRESS = 2
    agreement = Milestone.objects.get(key="ministerial-convened").commitment.agreement
    readers = [f"reader{i}@example.org" for i in range(6)]
    for address in readers:
        Subscription.objects.create(email=address, agreement=agreement)
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        delivery.deliver()
    clicks = [links(smtp_server.to(address)[0])[1] for address in readers]
    with time_machine.travel(SOON, tick=False):
        codes = [Client().post(path, REMOTE_ADDR=PROVIDER).status_code for path in clicks]
    assert codes == [200] * len(readers)
    assert set(OptOut.objects.values_list("email", flat=True)) == set(readers)
