"""Conditional requests: validators from a change counter that database triggers keep
(``models.ChangeCounter``), and the mixin that answers 304 and 412 through Django's
``get_conditional_response``. What goes into the ETag, and why each part: docs/api.md,
"Validators". Preconditions are judged only once the request is known valid (RFC 9110
section 13.2.1: an error is never a 304), and the counter is read again after the body
(``ConditionalMixin.respond``), so an answer never carries an ETag older than its body.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection
from django.db.models import Value
from django.db.models.expressions import RawSQL
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import http_date, parse_etags
from rest_framework.response import Response

from commitments import deadlines
from commitments.models import Agreement

from .exceptions import PreconditionFailed
from .models import ChangeCounter

_Response = TypeVar("_Response", bound=HttpResponseBase)


@dataclass(frozen=True)
class State:
    """What the validators are made of, read once per request (and again to check)."""

    now: dt.datetime
    counter: str
    changed_at: dt.datetime | None
    local_dates: tuple[tuple[str, dt.date], ...]

    @property
    def last_modified(self) -> dt.datetime:
        """The later of the last counted change and the last local midnight (when the
        time-derived fields last moved). One-second resolution, as HTTP dates have:
        prefer If-None-Match, which is exact."""
        midnights = [
            dt.datetime.combine(day, dt.time(), tzinfo=zoneinfo.ZoneInfo(tz)).astimezone(dt.UTC)
            for tz, day in self.local_dates
        ]
        if self.changed_at is not None:
            midnights.append(self.changed_at)
        return max(midnights, default=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))

    def key(self) -> str:
        days = ",".join(f"{tz}={day.isoformat()}" for tz, day in self.local_dates)
        return f"{self.counter}|{days}"


# What changes with the database itself: new after a restore (docs/api.md, "The epoch").
_POSTGRESQL_EPOCH = (
    "(SELECT system_identifier FROM pg_control_system())::text || '.' || "
    f"'{ChangeCounter._meta.db_table}'::regclass::oid::text"
)


def read_counter() -> tuple[str, dt.datetime | None]:
    """The counter with its epochs, and when it last moved: one query by primary key."""
    epoch = RawSQL(_POSTGRESQL_EPOCH, []) if connection.vendor == "postgresql" else Value("")
    row = (
        ChangeCounter.objects.filter(pk=1)
        .annotate(database=epoch)
        .values_list("database", "epoch", "value", "changed_at")
        .first()
    )
    if row is None:  # flushed; the next write's trigger recreates it with a new epoch
        return "none", None
    return f"{row[0]}/{row[1]}:{row[2]}", row[3]


def read_state(now: dt.datetime) -> State:
    """Two queries: the counter, and the agreements' time zones."""
    counter, changed_at = read_counter()
    zones = sorted(set(Agreement.objects.values_list("time_zone", flat=True))) or ["UTC"]
    dates = tuple((tz, deadlines.local_today(now, tz)) for tz in zones)
    return State(now=now, counter=counter, changed_at=changed_at, local_dates=dates)


def make_etag(*parts: object, weak: bool = False) -> str:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=12).hexdigest()
    return f'{"W/" if weak else ""}"{digest}"'


def query_key(request: HttpRequest) -> str:
    """The query as it matters: every parameter, sorted, repeated values kept in order
    (the views refuse unknown parameters before this is made)."""
    params = request.GET
    return "&".join(f"{name}={value}" for name in sorted(params) for value in params.getlist(name))


# Every read answers with these, 304s included (RFC 9110 section 15.4.5: a 304 sends
# the Vary its 200 would have). Accept: JSON or CSV; Accept-Encoding: gzip; Cookie: a
# session may change the caller (and so the rate-limit headers).
VARY = ("Accept", "Accept-Encoding", "Cookie")


def write_preconditions_hold(request: HttpRequest, etag: str) -> bool:
    """If-Match and If-None-Match of a write, against the target's current ``etag``.

    Compared weakly: our tags name a state of the data, not bytes, and compression
    weakens the tag a client was sent (Django's GZipMiddleware, nginx), so a client
    that sends back what it got must succeed. A header with no tag in it is ignored,
    as Django does."""
    current = etag.removeprefix("W/")

    def tags(header: str) -> list[str]:
        return [tag.removeprefix("W/") for tag in parse_etags(header)]

    if_match = tags(request.headers.get("If-Match", ""))
    if if_match and if_match != ["*"] and current not in if_match:
        return False
    if_none_match = tags(request.headers.get("If-None-Match", ""))
    return not (if_none_match and (if_none_match == ["*"] or current in if_none_match))


