"""Opaque bearer tokens with an expiry, issued by an emulator's token endpoint and checked on every call.

Shared by the Microsoft and Google emulators. Tokens are random strings (never derived from secrets) so
that nothing secret can leak through them or through logs.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

__all__ = ["BearerTokens", "TokenCheck"]


@dataclass(frozen=True)
class TokenCheck:
    """Outcome of checking an ``Authorization`` header: ``ok`` or the reason it was refused."""

    ok: bool
    reason: str = ""


@dataclass
class BearerTokens:
    """Issued access and refresh tokens. ``lifetime_seconds`` may be fractional so tests can expire tokens."""

    lifetime_seconds: float = 3600.0
    issued: int = 0
    _access: dict[str, float] = field(default_factory=dict)
    _refresh: set[str] = field(default_factory=set)

    def issue(self) -> tuple[str, float]:
        """A new access token and its lifetime in seconds."""
        token = secrets.token_urlsafe(24)
        self._access[token] = time.time() + self.lifetime_seconds
        self.issued += 1
        return token, self.lifetime_seconds

    def issue_refresh(self) -> str:
        token = secrets.token_urlsafe(24)
        self._refresh.add(token)
        return token

    def is_refresh_token(self, token: str) -> bool:
        return token in self._refresh

    def check(self, authorization: str | None) -> TokenCheck:
        if not authorization:
            return TokenCheck(False, "Authorization header is missing")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return TokenCheck(False, "Authorization header must be 'Bearer <token>'")
        expires = self._access.get(token.strip())
        if expires is None:
            return TokenCheck(False, "The access token is invalid")
        if time.time() >= expires:
            return TokenCheck(False, "The access token has expired")
        return TokenCheck(True)

    def clear(self) -> None:
        self._access.clear()
        self._refresh.clear()
        self.issued = 0
