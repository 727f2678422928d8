"""OpenAPI: every operation also documents its error answers (problem details), its
304, the headers it sends (validators, Link, rate limits, X-Tracker-As-Of) and, for
the main reads, examples taken from the shipped agreements (examples.json, checked
against the live API by tests/api/test_schema.py)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Literal

from drf_spectacular import openapi

from .exceptions import PROBLEM

ERRORS_READ = {
    "400": "A bad parameter or page; `errors` names the parameter.",
    "401": "A token was sent and is not valid (reads need none).",
    "404": "No such object.",
    "405": "Not a method of this address (see Allow).",
    "406": "Nothing acceptable: the API answers application/json (and text/csv for "
    "the milestone and commitment lists).",
    "412": "If-Match does not hold.",
    "429": "Too many requests; see Retry-After and X-RateLimit-Reset.",
}
ERRORS_WRITE = {
    "400": "Bad input; `errors` names each field at fault and why.",
    "401": "No (valid) token.",
    "403": "The token's user may not change milestone status.",
    "404": "No such milestone.",
    "405": "Not a method of this address (see Allow).",
    "406": "Nothing acceptable (the API answers application/json).",
    "409": "Changed by someone else while this request ran; GET it and try again.",
    "411": "A chunked body: send it with a Content-Length.",
    "412": "If-Match (or If-None-Match) does not hold: nothing was changed.",
    "413": "The body is too large.",
    "415": "The body is not JSON.",
    "429": "Too many requests; see Retry-After and X-RateLimit-Reset.",
}


def _header(description: str, type_: str = "string") -> dict[str, Any]:
    return {"schema": {"type": type_}, "description": description}


RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": _header(
        "Requests allowed per window (per address, or per user with a token).", "integer"
    ),
    "X-RateLimit-Remaining": _header("Left in this window. A 304 costs nothing.", "integer"),
    "X-RateLimit-Used": _header("Used in this window.", "integer"),
    "X-RateLimit-Reset": _header("When the window ends, in seconds since 1970 (UTC).", "integer"),
    "X-RateLimit-Resource": _header("The bucket: core."),
}
VALIDATOR_HEADERS = {
    "ETag": _header(
        "Validator of this answer: send it back in If-None-Match (304 while it holds), or "
        "in If-Match on a PATCH. Strong, but /status/'s (weak: as_of is outside it)."
    ),
    "Last-Modified": _header("HTTP date; If-None-Match is exact, prefer it."),
    "Cache-Control": _header("public, max-age=API_MAX_AGE, must-revalidate"),
    "Vary": _header("Accept, Accept-Encoding (the same on a 304)."),
}
LINK = {
    "Link": _header(
        'RFC 8288 links to the first, prev, next and last pages: <url>; rel="next", ...'
    )
}
AS_OF = {
    "X-Tracker-As-Of": _header("When the deadline sweep last ran (ISO 8601, UTC); on 304s too.")
}


def _link(operation_id: str, description: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation_id, "description": description, "parameters": parameters}


FIRST_RESULT = "$response.body#/results/0/id"
# OpenAPI links: where a client (and Schemathesis's stateful phase) goes from an answer.
# Keyed by the operationId of the answer, then the link's name.
LINKS: dict[str, dict[str, dict[str, Any]]] = {
    "v1_agreements_list": {
        "Agreement": _link(
            "v1_agreements_retrieve",
            "The first agreement of the page.",
            slug="$response.body#/results/0/slug",
        ),
    },
    "v1_commitments_list": {
        "Commitment": _link("v1_commitments_retrieve", "The first commitment.", id=FIRST_RESULT),
        "CommitmentLog": _link("v1_commitments_log_list", "Its log.", id=FIRST_RESULT),
    },
    "v1_commitments_retrieve": {
        "Log": _link("v1_commitments_log_list", "Its log.", id="$response.body#/id"),
        "Milestone": _link(
            "v1_milestones_retrieve",
            "Its first milestone.",
            id="$response.body#/milestones/0/id",
        ),
    },
    "v1_milestones_list": {
        "Milestone": _link("v1_milestones_retrieve", "The first milestone.", id=FIRST_RESULT),
        "History": _link("v1_milestones_history_list", "Its status updates.", id=FIRST_RESULT),
        "Log": _link("v1_milestones_log_list", "Its log.", id=FIRST_RESULT),
    },
    "v1_milestones_retrieve": {
        "ChangeStatus": _link(
            "v1_milestones_partial_update",
            "Change its status, on condition that it has not changed since (If-Match).",
            id="$response.body#/id",
            **{"header.If-Match": "$response.header.ETag"},
        ),
        "History": _link(
            "v1_milestones_history_list", "Its status updates.", id="$response.body#/id"
        ),
        "Log": _link("v1_milestones_log_list", "Its log.", id="$response.body#/id"),
    },
    "v1_milestones_partial_update": {
        "Milestone": _link("v1_milestones_retrieve", "It, as changed.", id="$response.body#/id"),
        "History": _link(
            "v1_milestones_history_list", "Its status updates.", id="$response.body#/id"
        ),
    },
    "v1_status_retrieve": {
        "OverdueMilestone": _link(
            "v1_milestones_retrieve",
            "The milestone overdue the longest.",
            id="$response.body#/overdue/milestones/0/id",
        ),
        "NextDeadline": _link(
            "v1_milestones_retrieve",
            "The milestone due next.",
            id="$response.body#/next_deadlines/0/id",
        ),
    },
}


@cache
def examples() -> dict[str, Any]:
    return json.loads((Path(__file__).with_name("examples.json")).read_text())


class AutoSchema(openapi.AutoSchema):
    def _problem(self, description: str) -> dict[str, Any]:
        from .serializers import ProblemSerializer

        component = self.resolve_serializer(ProblemSerializer, "response")
        return {
            "description": description,
            "content": {PROBLEM: {"schema": component.ref}},
            "headers": dict(RATE_LIMIT_HEADERS),
        }

    def get_auth(self) -> list[dict[str, Any]]:
        if self.method in ("GET", "HEAD"):
            return []  # reads are public: no padlock (a token only raises the limit)
        return super().get_auth()

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        if self.method in ("GET", "HEAD"):
            # Said, not left out: no requirement at all (Redocly's security-defined).
            operation["security"] = []
        links = LINKS.get(operation["operationId"])
        if links:
            operation["responses"]["200"]["links"] = links
        return operation

    def _map_serializer(
        self, serializer: Any, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if getattr(serializer, "refuse_unknown_fields", False):
            schema["additionalProperties"] = False
            schema["minProperties"] = 1
        return schema

    def _example_key(self) -> str | None:
        view = self.view
        action = getattr(view, "action", None)
        name = type(view).__name__
        return {
            ("AgreementViewSet", "list"): "agreement_list",
            ("AgreementViewSet", "retrieve"): "agreement",
            ("CommitmentViewSet", "retrieve"): "commitment",
            ("MilestoneViewSet", "retrieve"): "milestone",
            ("MilestoneViewSet", "list"): "milestone_list",
            ("MilestoneViewSet", "partial_update"): "milestone",
            ("StatusView", None): "status",
            ("IndexView", None): "index",
        }.get((name, action))

    def _get_response_bodies(
        self, direction: Literal["request", "response"] = "response"
    ) -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        action = getattr(self.view, "action", None)
        is_list = action in ("list", "history", "log")
        headers = {**VALIDATOR_HEADERS, **RATE_LIMIT_HEADERS}
        if type(self.view).__name__ == "StatusView":
            headers.update(AS_OF)
        if self.method in ("GET", "HEAD"):
            if type(self.view).__name__ == "EventFeedView":
                headers = {**RATE_LIMIT_HEADERS, **LINK}
            elif is_list:
                headers.update(LINK)
            if "200" in responses:
                responses["200"]["headers"] = headers
                key = self._example_key()
                if key and key in examples():
                    for media in responses["200"].get("content", {}).values():
                        media["example"] = examples()[key]
                if action == "list" and getattr(self.view, "csv_export", False):
                    responses["200"].setdefault("content", {})["text/csv"] = {
                        "schema": {"type": "string"},
                        "example": examples().get(f"{key}_csv", ""),
                    }
            if type(self.view).__name__ != "EventFeedView":
                responses["304"] = {
                    "description": "Not Modified: your copy (If-None-Match / "
                    "If-Modified-Since) still holds. No body.",
                    "headers": {k: v for k, v in headers.items() if k not in ("Link",)},
                }
            errors = ERRORS_READ
            if type(self.view).__name__ == "EventFeedView":
                errors = {
                    **errors,
                    "410": "Events after your cursor were pruned "
                    "(API_EVENT_RETENTION_DAYS): start again without `after`.",
                }
        else:
            if "200" in responses:
                responses["200"]["headers"] = {
                    "ETag": VALIDATOR_HEADERS["ETag"],
                    **RATE_LIMIT_HEADERS,
                }
                key = self._example_key()
                if key and key in examples():
                    for media in responses["200"].get("content", {}).values():
                        media["example"] = examples()[key]
            errors = ERRORS_WRITE
        for code, description in errors.items():
            responses.setdefault(code, self._problem(description))
        return responses


def typed_nullable_enums(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """After drf-spectacular's enum hook: a nullable choice is ``nullable`` beside a
    ``oneOf`` of its enum and ``NullEnum``, with no ``type``, which OpenAPI 3.0 leaves
    undefined (Redocly's nullable-type-sibling). Give it its enum's type."""
    components = result.get("components", {}).get("schemas", {})

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("nullable") and "type" not in node and "oneOf" in node:
                types = {
                    components.get(ref.get("$ref", "").rsplit("/", 1)[-1], {}).get("type")
                    for ref in node["oneOf"]
                } - {None}
                if len(types) == 1:
                    node["type"] = types.pop()
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result
