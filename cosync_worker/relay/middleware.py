"""The relay's middlewares: CORS for configured origins, the catch-all that turns every error into a
problem response (a 500 with a correlation id, logged with the same id, for anything unexpected), and the
body guard (size and time limits enforced before any handler sees the request)."""

from __future__ import annotations

import asyncio
import traceback
import uuid
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Middleware

from ..logs import get_logger
from .problems import FieldError, ProblemError, problem_response

__all__ = ["body_guard_middleware", "cors_middleware", "error_middleware"]

log = get_logger("cosync.relay")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_CORS_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
_CORS_HEADERS = "Authorization, Content-Type"
# Passing these through aiohttp's HTTP exceptions keeps e.g. ``Allow`` on a 405.
_KEEP_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")


def _raised_at(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name}"


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ProblemError as exc:
        return problem_response(
            exc.status, exc.detail, kind=exc.kind, errors=exc.errors, headers=exc.headers or None
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: exc.headers[k] for k in _KEEP_HEADERS if k in exc.headers}
        # Never the path or the method back: they are the caller's bytes (``Allow`` lists what is allowed).
        detail = {
            404: "no route matches this path",
            405: "this method is not allowed on this path (see the Allow header)",
            413: "the request body is larger than relay.max_body_bytes",
        }.get(exc.status, exc.reason)
        return problem_response(exc.status, detail, headers=headers or None)
    except Exception as exc:
        correlation_id = uuid.uuid4().hex
        # Exception messages and tracebacks can carry secrets (a connection string, a token in a URL), so
        # the log gets the class and where it was raised; the caller gets only the id to quote.
        log.error(
            "relay_unhandled_error",
            correlation_id=correlation_id,
            path=request.path,
            method=request.method,
            error=type(exc).__name__,
            raised_at=_raised_at(exc),
        )
        return problem_response(
            500,
            "an unexpected error occurred; quote the correlation id to the operator",
            kind="internal-error",
            correlation_id=correlation_id,
        )


def cors_middleware(origins: Sequence[str]) -> Middleware:
    """CORS for ``relay.cors_origins`` only (``*`` allows any); preflights are answered here."""
    allowed = {o.rstrip("/") for o in origins}
    any_origin = "*" in allowed

    def allow(origin: str | None) -> bool:
        return origin is not None and (any_origin or origin.rstrip("/") in allowed)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        preflight = request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
        if preflight:
            if not allow(origin):
                return problem_response(
                    403, "this origin is not allowed (relay.cors_origins)", kind="forbidden"
                )
            return web.Response(
                status=204,
                headers={
                    "Access-Control-Allow-Origin": origin or "",
                    "Access-Control-Allow-Methods": _CORS_METHODS,
                    "Access-Control-Allow-Headers": _CORS_HEADERS,
                    "Access-Control-Max-Age": "600",
                    "Vary": "Origin",
                },
            )
        response = await handler(request)
        if allow(origin):
            response.headers["Access-Control-Allow-Origin"] = origin or ""
            response.headers["Vary"] = "Origin"
        return response

    return middleware


def _closing(response: web.Response) -> web.Response:
    # The rest of the body is never read: the connection cannot carry another request.
    response.force_close()
    return response


def body_guard_middleware(max_bytes: int, timeout_seconds: float) -> Middleware:
    """Refuse a declared ``Content-Length`` over ``max_bytes`` before reading a byte of the body (413), and
    read every body within ``timeout_seconds`` (408), so a client trickling its body cannot hold a handler."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.body_exists:
            return await handler(request)
        length = request.content_length
        if length is not None and length > max_bytes:
            log.info("relay_body_refused", reason="too_large", declared=length, limit=max_bytes)
            return _closing(
                problem_response(
                    413,
                    "the request body is larger than relay.max_body_bytes",
                    errors=[FieldError(field="Content-Length", message="exceeds relay.max_body_bytes")],
                )
            )
        try:
            async with asyncio.timeout(timeout_seconds):
                await request.read()  # kept by aiohttp: the handler's read() returns the same bytes
        except TimeoutError:
            log.info("relay_body_refused", reason="timeout", limit_seconds=timeout_seconds)
            return _closing(
                problem_response(
                    408,
                    "the body did not arrive within relay.body_timeout_seconds",
                    kind="request-timeout",
                    errors=[FieldError(field="body", message="arrived too slowly")],
                )
            )
        except HttpProcessingError as exc:
            # Bad chunked framing or a body shorter than its Content-Length.
            log.info("relay_body_refused", reason="malformed", error=type(exc).__name__)
            return _closing(
                problem_response(
                    400,
                    "the body's framing is malformed (Content-Length or chunked encoding)",
                    errors=[FieldError(field="body", message="is not framed as its headers declare")],
                )
            )
        return await handler(request)

    return middleware
