"""HubSpot's error body, raised anywhere in a handler and rendered by the emulator's error middleware.

Shape per https://developers.hubspot.com/docs/api/overview (error handling section) and the ``Error``
schema of the CRM OpenAPI specs: ``{"status": "error", "message", "correlationId", "category", ...}``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

__all__ = ["HubSpotError", "error_body", "not_found", "property_errors", "validation_error"]


def error_body(
    category: str,
    message: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    context: dict[str, list[str]] | None = None,
    sub_category: str | None = None,
) -> dict[str, Any]:
    """The JSON HubSpot answers with on any 4xx (minus the optional parts left out)."""
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }
    if sub_category:
        body["subCategory"] = sub_category
    if errors:
        body["errors"] = errors
    if context:
        body["context"] = context
    return body


class HubSpotError(Exception):
    """Raised by handlers and state code; the middleware turns it into the HTTP answer."""

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body or error_body(category, message, errors=errors, context=context)
        self.headers = headers or {}

    def response(self) -> web.Response:
        return web.json_response(self.body, status=self.status, headers=self.headers)


def validation_error(message: str, **context: list[str]) -> HubSpotError:
    return HubSpotError(400, "VALIDATION_ERROR", message, context=context or None)


def not_found(object_type: str, object_id: str) -> HubSpotError:
    return HubSpotError(
        404,
        "OBJECT_NOT_FOUND",
        f"Object not found.  objectId are usually numeric. ({object_type} {object_id})",
        context={"id": [object_id]},
    )


def property_errors(problems: list[dict[str, str]]) -> HubSpotError:
    """``problems``: ``{"name", "error" (code), "message"}``; HubSpot embeds them in the message as JSON."""
    embedded = [{"isValid": False, **p} for p in problems]
    errors = [
        {"message": p["message"], "code": p["error"], "context": {"propertyName": [p["name"]]}}
        for p in problems
    ]
    return HubSpotError(
        400,
        "VALIDATION_ERROR",
        f"Property values were not valid: {json.dumps(embedded)}",
        errors=errors,
    )
