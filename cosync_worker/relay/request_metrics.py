"""Request counts and latencies of the relay by route template, and the deployment-wide gauges (queue and
dead-letter depth, oldest message, loops' last success, writes in 24 h) refreshed when ``/metrics`` is
scraped."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from .. import metrics
from ..logs import get_logger
from .keys import CONTEXT, PLUGINS, QUEUE, SETTINGS, STORE

__all__ = ["request_metrics_middleware", "route_label"]

log = get_logger("cosync.relay")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource if request.match_info.route else None
    if resource is None or request.match_info.http_exception is not None:
        return metrics.OTHER
    return resource.canonical


async def refresh_gauges(app: web.Application) -> None:
    from ..status import build_status

    report = await build_status(
        app[SETTINGS], app[QUEUE], app[STORE], app[PLUGINS], app[CONTEXT].connector_configs
    )
    metrics.QUEUE_DEPTH.set(report.queue.depth or 0)
    metrics.QUEUE_OLDEST_AGE.set(report.queue.oldest_age_seconds or 0)
    metrics.DLQ_DEPTH.set(report.queue.dead_letters)
    for loop in report.loops:  # the declared schedules: a closed set
        if loop.last_success is not None:
            metrics.LOOP_LAST_SUCCESS.labels(loop=loop.name).set(loop.last_success)
    for budget in report.write_budgets:
        metrics.REMOTE_WRITES_24H.labels(connector=budget.connector).set(budget.used_24h)


@web.middleware
async def request_metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path == "/metrics":
        try:
            await refresh_gauges(request.app)
        except Exception as exc:  # a scrape still answers with what this process knows
            log.warning("metrics_refresh_failed", error=type(exc).__name__)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = route_label(request)
        method = request.method if request.method in _METHODS else metrics.OTHER
        metrics.RELAY_REQUESTS.labels(route=route, method=method, status=f"{status // 100}xx").inc()
        metrics.RELAY_REQUEST_SECONDS.labels(route=route, method=method).observe(
            time.perf_counter() - started
        )
