"""Admin login throttling: a lockout per (username, address), password validators."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command

LOGIN = "/admin/login/"


def attempt(client, username: str, password: str, ip: str):
    return client.post(
        LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=ip
    )


@pytest.fixture
def staff(db):
    User.objects.create_user("alice", password="correct-horse-battery", is_staff=True)
    User.objects.create_user("bob", password="another-good-phrase", is_staff=True)


def test_five_wrong_passwords_lock_the_pair_out_even_with_the_right_one(client, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, "alice", "guess", "203.0.113.7").status_code == 200  # form error
    assert attempt(client, "alice", "guess", "203.0.113.7").status_code == 429
    # Locked: the right password is refused too, from that address.
    assert attempt(client, "alice", "correct-horse-battery", "203.0.113.7").status_code == 429


def test_an_attacker_locks_out_only_their_own_guesses(client, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "alice", "guess", "203.0.113.7")
        attempt(client, "bob", "guess", "203.0.113.7")
    # Alice, from her own address, still gets in; so does Bob.
    assert attempt(client, "alice", "correct-horse-battery", "198.51.100.1").status_code == 302
    client.logout()
    assert attempt(client, "bob", "another-good-phrase", "198.51.100.2").status_code == 302


def test_the_lockout_is_reset_by_the_documented_command(client, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "alice", "guess", "203.0.113.7")
    assert attempt(client, "alice", "correct-horse-battery", "203.0.113.7").status_code == 429
    call_command("axes_reset_username", "alice")
    assert attempt(client, "alice", "correct-horse-battery", "203.0.113.7").status_code == 302


def test_forwarded_for_from_a_stranger_does_not_pick_the_lockout_key(client, staff, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for n in range(settings.AXES_FAILURE_LIMIT):
        # Reaching gunicorn directly and rotating X-Forwarded-For gains nothing.
        client.post(
            LOGIN,
            {"username": "alice", "password": "guess"},
            REMOTE_ADDR="203.0.113.7",
            HTTP_X_FORWARDED_FOR=f"10.9.9.{n}",
        )
    assert attempt(client, "alice", "correct-horse-battery", "203.0.113.7").status_code == 429


def test_behind_the_proxy_the_address_nginx_appended_is_the_key(client, staff, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    def via_nginx(password: str, client_addr: str, claimed: str = "1.2.3.4"):
        return client.post(
            LOGIN,
            {"username": "alice", "password": password, "next": "/admin/"},
            REMOTE_ADDR="127.0.0.1",  # nginx, trusted
            HTTP_X_FORWARDED_FOR=f"{claimed}, {client_addr}",
        )

    for n in range(settings.AXES_FAILURE_LIMIT):
        via_nginx("guess", "203.0.113.7", claimed=f"10.0.0.{n}")
    assert via_nginx("correct-horse-battery", "203.0.113.7").status_code == 429
    assert via_nginx("correct-horse-battery", "198.51.100.1").status_code == 302


@pytest.mark.parametrize("password", ["12345678901234", "password", "short"])
def test_weak_passwords_are_refused(db, password):
    with pytest.raises(ValidationError):
        validate_password(password)


def test_a_long_passphrase_is_accepted(db):
    validate_password("correct horse battery staple")
