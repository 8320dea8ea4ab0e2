"""Mounting plugin routes (``RouteSpec`` from the ``cosync_routes`` hook): bearer auth, body and query validation
into ``request_body(request, Model)`` / ``request_query(request, Model)``, problem errors and an OpenAPI entry for
each (with the error statuses the route declares), the same for core and third party."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from ..conflicts import collect_conflict_objects
from ..events.parsers import InvalidEvent, load_json
from ..hooks import BODY_KEY, QUERY_KEY, Context, PluginManager, RouteSpec, maybe_await
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


def _declare_conflict_objects(plugins: PluginManager, context: Context) -> None:
    # The core's conflict routes (one of the plugins asked below) name each connector's fields.
    context.conflict_objects.clear()
    context.conflict_objects.update(collect_conflict_objects(plugins))


async def collect_routes(plugins: PluginManager, context: Context) -> list[RouteSpec]:
    """Every plugin's routes; hook results may be awaitables."""
    _declare_conflict_objects(plugins, context)
    return _flatten([await maybe_await(r) for r in plugins.hook.cosync_routes(context=context)])


def collect_routes_sync(plugins: PluginManager, context: Context) -> list[RouteSpec]:
    """Every plugin's routes when no event loop turn is available (``create_app`` is synchronous).

    A plugin whose hook is ``async`` must be collected with :func:`collect_routes` and the result passed
    to ``create_app(routes=...)``; this says so instead of silently dropping its routes.
    """
    _declare_conflict_objects(plugins, context)
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


def _query_params(model: type[BaseModel]) -> dict[str, dict[str, Any]]:
    """Each field of a query model as an OpenAPI query parameter (name -> schema and whether required)."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    found: dict[str, dict[str, Any]] = {}
    for name, sub in schema.get("properties", {}).items():
        # An absent parameter is None to the model; in a query string null is not a value one can send.
        branches = [b for b in sub.get("anyOf", ()) if b.get("type") != "null"]
        value = {k: v for k, v in sub.items() if k not in ("anyOf", "default", "title", "description")}
        if len(branches) == 1:
            value.update(branches[0])
        found[name] = {
            "schema": value,
            "required": name in required,
            "description": sub.get("description", ""),
        }
    return found


def _validated_query(request: web.Request, model: type[BaseModel]) -> BaseModel:
    # A repeated parameter keeps its first value, as aiohttp's ``request.query.get`` does.
    values = {key: request.query.get(key) for key in request.query}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ProblemError(
            400,
            "the query string does not match its schema",
            kind="invalid-request",
            errors=field_errors_from_validation(exc, prefix="query"),
        ) from None


def _wrap(spec: RouteSpec) -> Handler:
    model: type[BaseModel] | None = spec.body_model
    query_model = spec.query_model

    async def handler(request: web.Request) -> web.StreamResponse:
        if spec.auth:
            require_bearer(request, request.app[SETTINGS].relay.api_tokens)
        if query_model is not None:
            request[QUERY_KEY] = _validated_query(request, query_model)
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
            error_statuses=tuple(spec.error_statuses) + ((400,) if spec.query_model is not None else ()),
            error_descriptions={
                **(
                    {400: "A query parameter is malformed (the problem names it)"} if spec.query_model else {}
                ),
                **spec.error_descriptions,
            },
            query_params=_query_params(spec.query_model) if spec.query_model is not None else {},
        )
    )
