"""What every emulator shares: a loopback aiohttp server, a call counter and the ``/_sandbox/`` operator API.

The operator API is not part of any real service. ``GET /_sandbox/calls`` returns
``{"<operation or METHOD path-template>": count}`` of the calls served (the budget tests and benchmarks
count calls with it) and ``POST /_sandbox/reset`` forgets all state and counters.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

from aiohttp import web

__all__ = ["Emulator"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CALL_NAME = web.RequestKey("sandbox_call", str)


class Emulator:
    """Base class: subclasses add routes in :meth:`setup_routes` and clear their state in :meth:`reset`.

    Subclasses count a call with :meth:`count` (Partner Central counts by operation name); by default
    a request is counted as ``"METHOD /path/{template}"`` of the route that served it.
    """

    name = "emulator"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.calls: Counter[str] = Counter()
        self.app = web.Application(middlewares=[self._count_middleware], client_max_size=8 * 1024 * 1024)
        self.app.router.add_get("/_sandbox/calls", self._calls)
        self.app.router.add_post("/_sandbox/reset", self._reset)
        self.setup_routes(self.app.router)
        self._runner: web.AppRunner | None = None
        self._lock = asyncio.Lock()

    # -- for subclasses -------------------------------------------------------------------------
    def setup_routes(self, router: web.UrlDispatcher) -> None:
        """Register the emulated service's routes."""

    def reset(self) -> None:
        """Forget all state (counters are cleared by the base class)."""

    def count(self, request: web.Request, name: str) -> None:
        """Count this request under ``name`` instead of its route template."""
        request[CALL_NAME] = name

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._runner is None:
            raise RuntimeError(f"{self.name} emulator is not started")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> str:
        """Start serving on loopback; returns the base URL. Port 0 picks a free port."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[union-attr,attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr,attr-defined]
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- internals ------------------------------------------------------------------------------
    @web.middleware
    async def _count_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        finally:
            if not request.path.startswith("/_sandbox/"):
                name = request.get(CALL_NAME)
                if name is None:
                    info = request.match_info.route.resource
                    template = info.canonical if info is not None else request.path
                    name = f"{request.method} {template}"
                self.calls[name] += 1

    async def _calls(self, request: web.Request) -> web.Response:
        return web.json_response(dict(self.calls))

    async def _reset(self, request: web.Request) -> web.Response:
        self.calls.clear()
        self.reset()
        return web.json_response({"reset": True})
