"""Mounting plugin routes (``RouteSpec`` from the ``cosync_routes`` hook): bearer auth, body validation into
``request_body(request, Model)``, problem errors and an OpenAPI entry for each, the same for core and third party."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web
from pydantic import BaseModel, ValidationError

from ..events.parsers import InvalidEvent, load_json
from ..hooks import BODY_KEY, Context, PluginManager, RouteSpec, maybe_await
from .auth import require_bearer
from .keys import OPERATIONS, SETTINGS
from .openapi import OperationDoc
from .problems import FieldError, ProblemError, field_errors_from_validation

__all__ = ["collect_routes", "collect_routes_sync", "mount_route", "read_json_body"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _flatten(results: Iterable[object]) -> list[RouteSpec]:
    specs: list[RouteSpec] = []
    for result in results:
        if result is None:
            continue
        for spec in result if isinstance(result, list | tuple) else [result]:
            if not isinstance(spec, RouteSpec):
                raise TypeError(f"cosync_routes returned {type(spec).__name__}, expected RouteSpec")
            specs.append(spec)
    return specs


async def collect_routes(plugins: PluginManager, context: Context) -> list[RouteSpec]:
    """Every plugin's routes; hook results may be awaitables."""
    return _flatten([await maybe_await(r) for r in plugins.hook.cosync_routes(context=context)])


def collect_routes_sync(plugins: PluginManager, context: Context) -> list[RouteSpec]:
    """Every plugin's routes when no event loop turn is available (``create_app`` is synchronous).

    A plugin whose hook is ``async`` must be collected with :func:`collect_routes` and the result passed
    to ``create_app(routes=...)``; this says so instead of silently dropping its routes.
    """
    results = plugins.hook.cosync_routes(context=context)
    for result in results:
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            raise TypeError(
                "a cosync_routes hook is async: collect routes with `await collect_routes(...)` and pass "
                "them to create_app(routes=...)"
            )
    return _flatten(results)


async def read_json_body(request: web.Request) -> object:
    """The body parsed as JSON; 400 naming ``body`` when it is not JSON, or the field holding what no queue
    can carry (NaN, a lone surrogate, nesting too deep); 413 and 408 come from the body guard."""
    raw = await request.read()
    if not raw:
        raise ProblemError(
            400, "a JSON body is required", errors=[FieldError(field="body", message="is empty")]
        )
    try:
        return load_json(raw)
    except InvalidEvent as exc:
        raise ProblemError(
            400, "the body is not acceptable JSON", errors=[FieldError(field=exc.field, message=exc.problem)]
        ) from None


def _wrap(spec: RouteSpec) -> Handler:
    model: type[BaseModel] | None = spec.body_model

    async def handler(request: web.Request) -> web.StreamResponse:
        if spec.auth:
            require_bearer(request, request.app[SETTINGS].relay.api_tokens)
        if model is not None:
            data = await read_json_body(request)
            try:
                request[BODY_KEY] = model.model_validate(data)
            except ValidationError as exc:
                raise ProblemError(
                    422,
                    "the body does not match its schema",
                    kind="validation-error",
                    errors=field_errors_from_validation(exc),
                ) from None
        return await spec.handler(request)

    return handler


def mount_route(app: web.Application, spec: RouteSpec) -> None:
    """Add ``spec`` to ``app`` with auth/validation, and register its OpenAPI entry."""
    taken = {(d.method, d.path) for d in app[OPERATIONS]}
    if (spec.method, spec.path) in taken:
        raise ValueError(f"route {spec.method} {spec.path} is declared twice")
    app.router.add_route(spec.method, spec.path, _wrap(spec))
    app[OPERATIONS].append(
        OperationDoc(
            method=spec.method,
            path=spec.path,
            summary=spec.summary,
            tags=spec.tags,
            auth=spec.auth,
            body_model=spec.body_model,
            response_model=spec.response_model,
            # RouteSpec has no success status yet, so any 2xx is documented.
            response_status=getattr(spec, "status", "2XX"),
            # Declared by RouteSpec subclasses (e.g. conflict_routes.DocumentedRoute) until RouteSpec has them.
            error_statuses=tuple(getattr(spec, "error_statuses", ())),
            error_descriptions=dict(getattr(spec, "error_descriptions", {})),
        )
    )
