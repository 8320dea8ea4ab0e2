"""Error responses in the two shapes Microsoft uses: Partner Center's ``{"code", "message"}`` for the
Referrals API, and Azure AD's OAuth ``{"error", "error_description"}`` for the token endpoint.

https://learn.microsoft.com/en-us/partner-center/developer/error-codes (Partner Center error body)
https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes (AADSTS errors)
"""

from __future__ import annotations

from aiohttp import web

__all__ = ["aad_error", "api_error"]


def api_error(
    status: int, code: str, message: str, *, target: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    """A Referrals API error; ``target`` names the offending property when there is one."""
    body: dict[str, object] = {"code": code, "message": message}
    if target:
        body["target"] = target
    return web.json_response(body, status=status, headers=headers)


def aad_error(status: int, error: str, description: str, aadsts: int) -> web.Response:
    return web.json_response(
        {"error": error, "error_description": f"AADSTS{aadsts}: {description}", "error_codes": [aadsts]},
        status=status,
    )
