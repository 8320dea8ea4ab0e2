"""Bearer-token check of the REST API (``Authorization: Bearer <token>`` against ``relay.api_tokens``) and the
identities (user and role) those tokens stand for, which the console signs people in with."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from ..config import SecretRef
from ..config.model import ApiToken
from .problems import ProblemError

__all__ = ["Identity", "identify", "require_bearer"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="cosync"'}
# What a viewer may do through the API: read.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Identity:
    user: str
    role: Literal["viewer", "admin"]

    @property
    def can_act(self) -> bool:
        return self.role == "admin"


def _entry(token: SecretRef | ApiToken) -> tuple[SecretRef, Identity]:
    if isinstance(token, ApiToken):
        return token.token, Identity(token.user, token.role)
    return token, Identity("api", "admin")


def identify(presented: str, tokens: Sequence[SecretRef | ApiToken]) -> Identity | None:
    """Who ``presented`` belongs to, or None.

    Every configured token is compared (no early exit) with ``hmac.compare_digest`` so the time taken does
    not reveal which token, or how much of one, matched. With no tokens configured, nobody is known.
    """
    candidate = presented.encode()
    found: Identity | None = None
    for token in tokens:
        ref, identity = _entry(token)
        try:
            value = ref.get().encode()
        except ValueError:
            continue  # an unresolved reference can never match; start-up resolution reports it
        if hmac.compare_digest(candidate, value) and found is None:
            found = identity
    return found


def require_bearer(request: web.Request, tokens: Sequence[SecretRef | ApiToken]) -> Identity:
    """The identity of the request's bearer token; 401 :class:`ProblemError` without a known one, 403 when a
    viewer's token asks for anything but a read."""
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise ProblemError(
            401,
            "Authorization: Bearer <token> is required",
            kind="unauthorized",
            headers=_CHALLENGE,
        )
    identity = identify(presented.strip(), tokens)
    if identity is None:
        raise ProblemError(401, "the bearer token is not valid", kind="unauthorized", headers=_CHALLENGE)
    if request.method not in _SAFE_METHODS and not identity.can_act:
        raise ProblemError(403, "this token's role (viewer) may only read", kind="forbidden")
    return identity
