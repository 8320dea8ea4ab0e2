"""The Azure AD v2 endpoints an MSAL ``ConfidentialClientApplication`` talks to: OIDC discovery, instance
discovery and the token endpoint (client-credentials and refresh-token grants).

https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow
https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri

MSAL only accepts ``https`` authorities and endpoints. The emulator serves plain HTTP on loopback, so the
discovery documents advertise the scheme the caller says it used (``X-Forwarded-Proto``, as behind a TLS
proxy) and fall back to the request's own scheme; a test hands MSAL an HTTP client that downgrades
``https://127.0.0.1`` to ``http://`` and sets that header.
"""

from __future__ import annotations

import base64
import hmac
from typing import TYPE_CHECKING

from aiohttp import web

from .errors import aad_error

if TYPE_CHECKING:
    from .emulator import MicrosoftEmulator

__all__ = ["add_identity_routes"]


def _origin(request: web.Request) -> str:
    scheme = request.headers.get("X-Forwarded-Proto", request.scheme)
    return f"{scheme}://{request.host}"


def add_identity_routes(router: web.UrlDispatcher, emulator: MicrosoftEmulator) -> None:
    async def openid_configuration(request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        if tenant != emulator.tenant_id:
            return aad_error(400, "invalid_tenant", f"Tenant '{tenant}' not found.", 90002)
        base = f"{_origin(request)}/{tenant}"
        return web.json_response(
            {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token", "token id_token"],
                "grant_types_supported": ["client_credentials", "refresh_token"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "tenant_region_scope": "NA",
            }
        )

    async def instance_discovery(request: web.Request) -> web.Response:
        host = request.host
        return web.json_response(
            {
                "tenant_discovery_endpoint": (
                    f"{_origin(request)}/{emulator.tenant_id}/v2.0/.well-known/openid-configuration"
                ),
                "api-version": "1.1",
                "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
            }
        )

    async def token(request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        if tenant != emulator.tenant_id:
            return aad_error(400, "invalid_request", f"Tenant '{tenant}' not found.", 90002)
        if request.content_type != "application/x-www-form-urlencoded":
            return aad_error(
                400, "invalid_request", "The request body must be application/x-www-form-urlencoded.", 900144
            )
        form = await request.post()
        client_id, client_secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        if request.headers.get("Authorization", "").startswith("Basic "):
            try:
                raw = base64.b64decode(request.headers["Authorization"][6:]).decode()
                client_id, _, client_secret = raw.partition(":")
            except (ValueError, UnicodeDecodeError):
                return aad_error(401, "invalid_client", "Malformed Basic authorization header.", 7000216)
        grant = str(form.get("grant_type", ""))
        if not grant:
            return aad_error(400, "invalid_request", "The request body must contain 'grant_type'.", 900144)
        if not client_id:
            return aad_error(400, "invalid_request", "The request body must contain 'client_id'.", 900144)
        if client_id != emulator.client_id:
            return aad_error(400, "unauthorized_client", f"Application '{client_id}' was not found.", 700016)
        # compare_digest: do not leak how much of the secret matched through timing.
        if not hmac.compare_digest(client_secret.encode(), emulator.client_secret.encode()):
            return aad_error(401, "invalid_client", "Invalid client secret provided.", 7000215)
        if grant == "refresh_token":
            presented = str(form.get("refresh_token", ""))
            if not presented:
                return aad_error(
                    400, "invalid_request", "The request body must contain 'refresh_token'.", 900144
                )
            if presented != emulator.refresh_token and not emulator.tokens.is_refresh_token(presented):
                return aad_error(400, "invalid_grant", "The refresh token is invalid or expired.", 70008)
        elif grant != "client_credentials":
            return aad_error(
                400, "unsupported_grant_type", f"The grant type '{grant}' is not supported.", 70003
            )
        access, lifetime = emulator.tokens.issue()
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": int(lifetime) if lifetime >= 1 else lifetime,
                "ext_expires_in": int(lifetime) if lifetime >= 1 else lifetime,
                "access_token": access,
                "refresh_token": emulator.tokens.issue_refresh(),
                "scope": str(form.get("scope", "https://api.partner.microsoft.com/.default")),
            }
        )

    router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration)
    router.add_get("/common/discovery/instance", instance_discovery)
    router.add_post("/{tenant}/oauth2/v2.0/token", token)
