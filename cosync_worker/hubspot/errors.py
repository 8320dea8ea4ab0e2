"""What a failed HubSpot call raises: a permanent error carrying HubSpot's own ``message`` and ``category``.

Throttling and server faults never surface as these: the transport waits and retries them, and after
``max_retries`` raises :class:`cosync_worker.errors.Retry` so the worker re-queues the event instead.

Error body shape: the ``Error`` schema of HubSpot's CRM OpenAPI specs and
https://developers.hubspot.com/docs/api/overview (error handling): ``{"status": "error", "message",
"correlationId", "category", "errors": [...], "context": {...}}``.
"""

from __future__ import annotations

import json
from typing import Any

from cosync_worker.errors import PermanentError

__all__ = ["HubSpotBatchError", "HubSpotError", "NotFound", "error_from_response"]

_MAX_MESSAGE = 500


class HubSpotError(PermanentError):
    """HubSpot refused a request with a 4xx that retrying cannot fix (bad input, missing scope, conflict)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        category: str | None = None,
        correlation_id: str | None = None,
        operation: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.category = category
        self.correlation_id = correlation_id
        self.operation = operation
        self.errors = errors or []
        where = f" on {operation}" if operation else ""
        what = f" {category}" if category else ""
        corr = f" (correlationId {correlation_id})" if correlation_id else ""
        super().__init__(f"HubSpot {status}{what}{where}: {message}{corr}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, category={self.category!r}, message={self.message!r})"


class NotFound(HubSpotError):
    """The object (or property, owner, pipeline) does not exist: HubSpot answered 404."""


class HubSpotBatchError(HubSpotError):
    """A batch write was partly refused (HubSpot's 207): ``results`` holds what was written, ``errors`` the rest.

    Earlier chunks of the same call are already written and are included in ``results``, so the caller can
    record them before deciding what to do with the failures.
    """

    def __init__(self, operation: str, results: list[dict[str, Any]], errors: list[dict[str, Any]]) -> None:
        first = errors[0] if errors else {}
        message = f"{len(errors)} input(s) refused; first: {first.get('message', 'unknown error')}"
        super().__init__(207, message, category=first.get("category"), operation=operation, errors=errors)
        self.results = results


def _scrub(text: str, secret: str) -> str:
    """A server may echo a header back in an error; never let the token into an exception."""
    return text.replace(secret, "***") if secret else text


def error_from_response(status: int, body: bytes, *, operation: str, secret: str) -> HubSpotError:
    """Build the exception for a 4xx answer, keeping HubSpot's message/category and dropping the token."""
    message = ""
    category: str | None = None
    correlation_id: str | None = None
    errors: list[dict[str, Any]] = []
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        data = None
    if isinstance(data, dict):
        message = str(data.get("message") or "")
        category = data.get("category") if isinstance(data.get("category"), str) else None
        correlation_id = data.get("correlationId") if isinstance(data.get("correlationId"), str) else None
        if isinstance(data.get("errors"), list):
            errors = [e for e in data["errors"] if isinstance(e, dict)]
    elif body:
        message = body.decode("utf-8", "replace")
    message = _scrub(message or f"HTTP {status} with no error message", secret)[:_MAX_MESSAGE]
    cls = NotFound if status == 404 else HubSpotError
    return cls(
        status,
        message,
        category=category,
        correlation_id=correlation_id,
        operation=operation,
        errors=json.loads(_scrub(json.dumps(errors), secret)) if errors else None,
    )
