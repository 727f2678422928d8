"""Named users, as in healthchecks' tests: Alice edits, Bob only looks, Charlie is
staff with no tracker permission at all."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import Group, User

from commitments.loader import load_agreements
from commitments.models import Milestone
from commitments.permissions import EDITORS, VIEWERS

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_service(ok: bool, reason: str) -> None:
    """In CI a test whose service is unreachable fails; on a laptop it skips."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"CI needs this service: {reason}")
    pytest.skip(reason)


def _user(username: str, *groups: str) -> User:
    user = User.objects.create_user(username, f"{username}@example.org", "pass-" + username,
                                    is_staff=True)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


@pytest.fixture
def alice(db) -> User:
    return _user("alice", EDITORS)


@pytest.fixture
def bob(db) -> User:
    return _user("bob", VIEWERS)


@pytest.fixture
def charlie(db) -> User:
    return _user("charlie")


@pytest.fixture
def agreements(db) -> None:
    load_agreements()


@pytest.fixture
def ministerial(agreements) -> Milestone:
    return Milestone.objects.select_related("commitment__agreement").get(
        key="ministerial-convened"
    )


@pytest.fixture
def project_selection(agreements) -> Milestone:
    return Milestone.objects.select_related("commitment__agreement").get(
        key="projects-selected-and-funded"
    )
