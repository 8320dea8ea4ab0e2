"""Console sign-in: a random session id in an HttpOnly, SameSite=Strict cookie (Secure behind TLS), the
session itself in the store (so any replica knows it), and a per-session CSRF token every form carries."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from aiohttp import web

from ..relay.auth import Identity
from ..relay.keys import SETTINGS, STORE

__all__ = ["COOKIE", "Session", "check_csrf", "current_session", "end_session", "start_session"]

COOKIE = "cosync_console"


@dataclass(frozen=True, slots=True)
class Session:
    identity: Identity
    csrf: str
    expires_at: float


def _key(session_id: str) -> str:
    # The store holds a digest, so reading the store does not hand out live cookies.
    return "console:session:" + hashlib.sha256(session_id.encode()).hexdigest()


def _secure(request: web.Request) -> bool:
    public = request.app[SETTINGS].relay.public_url or ""
    return request.secure or public.startswith("https://")


async def start_session(request: web.Request, response: web.StreamResponse, identity: Identity) -> None:
    lifetime = request.app[SETTINGS].relay.console.session_seconds
    session_id = secrets.token_urlsafe(32)
    doc = {
        "user": identity.user,
        "role": identity.role,
        "csrf": secrets.token_urlsafe(32),
        "expires_at": time.time() + lifetime,
    }
    await request.app[STORE].put_state(_key(session_id), doc)
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=int(lifetime),
        path="/console",
        httponly=True,
        samesite="Strict",
        secure=_secure(request),
    )


async def current_session(request: web.Request) -> Session | None:
    session_id = request.cookies.get(COOKIE)
    if not session_id or len(session_id) > 100:
        return None
    doc = await request.app[STORE].get_state(_key(session_id))
    if not doc or doc.get("revoked") or float(doc.get("expires_at", 0)) < time.time():
        return None
    identity = Identity(str(doc.get("user", "?")), "admin" if doc.get("role") == "admin" else "viewer")
    return Session(identity, str(doc["csrf"]), float(doc["expires_at"]))


async def end_session(request: web.Request, response: web.StreamResponse) -> None:
    session_id = request.cookies.get(COOKIE)
    if session_id and len(session_id) <= 100:
        await request.app[STORE].put_state(_key(session_id), {"revoked": True})
    response.del_cookie(COOKIE, path="/console")


def check_csrf(session: Session, presented: object) -> bool:
    return isinstance(presented, str) and hmac.compare_digest(presented.encode(), session.csrf.encode())
