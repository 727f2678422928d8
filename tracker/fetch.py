"""One guarded HTTP client for every GET the tracker makes to an address someone typed
(watched sources, archived pages, link checks). ``fetch(url)`` never raises for the
remote side's faults; its :class:`FetchResult`'s ``outcome`` says what happened.

- **No private targets.** Every hop (the first request and each redirect, followed by
  hand, at most ``MAX_REDIRECTS``) passes ``tracker.netguard.vet`` (unless
  ``TRACKER_FETCH_ALLOW_PRIVATE``), and the connection goes to the vetted address: the
  URL names the IP, the ``Host`` header and the TLS server name (httpx's
  ``sni_hostname`` request extension) name the host, so a second DNS answer cannot
  rebind the name.
- **Bounded time and size.** Connect and read timeouts, an overall deadline checked
  between reads, and a size limit on the *decoded* body: gzip and deflate are decoded
  here with ``max_length``, so a gzip bomb stops at the limit instead of filling memory.
- **Manners.** A User-Agent naming the service; robots.txt obeyed; one request at a
  time per host (a lock in the default cache, so across processes when it is Redis);
  after a failure the host is left alone for a growing while, and a 429's or 503's
  ``Retry-After`` is honoured (``outcome == "backoff"`` until then).
- **Conditional GET.** Pass the last answer's ``etag`` and ``last_modified``; a 304 is
  ``outcome == "not_modified"`` with an empty body.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import httpx
from django.conf import settings
from django.core.cache import cache

from . import netguard

MAX_REDIRECTS = 5
REDIRECTS = {301, 302, 303, 307, 308}
CHUNK = 64 * 1024
# "busy" and "backoff" are the host's rules, not the address's fault: callers ask again
# soon (after its Retry-After, if it gave one), without counting a failure.
NOT_TRIED = ("busy", "backoff")
NOT_TRIED_WAIT = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Limits:
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_seconds: float = 60.0
    max_bytes: int = 5 * 1024 * 1024
    allow_private: bool = False
    robots_seconds: int = 3600
    lock_seconds: int = 120
    backoff_base: int = 60
    backoff_max: int = 6 * 3600
    retry_after_max: int = 24 * 3600

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            connect_timeout=settings.TRACKER_FETCH_CONNECT_TIMEOUT,
            read_timeout=settings.TRACKER_FETCH_READ_TIMEOUT,
            total_seconds=settings.TRACKER_FETCH_TOTAL_SECONDS,
            max_bytes=settings.TRACKER_FETCH_MAX_BYTES,
            allow_private=settings.TRACKER_FETCH_ALLOW_PRIVATE,
            robots_seconds=settings.TRACKER_FETCH_ROBOTS_SECONDS,
            backoff_base=settings.TRACKER_FETCH_BACKOFF_SECONDS,
            backoff_max=settings.TRACKER_FETCH_BACKOFF_MAX_SECONDS,
        )


# What happened, in one word (a label of /metrics' fetch counter).
OUTCOMES = (
    "ok",  # 2xx, body read whole
    "not_modified",  # 304 to a conditional GET
    "http_error",  # any other status (4xx, 5xx, a redirect loop or too many)
    "refused",  # the private-address guard, or not an http(s) address
    "robots",  # robots.txt disallows it
    "too_large",  # the decoded body passed max_bytes
    "timeout",  # connect, read or the overall deadline
    "network_error",  # DNS, connection refused, TLS, a malformed answer
    "backoff",  # the host failed or asked us to wait (Retry-After); not tried now
    "busy",  # another request to this host is under way; not tried now
)


@dataclass
class FetchResult:
    url: str
    outcome: str
    status: int | None = None
    final_url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""
    error: str = ""
    retry_after: float | None = None  # seconds, when the host asked us to wait

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for part in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = part.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                return value.strip().strip('"')
        return None


class _Stop(Exception):
    """Ends a fetch with an outcome (raised inside, turned into a FetchResult)."""

    def __init__(self, outcome: str, error: str, status: int | None = None) -> None:
        super().__init__(error)
        self.outcome, self.error, self.status = outcome, error, status


def user_agent() -> str:
    return f"commitment-tracker/1.0 (+{settings.SITE_URL})"


def host_key(url: str) -> str:
    parts = urlsplit(url)
    try:
        port = parts.port or ""
    except ValueError:  # out of range (Django's URLValidator lets 99999 by): the guard refuses it
        port = ""
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def fetch(
    url: str,
    *,
    etag: str = "",
    last_modified: str = "",
    limits: Limits | None = None,
    check_robots: bool = True,
) -> FetchResult:
    limits = limits or Limits.from_settings()
    host = host_key(url)
    wait = _host_wait(host)
    if wait > 0:
        return FetchResult(
            url, "backoff", error=f"host backing off for {wait:.0f} s more", retry_after=wait
        )
    with _host_lock(host, limits) as held:
        if not held:
            return FetchResult(url, "busy", error="another request to this host is under way")
        result = _fetch_following(url, etag, last_modified, limits, check_robots)
    _after(host, result, limits)
    return result


def _fetch_following(
    url: str, etag: str, last_modified: str, limits: Limits, check_robots: bool
) -> FetchResult:
    deadline = time.monotonic() + limits.total_seconds
    current = url
    try:
        with httpx.Client(
            timeout=httpx.Timeout(
                limits.read_timeout, connect=limits.connect_timeout, pool=limits.connect_timeout
            ),
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: we pick the address
        ) as client:
            for _hop in range(MAX_REDIRECTS + 1):
                try:
                    vetted = netguard.vet(
                        current,
                        allow_private=limits.allow_private,
                        setting="TRACKER_FETCH_ALLOW_PRIVATE",
                    )
                except netguard.Refused as exc:
                    raise _Stop("refused", f"refused: {exc}") from None
                if check_robots and not robots_allow(current, limits):
                    raise _Stop("robots", f"robots.txt of {urlsplit(current).hostname} disallows")
                result = _one_hop(
                    client, url, current, vetted, etag, last_modified, deadline, limits
                )
                location = result.headers.get("location", "")
                if result.status in REDIRECTS and location:
                    current = urljoin(current, location)
                    continue
                return result
            raise _Stop("http_error", f"more than {MAX_REDIRECTS} redirects")
    except _Stop as stop:
        return FetchResult(url, stop.outcome, stop.status, current, error=stop.error)


def _one_hop(
    client: httpx.Client,
    url: str,
    current: str,
    vetted: tuple[str, str, int, str],
    etag: str,
    last_modified: str,
    deadline: float,
    limits: Limits,
) -> FetchResult:
    _, hostname, _, ip = vetted
    target = httpx.URL(current)
    headers = {
        "user-agent": user_agent(),
        "accept-encoding": "gzip, deflate",
        "host": target.netloc.decode("ascii"),
    }
    # A validator a server sent us beyond ASCII cannot be sent back as it came (httpx
    # sends ASCII); such a source is asked in full instead.
    if etag and etag.isascii():
        headers["if-none-match"] = etag
    if last_modified and last_modified.isascii():
        headers["if-modified-since"] = last_modified
    request = client.build_request(
        "GET",
        # The vetted address, the port kept (credentials and fragment are not sent).
        target.copy_with(host=ip.split("%", 1)[0], userinfo=b"", fragment=None),
        headers=headers,
        extensions={"sni_hostname": hostname},
    )
    try:
        response = client.send(request, stream=True)
        try:
            body = (
                b""
                if response.status_code in REDIRECTS | {304}
                else _read(response, limits, deadline)
            )
        finally:
            response.close()
    except httpx.TimeoutException as exc:
        raise _Stop("timeout", f"timed out: {type(exc).__name__}") from None
    except httpx.HTTPError as exc:
        raise _Stop("network_error", f"{type(exc).__name__}: {exc}") from None
    return _result(url, current, response, body)


def _result(url: str, current: str, response: httpx.Response, body: bytes) -> FetchResult:
    status = response.status_code
    headers = {k.lower(): v for k, v in response.headers.items()}
    result = FetchResult(
        url,
        "ok",
        status,
        current,
        headers,
        body,
        etag=headers.get("etag", ""),
        last_modified=headers.get("last-modified", ""),
    )
    if status == 304:
        result.outcome = "not_modified"
    elif status in REDIRECTS:
        result.outcome = "http_error"
        result.error = f"HTTP {status} without a Location"
    elif not 200 <= status < 300:
        result.outcome, result.error = "http_error", f"HTTP {status}"
        result.retry_after = parse_retry_after(headers.get("retry-after", ""))
    return result


def _read(response: httpx.Response, limits: Limits, deadline: float) -> bytes:
    """The decoded body, stopping as soon as it passes ``max_bytes`` or the deadline."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    decoder = _decoder(encoding)
    out = bytearray()
    for chunk in response.iter_raw(CHUNK):
        if time.monotonic() > deadline:
            raise _Stop("timeout", f"not read whole within {limits.total_seconds:.0f} s")
        data = chunk
        while data:
            room = limits.max_bytes - len(out) + 1
            if decoder is None:
                piece, data = data[:room], b""
            else:
                piece = decoder.decompress(data, room)
                data = decoder.unconsumed_tail
            out += piece
            if len(out) > limits.max_bytes:
                raise _Stop("too_large", f"body larger than {limits.max_bytes} bytes (decoded)")
            if decoder is not None and not piece:
                break
    return bytes(out)


