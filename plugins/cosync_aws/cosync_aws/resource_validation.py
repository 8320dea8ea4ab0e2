"""Seed 002 "Security considerations" for partner resources: what ``POST /resources/upload`` refuses, no I/O.

The URL is checked as written, never fetched nor resolved (cosync reaches no host a caller names): ``https``
only, no user or password in it, no credential-looking query parameter, and no host that is obviously private
(loopback, private, link-local or reserved literal IPs in any spelling ``ipaddress`` reads, ``localhost`` and
the internal suffixes). A name that resolves to a private address is not caught here: DNS is not consulted.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

__all__ = ["RESOURCE_TYPES", "Refusal", "check_resource", "file_type"]

# The seed's nine "Resource Types Supported".
RESOURCE_TYPES = (
    "Case Study",
    "Whitepaper",
    "Solution Brief",
    "Reference Architecture",
    "Technical Documentation",
    "Presentation",
    "Video",
    "Training Material",
    "Custom",
)
_ALIASES = {"JPEG": "JPG"}
_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".intranet", ".lan")
_PRIVATE_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", "metadata"}
# Query parameters that carry a secret (signed URLs, API keys): a resource link is shown on a deal to everyone.
_SECRET_PARAMS = {
    "password",
    "passwd",
    "pwd",
    "token",
    "access_token",
    "api_key",
    "apikey",
    "key",
    "secret",
    "signature",
    "sig",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "x-goog-signature",
    "x-goog-credential",
}


@dataclass(frozen=True)
class Refusal(Exception):
    """The rule a resource breaks: ``field`` of the body, ``rule`` its name, ``message`` for the caller."""

    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message} (rule: {self.rule})"


def _literal_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    # The spellings inet_aton (and so browsers and resolvers) accept for IPv4: 1-4 parts, each decimal, 0x hex
    # or 0-led octal, the last one filling the remaining bytes (``2130706433``, ``0x7f.1``, ``0177.0.0.1``).
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        base = 16 if part[:2].lower() == "0x" else 8 if len(part) > 1 and part[0] == "0" else 10
        digits = part[2:] if base == 16 else part
        try:
            numbers.append(int(digits, base))
        except ValueError:
            return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    value = 0
    for n in head:
        value = value << 8 | n
    return ipaddress.IPv4Address(value << (8 * (4 - len(head))) | last)


def _private_host(host: str) -> bool:
    name = host.rstrip(".").lower()
    if name in _PRIVATE_NAMES or name.endswith(_PRIVATE_SUFFIXES) or "." not in name.strip("[]"):
        return True  # a single label is an intranet name
    ip = _literal_ip(name.strip("[]"))
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def file_type(url: str) -> str:
    """The file type a URL's path ends in (``PDF``), or "" when the last segment has no extension."""
    last = urlsplit(url).path.rsplit("/", 1)[-1]
    ext = last.rsplit(".", 1)[-1].upper() if "." in last else ""
    return _ALIASES.get(ext, ext)


def check_resource(
    resource_type: str,
    url: str,
    size_bytes: int | None,
    allowed_file_types: list[str],
    max_bytes: int,
) -> str:
    """Raises :class:`Refusal` naming the first rule broken; returns the file type."""
    if resource_type not in RESOURCE_TYPES:
        raise Refusal("resourceType", "resource-type", f"must be one of {', '.join(RESOURCE_TYPES)}")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        raise Refusal("url", "url-syntax", "is not a valid URL") from None
    if parts.scheme.lower() != "https":
        raise Refusal("url", "https-only", "must be an https:// URL")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise Refusal("url", "no-credentials", "must not carry a user name or password")
    if any(k.lower() in _SECRET_PARAMS for k, _ in parse_qsl(parts.query, keep_blank_values=True)):
        raise Refusal("url", "no-credentials", "must not carry a token, key or signature in its query")
    if not host or _private_host(host):
        raise Refusal(
            "url", "public-host", "must name a public host (no localhost, private or loopback address)"
        )
    kind = file_type(url)
    allowed = {_ALIASES.get(t.upper(), t.upper()) for t in allowed_file_types}
    if kind not in allowed:
        raise Refusal("url", "file-type", f"must end in an allowed file type ({', '.join(sorted(allowed))})")
    if size_bytes is not None and size_bytes > max_bytes:
        raise Refusal("sizeBytes", "max-size", f"must be at most {max_bytes} bytes")
    return kind
