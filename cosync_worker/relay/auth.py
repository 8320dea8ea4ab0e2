"""Bearer-token check of the REST API (``Authorization: Bearer <token>`` against ``relay.api_tokens``) and the
identities (user and role) those tokens stand for, which the console signs people in with.

Roles: ``viewer`` reads; ``user`` also writes, but what only a deal's owner may do (resolve its conflicts, roll
its remote object back) it may do only on deals it owns (:func:`require_deal_owner`); ``admin`` does anything.
A route reads who called it with :func:`request_identity` (the audit trail records it)."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from ..config import SecretRef
from ..config.model import ApiToken
from ..hubspot.errors import NotFound
from .problems import ProblemError

__all__ = ["IDENTITY_KEY", "Identity", "identify", "request_identity", "require_bearer", "require_deal_owner"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="cosync"'}
# What a viewer may do through the API: read.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Identity:
    user: str
    role: Literal["viewer", "user", "admin"]

    @property
    def can_act(self) -> bool:
        """Acts on anything (the console's buttons, an admin token)."""
        return self.role == "admin"

    @property
    def may_write(self) -> bool:
        """May call the API's writing routes (each may ask more, as :func:`require_deal_owner` does)."""
        return self.role in ("admin", "user")


IDENTITY_KEY: web.RequestKey[Identity] = web.RequestKey("cosync_identity", Identity)
# Who a route without auth (or a request the relay did not authenticate) is recorded as.
_ANONYMOUS = Identity("anonymous", "viewer")


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
    if request.method not in _SAFE_METHODS and not identity.may_write:
        raise ProblemError(403, "this token's role (viewer) may only read", kind="forbidden")
    request[IDENTITY_KEY] = identity
    return identity


def request_identity(request: web.Request) -> Identity:
    """Who the request's bearer token belongs to (set by the relay before the route runs)."""
    return request.get(IDENTITY_KEY, _ANONYMOUS)


async def require_deal_owner(identity: Identity, deal_id: str, hubspot: Any) -> None:
    """403 unless ``identity`` is an admin or the email of the deal's HubSpot owner (seed 002: "only deal owner
    or admin can resolve conflicts"). ``hubspot`` is the core's HubSpot client; the owner is compared by email,
    case-insensitively, because that is what a ``user`` token names."""
    if identity.can_act:
        return
    try:
        deal = await hubspot.get("deals", deal_id, properties=["hubspot_owner_id"])
    except NotFound:
        deal = {}  # a deal that is gone has no owner to match
    owner_id = str((deal.get("properties") or {}).get("hubspot_owner_id") or "")
    owner = await hubspot.owner(owner_id) if owner_id else None
    email = str((owner or {}).get("email") or "")
    if not email or email.lower() != identity.user.lower():
        # Neither the owner's email nor the token's user is quoted: the caller learns only the rule.
        raise ProblemError(
            403,
            f"only the deal's owner or an admin may do this; deal {deal_id} is not owned by this token's user",
            kind="forbidden",
        )
