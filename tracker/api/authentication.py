"""Tokens in ``Authorization: Token <key>`` (knox's word) or ``Bearer <key>`` (what
most HTTP clients send); or the admin's session, for staff in a browser (DRF's
SessionAuthentication, in the settings)."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header

SCHEMES = (b"token", b"bearer")
# The credentials' syntax (RFC 9110 section 11.2); knox's tokens are hex. Anything else
# is no token: knox would decode it as UTF-8, and PostgreSQL refuses a NUL in a query.
TOKEN68 = re.compile(rb"[A-Za-z0-9._~+/-]+=*")


class TokenOrBearerAuthentication(TokenAuthentication):
    def authenticate(self, request: Any) -> Any:
        auth = get_authorization_header(request).split()
        if not auth or auth[0].lower() not in SCHEMES:
            return None
        if len(auth) != 2:
            raise exceptions.AuthenticationFailed(
                "Send 'Authorization: Bearer <token>' (or 'Token <token>')."
            )
        if not TOKEN68.fullmatch(auth[1]):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return self.authenticate_credentials(auth[1])

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'


class TokenOrBearerScheme(OpenApiAuthenticationExtension):
    target_class = TokenOrBearerAuthentication
    name = "bearerToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token issued in the admin: 'Authorization: Bearer <token>' "
            "('Token <token>' works too). Needed only to change a milestone's status; "
            "reads are public (a token raises the rate limit).",
        }
