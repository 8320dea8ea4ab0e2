"""RFC 9457 problem details: the one error shape every relay response uses.

Shape: https://www.rfc-editor.org/rfc/rfc9457.html (``type``, ``title``, ``status``, ``detail``) plus an
``errors`` list naming each field at fault, so a caller can fix its request without reading logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "FieldError",
    "Problem",
    "ProblemError",
    "field_errors_from_validation",
    "problem_response",
]

PROBLEM_CONTENT_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class FieldError(BaseModel):
    """One field at fault; ``field`` is a dotted path (``body``, ``[0].objectId``, ``limit``...)."""

    field: str
    message: str


class Problem(BaseModel):
    """The body of every error response (``application/problem+json``)."""

    type: str = Field(description="A URI naming the kind of problem")
    title: str
    status: int = Field(ge=100, le=599)
    detail: str = ""
    errors: list[FieldError] = Field(default_factory=list)
    correlation_id: str | None = Field(
        default=None, description="Quote it to the operator: the server log line carries the same id"
    )


class ProblemError(Exception):
    """Raise from a handler (or the relay's own code) to answer with a problem; never carries secrets."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        errors: Iterable[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind or _TITLES.get(status, "error").lower().replace(" ", "-")
        self.errors = list(errors)
        self.headers = dict(headers or {})


def problem_response(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    errors: Iterable[FieldError] = (),
    correlation_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A ready ``application/problem+json`` response."""
    slug = kind or _TITLES.get(status, "error").lower().replace(" ", "-")
    problem = Problem(
        type=f"urn:cosync:problem:{slug}",
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        errors=list(errors),
        correlation_id=correlation_id,
    )
    return web.Response(
        status=status,
        body=problem.model_dump_json(exclude_none=True).encode(),
        content_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def field_errors_from_validation(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """Pydantic errors as ``FieldError`` (the input value is left out: it may be a secret)."""
    found: list[FieldError] = []
    for err in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(p) for p in err["loc"])
        field = f"{prefix}.{path}" if prefix and path else (prefix or path or "body")
        found.append(FieldError(field=field, message=str(err["msg"])))
    return found
