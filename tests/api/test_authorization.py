"""Every path x method x caller: the status, and problem details for every refusal.

The rules (one place each): a method an address does not have is 405 with Allow for
everyone, before anything else (views.ApiView.initial); a token that is not valid is
401 on any method the address has; reads are public; the PATCH needs the permission
(401 without a token, 403 with a viewer's)."""

from __future__ import annotations

import datetime as dt

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from .conftest import token_for

pytestmark = pytest.mark.usefixtures("frozen")

METHODS = ["get", "head", "options", "post", "put", "patch", "delete"]
CALLERS = ["anonymous", "viewer", "editor", "expired", "revoked", "garbage", "bearer"]
BAD_TOKENS = {"expired", "revoked", "garbage"}


def paths(ministerial) -> dict[str, set[str]]:
    """path -> the methods it has (besides OPTIONS)."""
    m, c = ministerial.pk, ministerial.commitment_id
    reads = {"get", "head"}
    return {
        "/api/v1/": reads,
        "/api/v1/status/": reads,
        "/api/v1/events/": reads,
        "/api/v1/agreements/": reads,
        "/api/v1/agreements/us-japan-critical-minerals-2025/": reads,
        "/api/v1/commitments/": reads,
        f"/api/v1/commitments/{c}/": reads,
        f"/api/v1/commitments/{c}/log/": reads,
        "/api/v1/milestones/": reads,
        f"/api/v1/milestones/{m}/": reads | {"patch"},
        f"/api/v1/milestones/{m}/history/": reads,
        f"/api/v1/milestones/{m}/log/": reads,
    }


def expected(path_methods: set[str], method: str, caller: str) -> int:
    if method != "options" and method not in path_methods:
        return 405
    if caller in BAD_TOKENS:
        return 401
    if method == "patch":
        return {"anonymous": 401, "viewer": 403}.get(caller, 200)
    return 200


def client(caller: str, alice, bob) -> APIClient:
    api = APIClient()
    header = {
        "anonymous": None,
        "viewer": f"Token {token_for(bob)}",
        "editor": f"Token {token_for(alice)}",
        "expired": f"Token {token_for(alice, expiry=dt.timedelta(seconds=-1))}",
        "garbage": "Token not-a-token-at-all",
        "bearer": f"Bearer {token_for(alice)}",
    }
    if caller == "revoked":
        token = token_for(alice)
        AuthToken.objects.filter(user=alice).delete()
        header["revoked"] = f"Token {token}"
    if header[caller]:
        api.credentials(HTTP_AUTHORIZATION=header[caller])
    return api


def test_every_path_method_and_caller(ministerial, alice, bob):
    wrong = []
    answered = 0
    for caller in CALLERS:
        api = client(caller, alice, bob)
        for path, has in paths(ministerial).items():
            for method in METHODS:
                body = {"note": f"{caller} was here"} if method == "patch" else None
                response = getattr(api, method)(path, body, format="json" if body else None)
                answered += 1
                want = expected(has, method, caller)
                status = response.status_code
                problem = response.get("Content-Type") == "application/problem+json"
                if status != want or (status >= 400 and not problem):
                    wrong.append((caller, method.upper(), path, status, want))
                if status == 405 and "GET" not in response.get("Allow", ""):
                    wrong.append((caller, method.upper(), path, "Allow", response.get("Allow")))
                if status == 401 and not response.get("WWW-Authenticate"):
                    wrong.append((caller, method.upper(), path, "no WWW-Authenticate", None))
    assert answered == len(CALLERS) * len(METHODS) * 12
    assert wrong == []
