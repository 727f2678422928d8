"""Tokens in ``Authorization: Token <key>`` (knox's word) or ``Bearer <key>`` (what
most HTTP clients send)."""

from __future__ import annotations

from typing import Any

from knox.auth import TokenAuthentication
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header

SCHEMES = (b"token", b"bearer")


class TokenOrBearerAuthentication(TokenAuthentication):
    def authenticate(self, request: Any) -> Any:
        auth = get_authorization_header(request).split()
        if not auth or auth[0].lower() not in SCHEMES:
            return None
        if len(auth) != 2:
            raise exceptions.AuthenticationFailed(
                "Send 'Authorization: Bearer <token>' (or 'Token <token>')."
            )
        return self.authenticate_credentials(auth[1])

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'
