"""Bearer-token check of the REST API (``Authorization: Bearer <token>`` against ``relay.api_tokens``)."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from aiohttp import web

from ..config import SecretRef
from .problems import ProblemError

__all__ = ["require_bearer"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="cosync"'}


def require_bearer(request: web.Request, tokens: Sequence[SecretRef]) -> None:
    """Raise a 401 :class:`ProblemError` unless the request carries one of ``tokens``.

    Every configured token is compared (no early exit) with ``hmac.compare_digest`` so the time taken does
    not reveal which token, or how much of one, matched. With no tokens configured, nothing is allowed.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise ProblemError(
            401,
            "Authorization: Bearer <token> is required",
            kind="unauthorized",
            headers=_CHALLENGE,
        )
    candidate = presented.strip().encode()
    matched = False
    for token in tokens:
        try:
            value = token.get().encode()
        except ValueError:
            continue  # an unresolved reference can never match; start-up resolution reports it
        matched |= hmac.compare_digest(candidate, value)
    if not matched:
        raise ProblemError(401, "the bearer token is not valid", kind="unauthorized", headers=_CHALLENGE)
