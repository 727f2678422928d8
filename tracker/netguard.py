"""The private-address guard, in one place, for every request the tracker makes to an
address someone typed (webhook endpoints; watched sources and archived pages go through
the same check): loopback, private, link-local, reserved and multicast addresses are
refused unless allowed, and so is an IPv6 address that embeds one of them.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 prefixes whose last 32 bits are an IPv4 address the packet reaches in the end:
# IPv4-compatible (deprecated), NAT64 well-known and local-use (RFC 6052, RFC 8215).
_EMBEDDING_LAST_32 = [
    ipaddress.IPv6Network("::/96"),
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
]


class Refused(Exception):
    """The address may not be called, or is malformed; the message says why."""


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for (mapped, 6to4, Teredo, NAT64,
    IPv4-compatible); none for an IPv4 address or a plain IPv6 one."""
    if isinstance(address, ipaddress.IPv4Address):
        return []
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo is not None:
        found += list(address.teredo)
    if any(address in network for network in _EMBEDDING_LAST_32):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def is_public(address: IPAddress) -> bool:
    """Global unicast, and so is every IPv4 address it embeds."""
    return all(a.is_global and not a.is_multicast for a in [address, *embedded_ipv4(address)])


def vet(
    url: str, *, allow_private: bool, setting: str = "TRACKER_WEBHOOK_ALLOW_PRIVATE"
) -> tuple[str, str, int, str]:
    """(scheme, host, port, ip) for an http(s) ``url`` whose host resolves only to
    public addresses (any address if ``allow_private``); the caller connects to that
    ip, so that a second lookup cannot rebind the name. Raises Refused, naming the
    caller's ``setting`` that would allow the address."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise Refused(f"{url!r} is not a valid address: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"{url!r} is not an http(s) address")
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"cannot resolve {parts.hostname}: {exc}") from None
    ips = [str(info[4][0]) for info in infos]
    if not allow_private:
        for ip in ips:
            if not is_public(ipaddress.ip_address(ip.split("%", 1)[0])):
                raise Refused(
                    f"{parts.hostname} resolves to {ip}, a non-public address "
                    f"(set {setting}=true to allow it)"
                )
    return parts.scheme, parts.hostname, port, ips[0]
