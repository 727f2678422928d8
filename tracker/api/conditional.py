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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
import zoneinfo
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


_COUNTER_SQL = f"SELECT epoch, value, changed_at FROM {ChangeCounter._meta.db_table} WHERE id = 1"


def _read_counter() -> tuple[str, dt.datetime | None]:
    # Plain SQL: this runs on every read, 304s included, and the ORM would double its cost.
    with connection.cursor() as cursor:
        cursor.execute(_COUNTER_SQL)
        row = cursor.fetchone()
    if row is None:
        return "none:0", None
    return f"{row[0]}:{row[1]}", _aware(row[2])


_AS_OF_SQL = (
    f"SELECT evaluated_at FROM {SweepRun._meta.db_table} WHERE finished_at IS NOT NULL "
    "ORDER BY finished_at DESC LIMIT 1"
)


def last_sweep_at_fast() -> dt.datetime | None:
    """``tracker.selectors.last_sweep_at`` in plain SQL: it runs on every poll of
    /status/, 304s included, where the ORM's compilation would cost more than the
    query. tests/api/test_conditional.py holds the two together."""
    with connection.cursor() as cursor:
        cursor.execute(_AS_OF_SQL)
        row = cursor.fetchone()
    return _aware(row[0]) if row else None


def _aware(value: Any) -> dt.datetime | None:
    if isinstance(value, str):  # SQLite
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = value.replace(tzinfo=dt.UTC)
    return value


def current_state(now: dt.datetime | None = None) -> State:
    """One query (the counter row by primary key) in the steady state."""
    now = now or timezone.now()
    counter, changed_at = _read_counter()
    zones = _agreement_time_zones(counter)
    return State(
        now=now,
        counter=counter,
        changed_at=changed_at,
        local_dates=tuple((tz, deadlines.local_today(now, tz)) for tz in zones),
    )


def request_state(request: HttpRequest) -> State:
    """The state of this request, read once and shared by its validator and body."""
    state = getattr(request, "_tracker_state", None)
    if state is None:
        state = current_state()
        request._tracker_state = state  # type: ignore[attr-defined]
    return state


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


def conditional_body(
    request: HttpRequest,
    *,
    etag: str,
    last_modified: dt.datetime,
    render: Callable[[], bytes],
    cache_control: str | None = None,
    prefix: Callable[[], bytes] | None = None,
) -> HttpResponse:
    """A 304 when the client's copy still holds, else the body: from the cache when
    this ETag was rendered before, else rendered now and cached.

    ``prefix`` (optional) renders leading members that are kept out of the ETag and
    the cache (the status document's ``as_of``); the body is then a weakly equal
    variant, which is why every ETag here is weak.
    """
    cache_control = cache_control or default_cache_control()
    if not_modified(request, etag, last_modified):
        return cache_headers(HttpResponseNotModified(), etag, last_modified, cache_control)
    key = f"tracker-api:body:{_opaque(etag)}"
    body = cache.get(key)
    if body is None:
        body = render()
        cache.set(key, body, settings.API_BODY_CACHE_SECONDS)
    if prefix is not None:
        head = prefix()
        body = b"{" + head + (b"," + body[1:] if body != b"{}" else b"}")
    response = HttpResponse(body, content_type=JSON)
    return cache_headers(response, etag, last_modified, cache_control)
