"""Which client address a request counts against (for the login limits): the socket peer, not a header.

`X-Forwarded-For` is whatever the client wrote. It is believed only from a peer listed in `[api]
trusted_proxies` (default: none): then the client is the right-most address in it that is not itself a
trusted proxy, as a proxy appends the address it saw.

uvicorn also rewrites the peer from `X-Forwarded-For` on its own when the peer is loopback (its default
`forwarded_allow_ips`), before the application sees the request. With no trusted proxy configured, a peer
that appears among the header's own addresses is therefore one the header chose, not the socket's: such
requests are all counted as one client, `UNVERIFIED_FORWARDED`, so a header can neither buy an attacker a
fresh address per attempt nor aim a lockout at someone else's.
"""

import ipaddress
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only a type here: `[api]` settings import this module, and loading a config stays light
    from starlette.requests import Request

UNVERIFIED_FORWARDED = "forwarded-unverified"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR networks (`10.0.0.1`, `10.0.0.0/24`, `::1`); raises ValueError naming a bad one."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False  # not an address (a unix socket, TestClient's "testclient"): never a proxy
    return any(ip in network for network in trusted)


def _hops(request: "Request") -> list[str]:
    return [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",") if hop]


def resolve_client(peer: str, hops: Sequence[str], trusted: Sequence[Network]) -> str:
    """The address to count: `peer` (the socket's), or from `hops` (X-Forwarded-For, left to right) when `peer`
    is a trusted proxy."""
    hops = [hop for hop in (h.strip() for h in hops) if hop]
    if trusted and _trusted(peer, trusted):
        for hop in reversed(hops):
            if not _trusted(hop, trusted):
                return hop
        return hops[0] if hops else peer
    if not trusted and peer in hops:
        return UNVERIFIED_FORWARDED
    return peer


def client_address(request: "Request", trusted: Sequence[Network]) -> str:
    """`resolve_client` for a request."""
    peer = request.client.host if request.client else "?"
    return resolve_client(peer, _hops(request), trusted)
