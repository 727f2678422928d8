"""OpenAPI: every operation also documents its error answers (problem details), its
304 and the validators it sends."""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi

from .exceptions import PROBLEM

ERRORS_READ = {
    "400": "A bad filter or page value; `errors` names the parameter.",
    "404": "No such object, or no such page.",
    "429": "Too many requests; see Retry-After.",
}
ERRORS_WRITE = {
    "400": "Bad input; `errors` names each field at fault and why.",
    "401": "No (valid) token.",
    "403": "The token's user may not change milestone status.",
    "404": "No such milestone.",
    "409": "Changed by someone else while this request ran; GET it and try again.",
    "412": "If-Match does not hold: the milestone changed since your GET.",
    "413": "The body is too large.",
    "415": "The body is not JSON.",
    "429": "Too many requests; see Retry-After.",
}
VALIDATOR_HEADERS = {
    "ETag": {"schema": {"type": "string"}, "description": "Weak validator of this answer."},
    "Last-Modified": {"schema": {"type": "string"}, "description": "HTTP date."},
    "Cache-Control": {"schema": {"type": "string"}},
}


class AutoSchema(openapi.AutoSchema):
    def _problem(self, description: str) -> dict[str, Any]:
        from .serializers import ProblemSerializer

        component = self.resolve_serializer(ProblemSerializer, "response")
        return {"description": description, "content": {PROBLEM: {"schema": component.ref}}}

    def get_auth(self) -> list[dict[str, Any]]:
        auth = super().get_auth()
        if self.method in ("GET", "HEAD") and {} not in auth:
            auth.append({})  # reads are public
        return auth

    def _map_serializer(
        self, serializer: Any, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if getattr(serializer, "refuse_unknown_fields", False):
            schema["additionalProperties"] = False
            schema["minProperties"] = 1
        return schema

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if self.method in ("GET", "HEAD"):
            for code in ("200",):
                if code in responses:
                    responses[code]["headers"] = dict(VALIDATOR_HEADERS)
            responses["304"] = {
                "description": "Not Modified: your copy (If-None-Match / If-Modified-Since) "
                "still holds. No body.",
                "headers": dict(VALIDATOR_HEADERS),
            }
            errors = ERRORS_READ
        else:
            if "200" in responses:
                responses["200"]["headers"] = {"ETag": VALIDATOR_HEADERS["ETag"]}
            errors = ERRORS_WRITE
        for code, description in errors.items():
            responses.setdefault(code, self._problem(description))
        return responses