class ConditionalMixin:
    """Validators and the one road of a read, called once the request is valid:
    ``respond``, or ``conditional_answer`` for a view that builds its answer itself."""

    request: Any

    @cached_property
    def now(self) -> dt.datetime:
        """The one moment a request judges at: its body, its filters and its ETag."""
        return timezone.now()

    @cached_property
    def state(self) -> State:
        return read_state(self.now)

    def on_answered_in_full(self) -> None:
        """A conditional GET that is not a 304 (the throttles charge it in full)."""

    def etag(self, action: str | None = None, *, weak: bool = False) -> str:
        request = self.request
        return make_etag(
            f"{type(self).__name__}.{action or getattr(self, 'action', 'get')}",
            request.build_absolute_uri(request.path),
            query_key(request),
            self.state.key(),
            getattr(request, "accepted_media_type", ""),
            weak=weak,
        )

    def validators(
        self, etag: str, *, last_modified: bool = True, cache_control: str = ""
    ) -> HttpResponse:
        """An empty answer with the headers every answer of this state sends, 304s
        included: ETag, Last-Modified, Cache-Control, Vary."""
        headers = HttpResponse()
        headers["ETag"] = etag
        if last_modified:
            headers["Last-Modified"] = http_date(self.state.last_modified.timestamp())
        headers["Cache-Control"] = (
            cache_control or f"public, max-age={settings.API_MAX_AGE}, must-revalidate"
        )
        patch_vary_headers(headers, VARY)
        return headers

    def conditional_answer(self, headers: HttpResponse) -> HttpResponse:
        """A 304 when the client's copy still holds (a failed If-Match raises 412);
        else ``headers`` itself, for the answer with a body to take."""
        stamp = headers.get("Last-Modified")
        answer = (
            get_conditional_response(
                self.request,
                etag=headers["ETag"],
                last_modified=int(self.state.last_modified.timestamp()) if stamp else None,
                response=headers,
            )
            or headers
        )
        if answer.status_code == 412:
            raise PreconditionFailed("If-Match or If-Unmodified-Since does not hold.")
        if answer.status_code == 304:
            _as_the_client_has_it(self.request, answer)
        else:
            self.on_answered_in_full()
        return answer

    def respond(
        self,
        body: Callable[[], Any],
        *,
        etag: Callable[[], str] | None = None,
        headers: Callable[[], dict[str, str]] | None = None,
    ) -> HttpResponse:
        """The conditional answer; else ``body()`` (with ``headers()``), with the
        validators of the state it was read in (see the module's docstring)."""
        make = etag or self.etag
        answer = self.conditional_answer(self.validators(make()))
        if answer.status_code == 304:
            return answer
        for attempt in range(3):
            counter = self.state.counter
            data = body()
            if read_counter()[0] == counter:
                validators = answer if attempt == 0 else self.validators(make())
                return with_headers(
                    Response(data, headers=headers() if headers else None), validators
                )
            del self.state  # a write committed meanwhile: read the state again
        response = Response(data, headers=headers() if headers else None)
        response["Cache-Control"] = "no-store"  # still moving: no validator to give
        return response

    def respond_by_content(
        self, data: Any, *, headers: dict[str, str] | None = None, cache_control: str = ""
    ) -> HttpResponse:
        """For an answer whose validator is its content's (the index, the event feed):
        built first, then compared."""
        tag = make_etag(json.dumps(data, sort_keys=True, default=str))
        validators = self.validators(tag, last_modified=False, cache_control=cache_control)
        answer = self.conditional_answer(validators)
        if answer.status_code == 304:
            return answer
        return with_headers(Response(data, headers=headers), answer)


def with_headers(response: _Response, headers: HttpResponse) -> _Response:
    """``response`` with the validators' headers (its own Content-Type kept)."""
    for name, value in headers.items():
        if name != "Content-Type":
            response[name] = value
    return response


def _as_the_client_has_it(request: Any, response: HttpResponse) -> None:
    """A 304 sends the ETag its 200 had. Django's GZipMiddleware weakens the ETag of
    the bodies it compresses (never of a 304, which has none): when the client's copy
    is that weakened tag, the 304 says it back so."""
    tag = response["ETag"]
    sent = request.META.get("HTTP_IF_NONE_MATCH", "")
    if not tag.startswith("W/") and f"W/{tag}" in sent and tag not in sent.replace(f"W/{tag}", ""):
        response["ETag"] = f"W/{tag}"
