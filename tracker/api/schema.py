"""OpenAPI: every operation also documents its error answers (problem details), its
304, the headers it sends (validators, Link, rate limits, X-Tracker-As-Of), the OpenAPI
links between operations and, for the main reads, examples taken from the shipped
agreements (examples.json, checked against the live API by tests/api/test_schema.py).
All of it is added by the postprocessing hook ``document_answers``, keyed by
operationId, to what drf-spectacular generates."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from tracker.ops.problems import PROBLEM

PAGE_400 = (
    " A page past the end is a 400 naming `page` and the last page (how many pages "
    "there are is not in a schema)."
)
ERRORS_READ = {
    "400": "A bad parameter; `errors` names it.",
    "401": "A token was sent and is not valid (reads need none).",
    "404": "No such object.",
    "405": "Not a method of this address (see Allow).",
    "406": "Nothing acceptable: the API answers application/json (and text/csv for "
    "the milestone and commitment lists).",
    "412": "If-Match or If-Unmodified-Since does not hold.",
    "429": "Too many requests; see Retry-After and X-RateLimit-Reset.",
}
ERRORS_400 = {
    "v1_events_retrieve": " An `after` cursor this feed did not issue is a 400 naming "
    "`after` (cursors are opaque: any string of the pattern is schema-valid).",
    "v1_status_retrieve": " An `as_of` that is not a day of the calendar, or is in the "
    "future, is a 400 naming `as_of`.",
}
ERRORS_WRITE = {
    "400": "Bad input; `errors` names each field at fault and why. A well-formed body "
    "may still be refused by the transition's rules, a 400 naming the field: "
    "`completed_on` without status `completed`; `completed` without `evidence_url`; a "
    "`completed_on` in the future or before the agreement's signature; an evidence "
    "address that is not public http(s).",
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
ERRORS_410 = {
    "v1_events_retrieve": "Events after your cursor were pruned "
    "(API_EVENT_RETENTION_DAYS): start again without `after`."
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
ETAG = _header(
    "Validator of this answer: send it back in If-None-Match (304 while it holds), or "
    "in If-Match on a PATCH. Weak for /status/ (as_of is outside it); a tag weakened by "
    "compression (W/...) is one a client may send back as it got it."
)
VALIDATOR_HEADERS = {
    "ETag": ETAG,
    "Last-Modified": _header("HTTP date; If-None-Match is exact, prefer it."),
    "Cache-Control": _header("public, max-age=API_MAX_AGE, must-revalidate"),
    "Vary": _header("Accept, Accept-Encoding, Cookie (the same on a 304)."),
}
CONTENT_VALIDATORS = {  # the index and the event feed: an ETag from the content
    "ETag": ETAG,
    "Cache-Control": _header(
        "public, max-age=API_MAX_AGE, must-revalidate; no-cache for the event feed"
    ),
    "Vary": VALIDATOR_HEADERS["Vary"],
}
LINK = {
    "Link": _header(
        'RFC 8288 links: the first, prev, next and last pages (<url>; rel="next", ...); '
        "for the event feed, the next poll."
    )
}
AS_OF = {
    "X-Tracker-As-Of": _header("When the deadline sweep last ran (ISO 8601, UTC); on 304s too.")
}
_TEXT = {"type": "string"}
PROBLEM_SCHEMA = {  # the body of every error (tracker.ops.problems)
    "type": "object",
    "description": "RFC 9457 problem details, the one error format of the API.",
    "properties": {
        **dict.fromkeys(["type", "title", "detail", "instance", "code"], _TEXT),
        "status": {"type": "integer"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {**_TEXT, "nullable": True}, "reason": _TEXT},
                "required": ["field", "reason"],
            },
        },
    },
    "required": ["type", "title", "status", "detail"],
}


def _link(operation_id: str, description: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation_id, "description": description, "parameters": parameters}


FIRST, ITS = "$response.body#/results/0/id", "$response.body#/id"
MILESTONE, HISTORY = "v1_milestones_retrieve", "v1_milestones_history_list"
# OpenAPI links: where a client (and Schemathesis's stateful phase) goes from an answer.
# Keyed by the operationId of the answer, then the link's name.
LINKS: dict[str, dict[str, dict[str, Any]]] = {
    "v1_agreements_list": {
        "Agreement": _link(
            "v1_agreements_retrieve", "The first agreement.", slug="$response.body#/results/0/slug"
        )
    },
    "v1_commitments_list": {
        "Commitment": _link("v1_commitments_retrieve", "The first commitment.", id=FIRST),
        "CommitmentLog": _link("v1_commitments_log_list", "Its log.", id=FIRST),
    },
    "v1_commitments_retrieve": {
        "Log": _link("v1_commitments_log_list", "Its log.", id=ITS),
        "Milestone": _link(MILESTONE, "Its first milestone.", id="$response.body#/milestones/0/id"),
    },
    "v1_milestones_list": {
        "Milestone": _link(MILESTONE, "The first milestone.", id=FIRST),
        "History": _link(HISTORY, "Its status updates.", id=FIRST),
        "Log": _link("v1_milestones_log_list", "Its log.", id=FIRST),
    },
    MILESTONE: {
        "ChangeStatus": _link(
            "v1_milestones_partial_update",
            "Change its status, on condition that it has not changed since (If-Match).",
            id=ITS,
            **{"header.If-Match": "$response.header.ETag"},
        ),
        "History": _link(HISTORY, "Its status updates.", id=ITS),
        "Log": _link("v1_milestones_log_list", "Its log.", id=ITS),
    },
    "v1_milestones_partial_update": {
        "Milestone": _link(MILESTONE, "It, as changed.", id=ITS),
        "History": _link(HISTORY, "Its status updates.", id=ITS),
    },
    "v1_status_retrieve": {
        "OverdueMilestone": _link(
            MILESTONE,
            "The milestone overdue the longest.",
            id="$response.body#/overdue/milestones/0/id",
        ),
        "NextDeadline": _link(
            MILESTONE, "The milestone due next.", id="$response.body#/next_deadlines/0/id"
        ),
    },
}
EXAMPLES = {
    "v1_retrieve": "index",
    "v1_status_retrieve": "status",
    "v1_agreements_list": "agreement_list",
    "v1_agreements_retrieve": "agreement",
    "v1_commitments_retrieve": "commitment",
    "v1_milestones_list": "milestone_list",
    "v1_milestones_retrieve": "milestone",
    "v1_milestones_partial_update": "milestone",
}
# An operation with more than one example: each named, with its summary.
NAMED_EXAMPLES = {
    "v1_milestones_retrieve": {
        "milestone": "A milestone with a deadline counted from signature",
        "milestone_series": "A recurring obligation: its rule in words, and its "
        "occurrences met, missed and next due (series, occurrences)",
    },
}
CSV_LISTS = {"v1_milestones_list", "v1_commitments_list"}
CONTENT_TAGGED = {"v1_retrieve", "v1_events_retrieve"}
PATCH_BODY = "PatchedMilestoneStatusRequest"  # MilestoneStatusSerializer, as a request


@cache
def examples() -> dict[str, Any]:
    return json.loads((Path(__file__).with_name("examples.json")).read_text())


def document_answers(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: the answers every operation gives besides its 200."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    # Any other field is refused (serializers.MilestoneStatusSerializer), and so is {}.
    schemas[PATCH_BODY].update(additionalProperties=False, minProperties=1)
    for item in result["paths"].values():
        for method, operation in item.items():
            if method == "get":
                # Said, not left out: no requirement at all (Redocly's security-defined).
                operation["security"] = []
                _document_read(operation)
            else:
                _document_write(operation)
            key, ok = operation["operationId"], operation["responses"]["200"]
            _example(key, ok)
            if key in LINKS:
                ok["links"] = LINKS[key]
    return result


CONDITIONS = [  # the request headers of every read
    {"in": "header", "name": "If-None-Match", "schema": _TEXT,
     "description": "The ETag of your copy: 304 if it still holds."},
    {"in": "header", "name": "If-Modified-Since", "schema": _TEXT,
     "description": "An HTTP date; ignored when If-None-Match is sent."},
]  # fmt: skip
IF_MATCH = {"in": "header", "name": "If-Match", "schema": _TEXT,
            "description": "The ETag from your GET of this milestone."}  # fmt: skip


def _document_read(operation: dict[str, Any]) -> None:
    key = operation["operationId"]
    operation.setdefault("parameters", []).extend(CONDITIONS)
    responses = operation["responses"]
    ok = responses["200"]
    headers = {**(CONTENT_VALIDATORS if key in CONTENT_TAGGED else VALIDATOR_HEADERS)}
    if key.endswith("_list") or key == "v1_events_retrieve":
        headers.update(LINK)
    if key == "v1_status_retrieve":
        headers.update(AS_OF)
    ok["headers"] = {**headers, **RATE_LIMIT_HEADERS}
    if key in CSV_LISTS:
        ok["content"]["text/csv"] = {
            "schema": {"type": "string"},
            "example": examples().get(f"{EXAMPLES.get(key, key)}_csv", ""),
        }
    responses["304"] = {
        "description": "Not Modified: your copy (If-None-Match / If-Modified-Since) still "
        "holds. No body.",
        "headers": {k: v for k, v in ok["headers"].items() if k != "Link"},
    }
    errors = {**ERRORS_READ, **({"410": ERRORS_410[key]} if key in ERRORS_410 else {})}
    errors["400"] += ERRORS_400.get(key, PAGE_400 if key.endswith("_list") else "")
    _problems(responses, errors)


def _document_write(operation: dict[str, Any]) -> None:
    operation.setdefault("parameters", []).append(IF_MATCH)
    operation["responses"]["200"]["headers"] = {"ETag": ETAG, **RATE_LIMIT_HEADERS}
    _problems(operation["responses"], ERRORS_WRITE)


def _example(key: str, ok: dict[str, Any]) -> None:
    if key in NAMED_EXAMPLES:
        ok["content"]["application/json"]["examples"] = {
            name: {"summary": summary, "value": examples()[name]}
            for name, summary in NAMED_EXAMPLES[key].items()
        }
        return
    example = examples().get(EXAMPLES.get(key, ""))
    if example is not None:
        ok["content"]["application/json"]["example"] = example


def _problems(responses: dict[str, Any], errors: dict[str, str]) -> None:
    for code, description in errors.items():
        responses.setdefault(
            code,
            {
                "description": description,
                "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
                "headers": dict(RATE_LIMIT_HEADERS),
            },
        )


def typed_nullable_enums(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """After drf-spectacular's enum hook: a nullable choice is ``nullable`` beside a
    ``oneOf`` of its enum and ``NullEnum``, with no ``type``, which OpenAPI 3.0 leaves
    undefined (Redocly's nullable-type-sibling). Give it its enum's type. A nullable
    nested object (``allOf`` of its component) is written the same way."""
    components = result.get("components", {}).get("schemas", {})

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("nullable") and len(node.get("allOf", ())) == 1 and "type" not in node:
                # allOf would hold null to the object's schema too (as Redocly does):
                # one of the object or null, as drf-spectacular writes a nullable choice.
                components.setdefault("NullEnum", {"enum": [None]})
                node["oneOf"] = [node.pop("allOf")[0], {"$ref": "#/components/schemas/NullEnum"}]
            refs = node.get("oneOf")
            if node.get("nullable") and "type" not in node and refs:
                types = {
                    components.get(ref.get("$ref", "").rsplit("/", 1)[-1], {}).get("type")
                    for ref in refs
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
