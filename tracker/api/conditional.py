"""Conditional requests: validators from a trigger-kept change counter, and one mixin
that answers 304 and 412 through Django's ``get_conditional_response``.

The validator of every read is computed *before* the body, from one indexed read of
the change counter (``tracker.api.models.ChangeCounter``, kept by database triggers):

    ETag = hash(view, path, the query's known parameters, the database's epoch, the
                counter, the local date in every agreement's time zone)

- The counter grows with every committed write to anything the API shows, whatever
  the write path, and becomes visible in the same commit as the write. So the ETag
  changes whenever something shown changes. It may also change when something else
  in the tracker changed: a spurious change costs a client one 200, never a stale 304.
- The epoch changes when the database does (a restore, a new database): the random
  value stored in the counter row, plus on PostgreSQL the cluster's system identifier
  and the counter table's OID (both new after a restore). So a counter value that a
  restore hands out again never makes an ETag seen before.
- What is derived from time alone (``is_overdue``, ``days_remaining``, the overdue
  counts, the next deadline) changes only at midnight in an agreement's time zone, so
  the local dates cover it.
- Every caller sees the same representation (reads are public), so the validator does
  not vary with the caller.

Reading the counter first and the data after means a body is never older than its
ETag: a write that lands in between makes the body newer, and the next poll sees a new
ETag anyway.

Each process remembers the last counter it read for ``API_VALIDATOR_TTL_MS`` (default
1000 ms; 0 reads it on every request), so most polls cost no database round trip: a
change is then seen at most that much later. A conditional request whose condition
fails against a remembered value is checked again against a fresh read before any body
is sent: a poller that got a newer ETag from another worker never gets an older body.

``ConditionalMixin.conditional_answer`` is the one road: the view validates the request
first (parameters, the object exists, the page exists), and only then are If-None-Match,
If-Modified-Since and If-Match evaluated (RFC 9110 section 13.2.1), so an error is never
answered with a 304.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.dateparse import parse_datetime
from django.utils.http import http_date

from commitments import deadlines
from commitments.models import Agreement
from tracker.models import SweepRun

from . import cache as safe_cache
from .models import ChangeCounter


@dataclass(frozen=True)
class State:
    """What the validators are made of, read once per request."""

    now: dt.datetime
    counter: str
    changed_at: dt.datetime | None
    local_dates: tuple[tuple[str, dt.date], ...]
    as_of: dt.datetime | None = None  # the last sweep; read only for /status/
    remembered: bool = False  # the counter came from this process's memory, not the DB
    with_as_of: bool = False

    @property
    def last_modified(self) -> dt.datetime:
        """The later of the last counted change and the last local midnight (when the
        time-derived fields last moved). One-second resolution, as HTTP dates have:
        prefer If-None-Match, which is exact."""
        midnights = [
            dt.datetime.combine(day, dt.time(), tzinfo=zoneinfo.ZoneInfo(tz))
            for tz, day in self.local_dates
        ]
        candidates = [m.astimezone(dt.UTC) for m in midnights]
        if self.changed_at is not None:
            candidates.append(self.changed_at)
        return max(candidates, default=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))

    def key(self) -> str:
        days = ",".join(f"{tz}={day.isoformat()}" for tz, day in self.local_dates)
        return f"{self.counter}|{days}"


_time_zones: dict[str, tuple[str, ...]] = {}
_time_zones_lock = threading.Lock()


def _agreement_time_zones(counter: str) -> tuple[str, ...]:
    """The agreements' time zones change only with the counter: remember them per
    counter value, per process, so a steady-state poll costs no second query."""
    zones = _time_zones.get(counter)
    if zones is None:
        zones = tuple(
            sorted(set(Agreement.objects.values_list("time_zone", flat=True))) or ("UTC",)
        )
        with _time_zones_lock:
            _time_zones.clear()
            _time_zones[counter] = zones
    return zones


_COUNTER = ChangeCounter._meta.db_table
# ``tracker.selectors.last_sweep_at`` in plain SQL: /status/ reads it on every poll, 304s
# included, in the same statement as the counter. test_conditional.py holds the two
# together.
_AS_OF = (
    f"SELECT evaluated_at FROM {SweepRun._meta.db_table} WHERE finished_at IS NOT NULL "
    "ORDER BY finished_at DESC LIMIT 1"
)
# What changes with the database itself (see the module's docstring).
_DATABASE_EPOCH = {
    "postgresql": (
        "(SELECT system_identifier FROM pg_control_system())::text || '.' || "
        f"'{_COUNTER}'::regclass::oid::text"
    ),
}
_STATE_SQL = (
    "SELECT c.epoch, c.value, c.changed_at, {database}{as_of} FROM (SELECT 1 AS one) AS one "
    f"LEFT JOIN {_COUNTER} c ON c.id = 1"
)


def _read(with_as_of: bool) -> tuple[str, dt.datetime | None, dt.datetime | None]:
    """The counter (and as_of), in one round trip of plain SQL: this runs on every
    read, 304s included, and the ORM would double its cost."""
    sql = _STATE_SQL.format(
        database=_DATABASE_EPOCH.get(connection.vendor, "''"),
        as_of=f", ({_AS_OF})" if with_as_of else "",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    stored = f"{row[0]}:{row[1]}" if row[0] is not None else "none:0"
    counter = f"{row[3]}/{stored}"
    return counter, _aware(row[2]), _aware(row[4]) if with_as_of else None


def last_sweep_at_fast() -> dt.datetime | None:
    return _read(with_as_of=True)[2]


def _aware(value: Any) -> dt.datetime | None:
    if isinstance(value, str):  # SQLite
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = value.replace(tzinfo=dt.UTC)
    return value


@dataclass(frozen=True)
class _Reading:
    started: float  # ``_clock()`` when the read began
    counter: str
    changed_at: dt.datetime | None
    as_of: dt.datetime | None
    with_as_of: bool


_clock = time.monotonic  # tests replace it to freeze time
_last: _Reading | None = None  # this process's last reading (one assignment: thread-safe)


def _remembered(with_as_of: bool) -> _Reading | None:
    ttl = settings.API_VALIDATOR_TTL_MS
    reading = _last
    if ttl <= 0 or reading is None or (with_as_of and not reading.with_as_of):
        return None
    age = _clock() - reading.started
    return reading if 0 <= age * 1000 < ttl else None


def forget() -> None:
    """Drop the remembered reading: the next request reads the database."""
    global _last
    _last = None


def current_state(
    now: dt.datetime | None = None, *, with_as_of: bool = False, fresh: bool = False
) -> State:
    """No query while this process's last reading is younger than API_VALIDATOR_TTL_MS
    (unless ``fresh``); else one (the counter row by primary key)."""
    global _last
    now = now or timezone.now()
    reading = None if fresh else _remembered(with_as_of)
    remembered = reading is not None
    if reading is None:
        started = _clock()
        counter, changed_at, as_of = _read(with_as_of)
        reading = _Reading(started, counter, changed_at, as_of, with_as_of)
        if settings.API_VALIDATOR_TTL_MS > 0:
            last = _last
            # Never replace a reading with one that began earlier (threads race).
            if last is None or last.started <= started:
                _last = reading
    zones = _agreement_time_zones(reading.counter)
    return State(
        now=now,
        counter=reading.counter,
        changed_at=reading.changed_at,
        local_dates=tuple((tz, deadlines.local_today(now, tz)) for tz in zones),
        as_of=reading.as_of if with_as_of else None,
        remembered=remembered,
        with_as_of=with_as_of,
    )


def request_state(request: HttpRequest, *, with_as_of: bool = False) -> State:
    """The state of this request, read once and shared by its validator and body."""
    state = getattr(request, "_tracker_state", None)
    if state is None or (with_as_of and not state.with_as_of):
        state = current_state(with_as_of=with_as_of)
        request._tracker_state = state  # type: ignore[attr-defined]
    return state


def refresh_state(request: HttpRequest) -> bool:
    """Replace a remembered state by a fresh read; False when it was fresh already."""
    state = request_state(request)
    if not state.remembered:
        return False
    fresh = current_state(with_as_of=state.with_as_of, fresh=True)
    request._tracker_state = fresh  # type: ignore[attr-defined]
    return True


def make_etag(*parts: object, weak: bool = False) -> str:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=12).hexdigest()
    return f'{"W/" if weak else ""}"{digest}"'


def query_key(request: HttpRequest) -> str:
    """The query as it matters: every parameter, sorted, repeated values kept in order
    (the views refuse unknown parameters before this is made)."""
    params = request.GET
    return "&".join(f"{name}={value}" for name in sorted(params) for value in params.getlist(name))


def default_cache_control() -> str:
    return f"public, max-age={settings.API_MAX_AGE}, must-revalidate"


# Every read answers with these, 304s included (RFC 9110 section 15.4.5: a 304 sends
# the Vary its 200 would have). Accept: JSON or CSV; Accept-Encoding: gzip; Cookie: a
# session may change the caller (and so the rate-limit headers), named here whether or
# not the request's session was looked at (authentication.SessionAuthentication).
VARY = ("Accept", "Accept-Encoding", "Cookie")


def is_conditional(request: HttpRequest) -> bool:
    meta = request.META
    return any(
        name in meta
        for name in (
            "HTTP_IF_NONE_MATCH",
            "HTTP_IF_MODIFIED_SINCE",
            "HTTP_IF_MATCH",
            "HTTP_IF_UNMODIFIED_SINCE",
        )
    )


def _validators(etag: str, last_modified: dt.datetime, cache_control: str) -> HttpResponse:
    response = HttpResponse()
    response["ETag"] = etag
    response["Last-Modified"] = http_date(last_modified.timestamp())
    response["Cache-Control"] = cache_control
    patch_vary_headers(response, VARY)
    return response


@dataclass
class Answer:
    """What ``conditional_answer`` decided: ``response`` is a 304 (or a 412 to raise)
    when set; else send ``body`` with ``headers``."""

    headers: HttpResponse
    response: HttpResponse | None = None


class ConditionalMixin:
    """One road for every read: call ``conditional_answer`` once the request is valid.

    ``on_not_modified`` / ``on_modified`` are hooks (the rate limits charge a 304 to its
    own bucket)."""

    request: Any

    def on_not_modified(self) -> None:
        pass

    def on_modified(self) -> None:
        pass

    def conditional_answer(
        self,
        etag: Callable[[], str],
        *,
        cache_control: str | None = None,
        last_modified: bool = True,
    ) -> Answer:
        """``etag`` makes the ETag from ``request_state(request)``: it may be called
        twice (after a fresh read, see the module's docstring)."""
        request = self.request
        cache_control = cache_control or default_cache_control()
        answer = self._evaluate(request, etag(), cache_control, last_modified)
        if answer.response is None and is_conditional(request) and refresh_state(request):
            answer = self._evaluate(request, etag(), cache_control, last_modified)
        if answer.response is not None and answer.response.status_code == 304:
            _as_the_client_has_it(request, answer.response)
            self.on_not_modified()
        else:
            self.on_modified()
        return answer

    def _evaluate(self, request: Any, etag: str, cache_control: str, last_modified: bool) -> Answer:
        stamp = request_state(request).last_modified
        headers = _validators(etag, stamp, cache_control)
        if not last_modified:
            del headers["Last-Modified"]
        django_request = getattr(request, "_request", request)
        result = get_conditional_response(
            django_request,
            etag=etag,
            last_modified=int(stamp.timestamp()) if last_modified else None,
            response=headers,
        )
        return Answer(headers=headers, response=None if result is headers else result)


def _as_the_client_has_it(request: Any, response: HttpResponse) -> None:
    """A 304 sends the ETag its 200 had. Django's GZipMiddleware weakens the ETag of
    the bodies it compresses (never of a 304, which has none): when the client's copy
    is that weakened tag, the 304 says it back so."""
    tag = response["ETag"]
    sent = request.META.get("HTTP_IF_NONE_MATCH", "")
    if not tag.startswith("W/") and f"W/{tag}" in sent and tag not in sent.replace(f"W/{tag}", ""):
        response["ETag"] = f"W/{tag}"


_Body = TypeVar("_Body")


def cached_body(key: str, render: Callable[[], _Body], read: Callable[[str], Any]) -> _Body:
    """A rendered body from the shared cache, keyed by its ETag (which names one state
    of the data, so a stale body cannot be served); rendered and stored on a miss.
    ``read`` reads the cache: the rate limit's ``read_charged``, so that the request's
    charge rides on the same round trip. The cache being down costs a render, never an
    error (``cache.guarded``)."""
    key = f"tracker-api:body:{key}"
    body = read(key)
    if body is None:
        body = render()
        safe_cache.guarded(lambda c: c.set(key, body, settings.API_BODY_CACHE_SECONDS))
    return body
