"""The private-address guard (tracker/netguard.py): refused at save in the admin, and
at send time, including IPv6 addresses that embed a private IPv4 one."""

from __future__ import annotations

import ipaddress

import pytest

from tracker import netguard
from tracker.alerts import webhooks
from tracker.alerts.forms import WebhookEndpointForm
from tracker.models import WebhookEndpoint

PRIVATE_URLS = [
    "http://127.0.0.1/hook",
    "http://localhost/hook",
    "http://[::1]/hook",
    "http://0.0.0.0/hook",
    "http://[::]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::127.0.0.1]/hook",  # IPv4-compatible
    "http://[64:ff9b::7f00:1]/hook",  # NAT64 of 127.0.0.1
    "http://[64:ff9b:1::a00:1]/hook",  # local-use NAT64 of 10.0.0.1
    "http://[2002:7f00:1::1]/hook",  # 6to4 of 127.0.0.1
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",  # Teredo to 127.0.0.1
]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8: public as what it embeds
        ("::127.0.0.1", False),
        ("64:ff9b::7f00:1", False),
        ("2002:7f00:1::1", False),
        ("2002:a9fe:a9fe::1", False),  # 6to4 of 169.254.169.254
        ("::ffff:10.0.0.1", False),
        ("100.64.0.1", False),
        ("ff02::1", False),
    ],
)
def test_an_address_is_public_only_with_everything_it_embeds(address, public):
    assert netguard.is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_the_send_time_guard_refuses_private_targets(url, settings):
    settings.TRACKER_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(netguard.Refused, match="non-public"):
        webhooks.vetted_address(url)


@pytest.mark.django_db
@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_the_admin_form_refuses_private_targets_at_save(url, settings):
    settings.TRACKER_WEBHOOK_ALLOW_PRIVATE = False
    form = WebhookEndpointForm(data={"name": "n", "url": url, "kinds": ["overdue"], "active": "on"})
    assert not form.is_valid()
    assert "non-public address" in form.errors["url"][0]


@pytest.mark.django_db
def test_editors_add_webhook_endpoints_and_viewers_see_them(client, alice, bob, settings):
    settings.TRACKER_WEBHOOK_ALLOW_PRIVATE = True
    client.force_login(alice)
    response = client.post(
        "/admin/tracker/webhookendpoint/add/",
        {
            "name": "dashboard",
            "url": "http://127.0.0.1:9/hook",
            "secret": "",
            "kinds": ["overdue"],
            "active": "on",
            "log-TOTAL_FORMS": "0",
            "log-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    endpoint = WebhookEndpoint.objects.get(name="dashboard")
    assert endpoint.secret.startswith(webhooks.SECRET_PREFIX)
    client.force_login(bob)  # view only: the page shows, and no secret field breaks it
    page = client.get(f"/admin/tracker/webhookendpoint/{endpoint.pk}/change/")
    assert page.status_code == 200
    assert b"dashboard" in page.content
