"""The relay's HTTP connection handling: aiohttp's own answers (a request it cannot parse, a handler error
that escaped the middlewares) as problem+json like every other answer, and never quoting the request.

aiohttp answers a malformed request line or header from its protocol object, before any middleware runs, as
``text/plain`` carrying the parser's message (which quotes the offending bytes). ``ProblemRequestHandler``
replaces that answer; ``RelayAppRunner`` makes the server build connections with it.
"""

from __future__ import annotations

import re
import uuid

from aiohttp import web
from aiohttp.http_exceptions import (
    BadStatusLine,
    HttpProcessingError,
    InvalidHeader,
    InvalidURLError,
    LineTooLong,
    PayloadEncodingError,
)
from aiohttp.web_request import BaseRequest

from ..logs import get_logger
from .problems import FieldError, problem_response

__all__ = ["ProblemRequestHandler", "ProblemServer", "RelayAppRunner"]

log = get_logger("cosync.relay")

# Most specific first: BadHttpMethod is a BadStatusLine.
_PARTS: tuple[tuple[type[BaseException], str, str], ...] = (
    (LineTooLong, "headers", "a request line or header is longer than the server accepts"),
    (InvalidHeader, "headers", "a header is malformed"),
    (InvalidURLError, "request line", "the request target is not a valid URL"),
    (BadStatusLine, "request line", "the request line is not valid HTTP/1.1"),
    (PayloadEncodingError, "body", "the body is not framed as its headers declare"),
)
# llhttp raises a plain BadHttpMessage whose message starts with a fixed reason ("Invalid header value
# char", "Invalid character in chunk size") before the colon and the quoted bytes; only that reason is kept,
# and only when it is plain words.
_REASON = re.compile(r"[A-Za-z][A-Za-z -]{2,80}")
_KEYWORDS = (
    ("chunk", "body"),
    ("header", "headers"),
    ("content-length", "headers"),
    ("transfer-encoding", "headers"),
    ("method", "request line"),
    ("url", "request line"),
    ("version", "request line"),
)


def _describe(exc: BaseException | None) -> tuple[str, str]:
    for kind, field, message in _PARTS:
        if isinstance(exc, kind):
            return field, message
    if isinstance(exc, HttpProcessingError):
        reason = exc.message.split(":", 1)[0].strip() if isinstance(exc.message, str) else ""
        if _REASON.fullmatch(reason):
            lowered = reason.lower()
            field = next((f for word, f in _KEYWORDS if word in lowered), "request")
            return field, reason[0].lower() + reason[1:]
    return "request", "the request is not valid HTTP/1.1"


class ProblemRequestHandler(web.RequestHandler):
    """aiohttp's connection handler, whose own error answers are problem+json."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            # As aiohttp: a response is under way, so the only answer left is to drop the connection.
            raise ConnectionError("the response was already started; cannot answer with an error")
        if status >= 500:
            correlation_id = uuid.uuid4().hex
            log.error(
                "relay_unhandled_error",
                correlation_id=correlation_id,
                status=status,
                error=type(exc).__name__ if exc else None,
            )
            detail = (
                "the request took too long to handle"
                if status == 504
                else "an unexpected error occurred; quote the correlation id to the operator"
            )
            response = problem_response(status, detail, kind="internal-error", correlation_id=correlation_id)
        else:
            field, problem = _describe(exc)
            # The parser's message quotes the request bytes: the class is all the log needs.
            log.info("relay_bad_http", status=status, error=type(exc).__name__ if exc else None)
            response = problem_response(
                status,
                "the request could not be parsed as HTTP/1.1",
                kind="malformed-request",
                errors=[FieldError(field=field, message=problem)],
            )
        # As aiohttp: after a parse error the connection's framing is unknown, so it is not reused.
        response.force_close()
        return response


class ProblemServer(web.Server):
    """aiohttp's server, building each connection's handler as a :class:`ProblemRequestHandler`."""

    def __call__(self) -> web.RequestHandler:
        return ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


class RelayAppRunner(web.AppRunner):
    """``web.AppRunner`` whose server is a :class:`ProblemServer` (same handler, factory and options)."""

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        server = ProblemServer(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=made._loop,
            **made._kwargs,
        )
        return server