def _decoder(encoding: str) -> Any:
    """A zlib decompressor for the body's Content-Encoding (None for identity); we
    advertise only gzip and deflate, and refuse anything else rather than guess."""
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    raise _Stop("network_error", f"unsupported Content-Encoding {encoding!r}")


def parse_retry_after(value: str, now: float | None = None) -> float | None:
    """Seconds to wait, from a Retry-After of seconds or an HTTP date; None if absent."""
    value = value.strip()
    if not value:
        return None
    if value.isdecimal():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# --- Per-host state, in the default cache -------------------------------------------


def _host_wait(host: str) -> float:
    not_before = cache.get(f"fetch:not-before:{host}")
    return max(0.0, float(not_before) - time.time()) if not_before else 0.0


@contextmanager
def _host_lock(host: str, limits: Limits) -> Iterator[bool]:
    """One request at a time per host. The lock expires by itself (a worker killed
    mid-request does not hold it for ever); ``cache.add`` is atomic in Redis and in
    the local-memory cache alike."""
    key, token = f"fetch:lock:{host}", uuid.uuid4().hex
    held = cache.add(key, token, timeout=limits.lock_seconds)
    try:
        yield held
    finally:
        if held and cache.get(key) == token:
            cache.delete(key)


def _after(host: str, result: FetchResult, limits: Limits) -> None:
    """Success clears the host's failure count; a failure, or a 429/503, sets when it
    may next be asked: Retry-After if it said (capped), else a doubling backoff."""
    failures_key, not_before_key = f"fetch:failures:{host}", f"fetch:not-before:{host}"
    if result.outcome in ("ok", "not_modified", "robots"):
        cache.delete_many([failures_key, not_before_key])
        return
    if result.outcome == "refused":
        return  # our own refusal: the host did nothing wrong
    failures = int(cache.get(failures_key) or 0) + 1
    cache.set(failures_key, failures, timeout=limits.backoff_max * 2)
    wait = float(min(limits.backoff_max, limits.backoff_base * 2 ** (failures - 1)))
    if result.retry_after is not None and result.status in (429, 503):
        wait = min(float(limits.retry_after_max), max(wait, result.retry_after))
    cache.set(not_before_key, time.time() + wait, timeout=int(wait) + 1)


# --- robots.txt --------------------------------------------------------------------


def robots_allow(url: str, limits: Limits) -> bool:
    """Whether robots.txt lets our User-Agent fetch ``url``. Per RFC 9309: a robots.txt
    that is missing (4xx) allows everything; one that cannot be read (5xx, network)
    disallows everything for now. The verdict's source is cached per host."""
    host = host_key(url)
    key = f"fetch:robots:{host}"
    lines: list[str] | None = cache.get(key)
    if lines is None:
        lines = _robots_lines(url, limits)
        cache.set(key, lines, timeout=limits.robots_seconds)
    parser = RobotFileParser()
    parser.parse(lines)
    return parser.can_fetch(user_agent(), url)


def _robots_lines(url: str, limits: Limits) -> list[str]:
    parts = urlsplit(url)
    robots_url = urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))
    small = dataclasses.replace(limits, max_bytes=512 * 1024)
    result = _fetch_following(robots_url, "", "", small, check_robots=False)
    if result.ok:
        return result.body.decode("utf-8", "replace").splitlines()
    if result.status is not None and 400 <= result.status < 500:
        return []
    return ["User-agent: *", "Disallow: /"]
