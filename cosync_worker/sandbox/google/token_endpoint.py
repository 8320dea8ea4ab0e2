"""Google's OAuth 2.0 token endpoint for service accounts (JWT bearer grant, RFC 7523), as
``google.oauth2.service_account.Credentials`` calls it.

https://developers.google.com/identity/protocols/oauth2/service-account#authorizingrequests

The JWT is decoded and its claims checked (scope, audience, lifetime) but its signature is not verified:
the emulator has no registry of service-account public keys, and the point is to exercise the client's flow.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import oauth_error

if TYPE_CHECKING:
    from .emulator import GoogleEmulator

__all__ = ["GOOGLE_TOKEN_AUDIENCES", "JWT_BEARER", "SCOPE", "add_token_route", "decode_jwt_claims"]

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "https://www.googleapis.com/auth/cloudcrmpartners"
GOOGLE_TOKEN_AUDIENCES = ("https://oauth2.googleapis.com/token", "https://www.googleapis.com/oauth2/v4/token")


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def decode_jwt_claims(assertion: str) -> dict[str, Any]:
    """The payload of a compact JWS; ``ValueError`` if it is not one."""
    parts = assertion.split(".")
    if len(parts) != 3:
        raise ValueError("the assertion is not a JWT (header.payload.signature)")
    try:
        header = json.loads(_b64(parts[0]))
        claims = json.loads(_b64(parts[1]))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"the assertion is not a decodable JWT: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("the JWT header and payload must be JSON objects")
    if header.get("alg") != "RS256":
        raise ValueError("the JWT must be signed with RS256")
    return claims


def add_token_route(router: web.UrlDispatcher, emulator: GoogleEmulator) -> None:
    async def token(request: web.Request) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return oauth_error(400, "invalid_request", "Body must be application/x-www-form-urlencoded.")
        form = await request.post()
        grant = str(form.get("grant_type", ""))
        if grant != JWT_BEARER:
            return oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant!r}")
        try:
            claims = decode_jwt_claims(str(form.get("assertion", "")))
        except ValueError as exc:
            return oauth_error(400, "invalid_grant", f"Invalid JWT: {exc}")
        now = time.time()
        if not claims.get("iss"):
            return oauth_error(400, "invalid_grant", "Invalid JWT: the 'iss' claim is missing.")
        # google-auth always signs for Google's public token URL, whatever token_uri it posts to.
        audiences = {emulator.token_url, *GOOGLE_TOKEN_AUDIENCES}
        if claims.get("aud") not in audiences:
            return oauth_error(
                400, "invalid_grant", f"Invalid JWT: the 'aud' claim must be one of {sorted(audiences)}."
            )
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int | float) or not isinstance(iat, int | float):
            return oauth_error(400, "invalid_grant", "Invalid JWT: 'iat' and 'exp' must be numbers.")
        if exp <= now or exp - iat > 3600:
            return oauth_error(
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
            )
        scopes = str(claims.get("scope", "")).split()
        if SCOPE not in scopes:
            return oauth_error(400, "invalid_scope", f"The JWT must ask for the scope {SCOPE}.")
        access, lifetime = emulator.tokens.issue()
        return web.json_response(
            {
                "access_token": access,
                "expires_in": int(lifetime) if lifetime >= 1 else lifetime,
                "token_type": "Bearer",
            }
        )

    router.add_post("/token", token)
