"""``create_app``: the relay's aiohttp application (webhook intake, plugin REST routes, OpenAPI, ops)."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence

from aiohttp import web

from ..config import Settings
from ..hooks import Context, PluginManager, RouteSpec
from ..queue import Queue
from ..store import Store
from .group_commit import GroupCommitQueue
from .keys import CLOCK, CONTEXT, INTAKE, OPERATIONS, PLUGINS, PROXIES, QUEUE, SETTINGS, STORE
from .middleware import body_guard_middleware, cors_middleware, error_middleware
from .openapi import OperationDoc, openapi_handler
from .ops import add_ops_routes
from .proxies import TrustedProxies
from .request_metrics import request_metrics_middleware
from .routes import collect_routes_sync, mount_route
from .webhooks import add_webhook_routes

__all__ = ["BUILTIN_ROUTES_PLUGIN", "create_app"]

BUILTIN_ROUTES_PLUGIN = "cosync_worker.relay.builtin_routes"


def _ensure_builtin_routes(plugins: PluginManager, settings: Settings) -> None:
    # The built-in routes are a default plugin; registering here too keeps a hand-built manager complete,
    # while ``plugins: {cosync_worker.relay.builtin_routes: false}`` still turns them off.
    if settings.plugins.get(BUILTIN_ROUTES_PLUGIN, True) and not plugins.has_plugin(BUILTIN_ROUTES_PLUGIN):
        plugins.register(importlib.import_module(BUILTIN_ROUTES_PLUGIN), name=BUILTIN_ROUTES_PLUGIN)


def _intake(queue: Queue) -> Queue | GroupCommitQueue:
    # The local queue pays one fsync per send, so concurrent webhook batches share one; SQS pays per call
    # of ten messages, where combining would only serialise calls that can run side by side.
    from ..queue.local import LocalQueue

    return GroupCommitQueue(queue) if isinstance(queue, LocalQueue) else queue


def create_app(
    *,
    settings: Settings,
    queue: Queue,
    store: Store,
    plugins: PluginManager,
    context: Context,
    routes: Sequence[RouteSpec] | None = None,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """The relay application.

    ``routes`` defaults to what the plugins' ``cosync_routes`` hooks return now; pass the result of
    ``await collect_routes(...)`` instead when a plugin's hook is async. ``clock`` is the wall clock the
    signature age is checked against.
    """
    relay = settings.relay
    proxies = TrustedProxies(relay.trusted_proxies)
    app = web.Application(
        client_max_size=relay.max_body_bytes,
        middlewares=[
            request_metrics_middleware,
            cors_middleware(relay.cors_origins),
            error_middleware,
            body_guard_middleware(relay.max_body_bytes, relay.body_timeout_seconds),
        ],
    )
    app[SETTINGS] = settings
    app[QUEUE] = queue
    app[INTAKE] = _intake(queue)
    app[STORE] = store
    app[PLUGINS] = plugins
    app[CONTEXT] = context
    app[CLOCK] = clock
    app[PROXIES] = proxies
    operations: list[OperationDoc] = []
    app[OPERATIONS] = operations
    add_webhook_routes(app, operations)
    add_ops_routes(app, operations)
    app.router.add_get("/openapi.json", openapi_handler, allow_head=False)
    operations.append(
        OperationDoc(
            "GET", "/openapi.json", "This document", ("ops",), False, response_schema={"type": "object"}
        )
    )
    if routes is None:
        _ensure_builtin_routes(plugins, settings)
        routes = collect_routes_sync(plugins, context)
    for spec in routes:
        mount_route(app, spec)
    from ..console import add_console  # the console renders through the relay's keys and routes

    add_console(app, routes)
    return app
