"""The URI HubSpot called, reconstructed behind reverse proxies that we trust (and only those).

``X-Forwarded-Proto``/``X-Forwarded-Host`` are honoured only when the TCP peer is listed in
``relay.trusted_proxies``; from anyone else they are ignored, since a client could otherwise make the relay
check a signature against a URI of the client's choosing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from aiohttp import web

__all__ = ["TrustedProxies", "external_uri"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """A set of IPs/CIDRs; ``ValueError`` names an entry that is neither."""

    def __init__(self, entries: Iterable[str]) -> None:
        networks: list[_Network] = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ValueError(f"relay.trusted_proxies: {entry!r} is not an IP address or CIDR") from None
        self.networks = tuple(networks)

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str) or not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        return any(ip in net for net in self.networks)


def _last(value: str | None) -> str | None:
    # Proxies append to these lists; the right-most entry is the one our trusted peer wrote.
    if not value:
        return None
    last = value.split(",")[-1].strip()
    return last or None


def external_uri(request: web.Request, proxies: TrustedProxies, public_url: str | None = None) -> str:
    """``scheme://host/path?query`` as the sender addressed it.

    ``public_url`` (``relay.public_url``), when set, is authoritative for scheme, host and any path prefix a
    gateway strips (e.g. an API Gateway stage ``/production``).
    """
    path_qs = request.raw_path
    if public_url:
        base = urlsplit(public_url)
        prefix = base.path.rstrip("/")
        if prefix and not path_qs.startswith(prefix + "/"):
            path_qs = prefix + path_qs
        return f"{base.scheme}://{base.netloc}{path_qs}"
    scheme = request.scheme
    host = request.host
    if request.remote in proxies:
        scheme = _last(request.headers.get("X-Forwarded-Proto")) or scheme
        host = _last(request.headers.get("X-Forwarded-Host")) or host
    return f"{scheme}://{host}{path_qs}"
