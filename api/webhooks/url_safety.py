"""Where a webhook may go (SSRF): HTTPS to a host whose every address is
public, checked when a subscription is saved and again at each send, and the
connection then made to the very address that was checked (no second DNS
lookup that a rebinding DNS server could answer differently).

``settings.WEBHOOKS_ALLOW_PRIVATE`` (development, tests) lifts both rules:
plain http and private or loopback addresses are then accepted.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# NAT64 (RFC 6052): the last 32 bits are the IPv4 address reached.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class UnsafeUrlError(ValueError):
    """The URL may not receive webhooks; the message says why (no secrets in it)."""


@dataclass(frozen=True)
class Target:
    """A checked URL and the addresses it may be reached at, in DNS order."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo, NAT64)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_is_public(address: IPAddress) -> bool:
    """False for private, loopback, link-local, multicast, reserved, shared
    (CGNAT) and unspecified addresses, IPv4 and IPv6, including IPv4 addresses
    carried inside IPv6 ones."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None and not address_is_public(inner):
            return False
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _split(url: str) -> tuple[str, str, int]:
    allow_private = settings.WEBHOOKS_ALLOW_PRIVATE
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrlError("The URL cannot be read.") from exc
    allowed = {"https", "http"} if allow_private else {"https"}
    if parts.scheme not in allowed:
        raise UnsafeUrlError("The URL must use https.")
    if not parts.hostname:
        raise UnsafeUrlError("The URL has no host.")
    if parts.username or parts.password:
        raise UnsafeUrlError("The URL may not carry a user name or password.")
    if parts.fragment:
        raise UnsafeUrlError("The URL may not carry a fragment.")
    return (
        parts.hostname,
        port or (443 if parts.scheme == "https" else 80),
        parts.scheme,
    )


def _resolve(host: str, port: int) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrlError(f"The host {host} does not resolve.") from exc
    # Scope ids ("fe80::1%eth0") are dropped: such an address is refused anyway.
    addresses = dict.fromkeys(info[4][0].split("%")[0] for info in infos)
    return tuple(addresses)


def url_check(url: str, *, resolve: bool = True) -> Target:
    """Check ``url`` for webhooks and return where to connect.

    Raises UnsafeUrlError when the scheme is not https, the host does not resolve,
    or any of its addresses is not public (unless WEBHOOKS_ALLOW_PRIVATE).
    A host is refused if even one of its addresses is private, so a DNS
    answer mixing public and private addresses cannot be used to reach in.
    ``resolve=False`` skips the lookup when private addresses are allowed
    (development: the receiver's name may not resolve yet).
    """
    host, port, scheme = _split(url)
    allow_private = settings.WEBHOOKS_ALLOW_PRIVATE
    if not resolve and allow_private:
        return Target(url, scheme, host, port, ())
    addresses = _resolve(host, port)
    if not allow_private:
        for text in addresses:
            if not address_is_public(ipaddress.ip_address(text)):
                raise UnsafeUrlError(
                    f"The host {host} resolves to {text}, which is not a public "
                    "address."
                )
    return Target(url, scheme, host, port, addresses)
