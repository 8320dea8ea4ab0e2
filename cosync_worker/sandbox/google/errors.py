"""Errors in Google's JSON shape (``google.rpc.Status`` over HTTP) and the OAuth token endpoint's shape.

https://cloud.google.com/apis/design/errors#http_mapping
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

__all__ = ["bad_request", "google_error", "oauth_error"]

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def google_error(
    code: int,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    return web.json_response(
        {
            "error": {
                "code": code,
                "message": message,
                "status": _STATUS.get(code, "UNKNOWN"),
                "details": details or [],
            }
        },
        status=code,
        headers=headers,
    )


def bad_request(field: str, message: str) -> web.Response:
    """400 INVALID_ARGUMENT with a ``google.rpc.BadRequest`` detail naming the field."""
    return google_error(
        400,
        message,
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field, "description": message}],
            }
        ],
    )


def oauth_error(status: int, error: str, description: str) -> web.Response:
    """Google's OAuth 2.0 token endpoint errors (RFC 6749 section 5.2)."""
    return web.json_response({"error": error, "error_description": description}, status=status)
