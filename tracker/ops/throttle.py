"""The throttle of the public POST endpoints (email follow, unsubscribe): one rule.

A one-hour window per (scope, key), counted by the site's one rate counter
(``tracker.ops.ratelimit``). Keys are hashed (an email address is never a cache key in
clear). Who the client is comes from ``tracker.ops.client_ip`` (the API's rule). With
no shared cache (``CACHE_URL`` unset) each process counts on its own; a cache that
does not answer lets the request through (``ratelimit.guarded``): a throttle must not
take the site down with it.
"""

from __future__ import annotations

import contextlib
import hashlib
from email.errors import HeaderParseError
from email.headerregistry import Address

from django.http import HttpRequest

from . import ratelimit
from .client_ip import client_ip

WINDOW_SECONDS = 3600
RETRY_AFTER = str(WINDOW_SECONDS)  # the Retry-After of a 429: at most the window


def count(scope: str, key: str) -> int | None:
    """Counts one request for ``key`` this hour and says how many came; None when the
    cache does not answer."""
    digest = hashlib.sha256(f"{scope}:{key}".encode()).hexdigest()[:32]
    window = ratelimit.hit(f"throttle:{digest}", WINDOW_SECONDS)
    return None if window is None else window.count


def allowed(scope: str, key: str, limit: int) -> bool:
    """Counts one request for ``key``; False once more than ``limit`` came this hour."""
    counted = count(scope, key)
    return counted is None or counted <= limit


def mail_domain(domain: str) -> str:
    """A domain as mail goes to it: IDNA's reading, in lower case (ＢÜＣＨＥＲ.example
    and xn--bcher-kva.example are bücher.example). UnicodeError where IDNA cannot
    encode it (a label of 62 "ü")."""
    return domain.lower().encode("idna").decode("idna")


def mailbox(address: str) -> str:
    """The mailbox an address delivers to, as a limit must count it: the local part
    unquoted and unescaped (``"\\v\\ictim"@example.test`` is victim@example.test), lower
    case, without a ``+tag``; the domain as ``mail_domain`` reads it."""
    try:
        parsed = Address(addr_spec=address.strip())
        local, domain = parsed.username, parsed.domain
    except (HeaderParseError, ValueError, IndexError):
        local, _, domain = address.strip().rpartition("@")
    domain = domain.lower().rstrip(".")
    with contextlib.suppress(UnicodeError):  # else no mail goes there: counted as written
        domain = mail_domain(domain)
    return f"{local.lower().split('+', 1)[0]}@{domain}"


def client_allowed(request: HttpRequest, scope: str, limit: int) -> bool:
    return allowed(scope, f"client:{client_ip(request)}", limit)


def address_allowed(address: str, scope: str, limit: int) -> bool:
    return allowed(scope, f"address:{mailbox(address)}", limit)
