"""HubSpot request signatures (v3, and the legacy v1/v2), checked in constant time.

Algorithm: https://developers.hubspot.com/docs/api/webhooks/validating-requests
* v3: ``base64(HMAC-SHA256(client_secret, method + uri + body + timestamp))`` in ``X-HubSpot-Signature-v3``,
  with ``X-HubSpot-Request-Timestamp`` (epoch ms); requests older than 5 minutes must be refused.
* v1: ``hex(SHA-256(client_secret + body))``; v2: ``hex(SHA-256(client_secret + method + uri + body))`` in
  ``X-HubSpot-Signature`` with ``X-HubSpot-Signature-Version``. Neither carries a timestamp, so a captured
  request can be replayed forever: they are accepted only when ``relay.legacy_signatures`` is on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

__all__ = [
    "SignatureError",
    "decode_uri_for_v3",
    "sign_v1",
    "sign_v2",
    "sign_v3",
    "verify_hubspot_signature",
]

V3_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
LEGACY_HEADER = "X-HubSpot-Signature"
VERSION_HEADER = "X-HubSpot-Signature-Version"

# HubSpot signs the URI with these escapes decoded (the documented table); all other escapes stay as sent.
_V3_DECODE = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


class SignatureError(Exception):
    """A request whose signature cannot be accepted; ``reason`` is a short metric label, never a secret."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def decode_uri_for_v3(uri: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(uri):
        chunk = uri[i : i + 3]
        if chunk[:1] == "%" and chunk.upper() in _V3_DECODE:
            out.append(_V3_DECODE[chunk.upper()])
            i += 3
        else:
            out.append(uri[i])
            i += 1
    return "".join(out)


def _bytes(text: str) -> bytes:
    # aiohttp decodes the request line and headers as UTF-8 with surrogateescape; this gives back the bytes
    # sent (a plain encode() would raise on them, a 500 instead of a mismatch).
    return text.encode("utf-8", "surrogateescape")


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = _bytes(method.upper()) + _bytes(decode_uri_for_v3(uri)) + body + _bytes(timestamp)
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sign_v1(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + body).hexdigest()


def sign_v2(secret: str, method: str, uri: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + _bytes(method.upper()) + _bytes(uri) + body).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # aiohttp's CIMultiDict is case-insensitive; a plain dict (tests, other callers) may not be.
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def verify_hubspot_signature(
    *,
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    headers: Mapping[str, str],
    now: float,
    max_age_seconds: float,
    allow_legacy: bool,
) -> str:
    """Return the signature version accepted (``"v3"``, ``"v2"``, ``"v1"``) or raise :class:`SignatureError`."""
    v3 = _header(headers, V3_HEADER)
    if v3 is not None:
        raw_ts = _header(headers, TIMESTAMP_HEADER)
        if raw_ts is None:
            raise SignatureError(
                "missing_timestamp", f"{TIMESTAMP_HEADER} header is required with {V3_HEADER}"
            )
        try:
            ts_ms = int(raw_ts.strip())
            age = now - ts_ms / 1000
        except (ValueError, OverflowError):
            raise SignatureError("bad_timestamp", f"{TIMESTAMP_HEADER} must be epoch milliseconds") from None
        # A timestamp far in the future would otherwise stay replayable for as long as it is "young".
        if age > max_age_seconds or age < -max_age_seconds:
            raise SignatureError(
                "stale_timestamp", f"{TIMESTAMP_HEADER} is more than {max_age_seconds:g} seconds from now"
            )
        expected = sign_v3(secret, method, uri, body, raw_ts.strip())
        if not hmac.compare_digest(expected.encode(), _bytes(v3.strip())):
            raise SignatureError("mismatch", f"{V3_HEADER} does not match the request")
        return "v3"
    legacy = _header(headers, LEGACY_HEADER)
    if legacy is None:
        raise SignatureError("missing_signature", f"{V3_HEADER} header is required")
    if not allow_legacy:
        raise SignatureError("legacy_disabled", f"{LEGACY_HEADER} (v1/v2) is not accepted; send {V3_HEADER}")
    version = (_header(headers, VERSION_HEADER) or "v1").strip().lower()
    if version == "v1":
        expected = sign_v1(secret, body)
    elif version == "v2":
        expected = sign_v2(secret, method, uri, body)
    else:
        raise SignatureError("bad_version", f"{VERSION_HEADER} must be v1 or v2")
    if not hmac.compare_digest(expected.encode(), _bytes(legacy.strip().lower())):
        raise SignatureError("mismatch", f"{LEGACY_HEADER} does not match the request")
    return version
