"""The operator console (``/console``, on with ``relay.console.enabled``) and ``GET /status``, the API twin
of its overview that ``cosync status --url`` reads. Server-rendered pages; every asset ships in this
package (no CDN, no build step)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from aiohttp import web

from ..hooks import RouteSpec
from ..relay.keys import CONTEXT, PLUGINS, QUEUE, SETTINGS, STORE
from ..relay.routes import mount_route
from ..status import ActivitySampler, StatusReport, build_status
from .views import ROUTE_SPECS, add_pages

__all__ = ["STATIC", "add_console"]

STATIC = Path(__file__).parent / "static"


async def _status(request: web.Request) -> web.Response:
    app = request.app
    report = await build_status(
        app[SETTINGS], app[QUEUE], app[STORE], app[PLUGINS], app[CONTEXT].connector_configs
    )
    return web.json_response(report.model_dump(mode="json"))


def _sampling(app: web.Application) -> None:
    async def sample(app: web.Application) -> AsyncIterator[None]:
        console = app[SETTINGS].relay.console
        names = [c.spec.name for c in app[PLUGINS].connectors()]
        sampler = ActivitySampler(app[STORE], names, interval=console.sample_seconds)
        stop = asyncio.Event()
        task = asyncio.create_task(sampler.run(stop))
        yield
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)

    app.cleanup_ctx.append(sample)


def add_console(app: web.Application, routes: Sequence[RouteSpec]) -> None:
    """Mount ``GET /status`` and, when the console is enabled, its pages, assets and counter sampling.
    ``routes`` are the API routes mounted on ``app``: console actions run their handlers."""
    mount_route(
        app,
        RouteSpec(
            "GET",
            "/status",
            _status,
            summary="How cosync is doing (what `cosync status` prints): connectors, loops, queue, budgets",
            response_model=StatusReport,
            tags=("ops",),
        ),
    )
    if not app[SETTINGS].relay.console.enabled:
        return
    specs: dict[tuple[str, str], RouteSpec] = {(spec.method, spec.path): spec for spec in routes}
    app[ROUTE_SPECS] = specs
    add_pages(app)
    app.router.add_static("/console/static", STATIC, append_version=False)
    _sampling(app)
