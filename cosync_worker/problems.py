"""RFC 9457 problem details: the one error shape every relay response uses.

Shape: https://www.rfc-editor.org/rfc/rfc9457.html (``type``, ``title``, ``status``, ``detail``) plus an
``errors`` list naming each field at fault, so a caller can fix its request without reading logs.
"""

from __future__ import annotations

import re
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
    408: "Request Timeout",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
# A field path element is quoted back only when it can be a declared field name; anything else came from
# the caller (a key of a free-form mapping, an unknown key) and is not echoed.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


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


def _location(loc: Iterable[int | str]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            parts.append(("." if parts else "") + (p if _NAME.fullmatch(p) else "*"))
    return "".join(parts)


def _message(err: Mapping[str, object]) -> str:
    # These two messages quote what the caller sent (the unknown tag; nothing for the key, which is in
    # ``loc``): say what is expected instead.
    if err["type"] == "union_tag_invalid":
        ctx = err.get("ctx")
        expected = ctx.get("expected_tags") if isinstance(ctx, Mapping) else None
        return f"must be one of {expected}" if expected else "is not one of the expected values"
    if err["type"] == "extra_forbidden":
        return "is not a field of this schema"
    return str(err["msg"])


def field_errors_from_validation(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """Pydantic errors as ``FieldError``; neither the input value nor a key the caller made up is echoed
    (either may be a secret, or hostile markup)."""
    found: list[FieldError] = []
    for err in exc.errors(include_url=False, include_input=False):
        loc: tuple[int | str, ...] = tuple(err["loc"])
        ctx = err.get("ctx") or {}
        if err["type"] == "union_tag_invalid" and isinstance(ctx.get("discriminator"), str):
            loc += (ctx["discriminator"].strip("'"),)  # the field holding the tag, e.g. ``resolution``
        path = _location(loc)
        field = f"{prefix}.{path}" if prefix and path else (prefix or path or "body")
        found.append(FieldError(field=field, message=_message(err)))
    return found
