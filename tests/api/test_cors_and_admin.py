from __future__ import annotations

import pytest
from django.test import override_settings
from knox.models import AuthToken


@override_settings(CORS_ALLOWED_ORIGINS=["https://dashboard.example.org"])
def test_reads_allow_configured_origins_and_expose_the_validators(api, agreements):
    response = api.get("/api/v1/status/", HTTP_ORIGIN="https://dashboard.example.org")
    assert response["Access-Control-Allow-Origin"] == "https://dashboard.example.org"
    assert "ETag" in response["Access-Control-Expose-Headers"]
    other = api.get("/api/v1/status/", HTTP_ORIGIN="https://elsewhere.example.org")
    assert "Access-Control-Allow-Origin" not in other


@override_settings(CORS_ALLOWED_ORIGINS=["https://dashboard.example.org"])
def test_cross_site_writes_are_not_allowed(api, agreements):
    preflight = api.options(
        "/api/v1/milestones/1/",
        HTTP_ORIGIN="https://dashboard.example.org",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PATCH",
    )
    assert "PATCH" not in preflight.get("Access-Control-Allow-Methods", "")


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.org", "pw")


def test_admin_issues_a_token_once_and_keeps_only_its_digest(client, superuser, alice):
    client.force_login(superuser)
    response = client.post(
        "/admin/knox/authtoken/add/", {"user": alice.pk, "valid_days": 30}, follow=True
    )
    assert response.status_code == 200
    token = AuthToken.objects.get(user=alice)
    shown = [str(m) for m in response.context["messages"]]
    plain = next(m for m in shown if m.startswith("Token for")).split(": ", 1)[1].split()[0]
    assert plain.startswith(token.token_key) and token.digest != plain
    listing = client.get("/admin/knox/authtoken/")
    assert plain not in listing.content.decode()


def test_admin_revokes_tokens(client, superuser, alice):
    AuthToken.objects.create(user=alice)
    client.force_login(superuser)
    token = AuthToken.objects.get(user=alice)
    client.post("/admin/knox/authtoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert not AuthToken.objects.filter(user=alice).exists()
