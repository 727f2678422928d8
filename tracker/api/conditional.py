"""Cheap polling: validators, 304s and a body cache keyed by the validator.

The validator of every read is computed *before* the body, from one indexed read of
the change counter (``tracker.api.models.ChangeCounter``, kept by database triggers):

    ETag = hash(view, path, the query's known parameters, counter epoch and value,
                the local date in every agreement's time zone)

- The counter grows with every committed write to anything the API shows, whatever
  the write path, and becomes visible in the same commit as the write. So the ETag
  changes whenever something shown changes. It may also change when something else
  in the tracker changed: a spurious change costs a client one 200, never a stale 304.
- What is derived from time alone (``is_overdue``, ``days_remaining``, the overdue
  counts, the next deadline) changes only at midnight in an agreement's time zone (a
  milestone is overdue from the start of the day after its due date there), so the
  local dates cover it.
- Every caller sees the same representation (reads are public), so the validator does
  not vary with the caller.

Reading the counter first and the data after means a body is never older than its
ETag: a write that lands in between makes the body newer, and the next poll sees a new
ETag anyway. That is also why a body may be cached under its ETag.

Each process remembers the last counter it read for ``API_VALIDATOR_TTL_MS`` (default
1000 ms; 0 reads it on every request), so most polls cost no database round trip: a
change is then seen at most that much later (well inside one sweep interval). The
remembered value is only ever older than the database, so the rule above still holds.
A conditional request whose condition fails against a remembered value is checked
again against a fresh read before any body is sent: a poller that got a newer ETag from
another worker never gets an older body back (it gets its 304).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
import time
import zoneinfo
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import http_date, parse_http_date_safe

from commitments import deadlines
from commitments.models import Agreement
from tracker.models import SweepRun

from .models import ChangeCounter

JSON = "application/json"


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
_STATE_SQL = (
    "SELECT c.epoch, c.value, c.changed_at{as_of} FROM (SELECT 1 AS one) AS one "
    f"LEFT JOIN {_COUNTER} c ON c.id = 1"
)


def _read(with_as_of: bool) -> tuple[str, dt.datetime | None, dt.datetime | None]:
    """The counter (and as_of), in one round trip of plain SQL: this runs on every
    read, 304s included, and the ORM would double its cost."""
    sql = _STATE_SQL.format(as_of=f", ({_AS_OF})" if with_as_of else "")
    with connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    counter = f"{row[0]}:{row[1]}" if row[0] is not None else "none:0"
    return counter, _aware(row[2]), _aware(row[3]) if with_as_of else None


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
    if state is None:
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


def make_etag(*parts: object) -> str:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=12).hexdigest()
    return f'W/"{digest}"'


def query_key(request: HttpRequest, known: Iterable[str]) -> str:
    """The query as it matters: known parameters only, sorted, repeated values kept in
    order. ``?_=123`` cache-busters share the ETag of the plain URL."""
    params = request.GET
    return "&".join(
        f"{name}={value}" for name in sorted(set(known)) for value in params.getlist(name)
    )


_TAG = re.compile(r'\s*((?:W/)?"[^"]*")\s*(?:,|$)')


def parse_etags(header: str) -> list[str]:
    """The entity tags of an If-None-Match or If-Match header ("*" kept as is)."""
    if header.strip() == "*":
        return ["*"]
    return [m.group(1) for m in _TAG.finditer(header)]


def _opaque(tag: str) -> str:
    return tag.removeprefix("W/")


def none_match(request: HttpRequest, etag: str) -> bool | None:
    """True when If-None-Match holds (a 304 is due), None when there is no header.
    Weak comparison, as RFC 9110 prescribes for If-None-Match."""
    header = request.headers.get("If-None-Match")
    if header is None:
        return None
    tags = parse_etags(header)
    return "*" in tags or _opaque(etag) in {_opaque(t) for t in tags}


def not_modified(request: HttpRequest, etag: str, last_modified: dt.datetime) -> bool:
    """If-None-Match decides when present; If-Modified-Since only without it."""
    matched = none_match(request, etag)
    if matched is not None:
        return matched
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    return since is not None and int(last_modified.timestamp()) <= since


def cache_headers(
    response: HttpResponse, etag: str, last_modified: dt.datetime, cache_control: str
) -> HttpResponse:
    response["ETag"] = etag
    response["Last-Modified"] = http_date(last_modified.timestamp())
    response["Cache-Control"] = cache_control
    return response


def default_cache_control() -> str:
    return f"public, max-age={settings.API_MAX_AGE}, must-revalidate"


class _Bodies:
    """The hottest rendered bodies, in this process, in front of the shared cache: safe
    because a key is an ETag, which names one state of the data."""

    def __init__(self, max_bytes: int = 16 * 1024 * 1024) -> None:
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size, self._max = 0, max_bytes
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def put(self, key: str, body: bytes) -> None:
        with self._lock:
            if key in self._items or len(body) > self._max // 4:
                return
            self._items[key] = body
            self._size += len(body)
            while self._size > self._max:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)


_bodies = _Bodies()


def is_conditional(request: HttpRequest) -> bool:
    return "HTTP_IF_NONE_MATCH" in request.META or "HTTP_IF_MODIFIED_SINCE" in request.META


def conditional_body(
    request: HttpRequest,
    *,
    etag: Callable[[], str],
    render: Callable[[], bytes],
    cache_control: str | None = None,
    prefix: Callable[[], bytes] | None = None,
) -> HttpResponse:
    """A 304 when the client's copy still holds, else the body: from the cache when
    this ETag was rendered before, else rendered now and cached.

    ``etag`` makes the ETag from ``request_state(request)``: a condition that fails
    against a remembered state is checked again after a fresh read (see the module's
    docstring), so ``etag`` may be called twice.

    ``prefix`` (optional) renders leading members that are kept out of the ETag and
    the cache (the status document's ``as_of``); the body is then a weakly equal
    variant, which is why every ETag here is weak.
    """
    cache_control = cache_control or default_cache_control()
    tag, last_modified = etag(), request_state(request).last_modified
    if not_modified(request, tag, last_modified):
        return cache_headers(HttpResponseNotModified(), tag, last_modified, cache_control)
    if is_conditional(request) and refresh_state(request):
        tag, last_modified = etag(), request_state(request).last_modified
        if not_modified(request, tag, last_modified):
            return cache_headers(HttpResponseNotModified(), tag, last_modified, cache_control)
    key = _body_key(tag)
    body = _bodies.get(key)
    if body is None:
        body = cache.get(key)
        if body is None:
            body = render()
            cache.set(key, body, settings.API_BODY_CACHE_SECONDS)
        _bodies.put(key, body)
    return body_response(body, tag, last_modified, cache_control, prefix)


def _body_key(etag: str) -> str:
    return f"tracker-api:body:{_opaque(etag)}"


def remembered_body(etag: str) -> bytes | None:
    """The body rendered for this ETag, if this process has it in memory."""
    return _bodies.get(_body_key(etag))


def body_response(
    body: bytes,
    etag: str,
    last_modified: dt.datetime,
    cache_control: str,
    prefix: Callable[[], bytes] | None = None,
) -> HttpResponse:
    if prefix is not None:
        head = prefix()
        body = b"{" + head + (b"," + body[1:] if body != b"{}" else b"}")
    response = HttpResponse(body, content_type=JSON)
    return cache_headers(response, etag, last_modified, cache_control)
