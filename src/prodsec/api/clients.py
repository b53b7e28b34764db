"""Who the client is, for the login limiter: the TCP peer, or — only when that peer is a
trusted proxy — the address the proxies recorded in ``X-Forwarded-For``.

Behind a reverse proxy every request comes from the proxy's address, so a limiter keyed on the
peer puts every user in one bucket (one stranger's guesses refuse everyone). Believing
``X-Forwarded-For`` from anyone would let a guesser pick a fresh address per request. So the
header is read only when the peer is in ``Settings.trusted_proxies``, from the right: the
first address that is not itself a trusted proxy is the client (the ones to its left were
written by the client and prove nothing). IPv6 clients are keyed by their /64, which one
subscriber usually holds whole.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import cache
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """Parse the trusted-proxy list; ValueError names the entry that is not an address."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"trusted proxy {entry.strip()!r}: expected an IP address or a "
                             "CIDR network such as 10.0.0.0/8") from None
    return tuple(networks)


def parse_trusted_proxies(value: str) -> tuple[str, ...]:
    """``PRODSEC_TRUSTED_PROXIES``: addresses or networks separated by commas or spaces."""
    entries = tuple(part for part in value.replace(",", " ").split() if part)
    trusted_networks(entries)  # refuse a bad entry at start-up, not at the first login
    return entries


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(address: Any, networks: Iterable[Network]) -> bool:
    return any(address in network for network in networks)


def client_address(peer: str | None, forwarded_for: str | None,
                   trusted: tuple[str, ...] = ()) -> str:
    """The client's address as the limiter keys it (an IPv6 client as its /64)."""
    networks = trusted_networks(trusted)
    client = _address(peer or "")
    if client is not None and forwarded_for and _trusted(client, networks):
        for hop in reversed(forwarded_for.split(",")):
            address = _address(hop)
            if address is None:
                break  # garbage from the client side: keep the last proxy-written address
            client = address
            if not _trusted(address, networks):
                break
    if client is None:
        return peer or "unknown"
    if isinstance(client, ipaddress.IPv6Address):
        if client.ipv4_mapped is not None:
            return str(client.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{client}/64", strict=False))
    return str(client)


def request_client(request: Any, trusted: tuple[str, ...] = ()) -> str:
    """``client_address`` of a Starlette request.

    Every ``X-Forwarded-For`` field line counts, joined in order (RFC 9110 §5.3: repeated lines
    equal one comma-joined line). Reading only the first would let a client's own line win over
    the one a proxy appended (HAProxy's ``option forwardfor`` adds a line instead of merging).
    """
    peer = request.client.host if request.client else None
    lines = request.headers.getlist("x-forwarded-for")
    return client_address(peer, ",".join(lines) if lines else None, trusted)
