"""The client's address: one answer for every rate limit, lockout, audit and
consent record (DESIGN.md, "One client address").

Behind a load balancer or reverse proxy, REMOTE_ADDR is the proxy's address:
every patient would share one rate-limit bucket, and five wrong passwords
from anyone would lock the sign-in page for everyone behind it. The proxy
appends the address it received the request from to X-Forwarded-For; the
client may write anything to the left of it, never to the right. So the
client is the first address that is not a trusted proxy, reading REMOTE_ADDR
and then X-Forwarded-For from right to left. ``TRUSTED_PROXIES`` lists the
proxies' networks (CIDR); empty (the default), REMOTE_ADDR is the client and
X-Forwarded-For is ignored, since anyone can send it.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP address, or None when REMOTE_ADDR is not one (a unix
    socket, a misconfigured proxy): no proof, no crash.

    A trusted proxy that forwards a malformed X-Forwarded-For entry is taken
    as the client itself: its clients then share one limit, but no client can
    choose its address.
    """
    trusted = _networks(tuple(settings.TRUSTED_PROXIES))
    hop = _address(request.META.get("REMOTE_ADDR", ""))
    if hop is None:
        return None
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    while any(hop in network for network in trusted) and forwarded:
        previous = _address(forwarded.pop())
        if previous is None:
            break
        hop = previous
    return str(hop)
