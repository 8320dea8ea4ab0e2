"""What every emulator shares: a loopback aiohttp server, a call counter and the ``/_sandbox/`` operator API.

The operator API is not part of any real service. ``GET /_sandbox/calls`` returns
``{"<operation or METHOD path-template>": count}`` of the calls served (the budget tests and benchmarks
count calls with it) and ``POST /_sandbox/reset`` forgets all state and counters. ``/_sandbox/faults`` injects server errors and
throttling storms (see :mod:`.faults`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

from aiohttp import web

from .faults import Fault, FaultInjector

__all__ = ["Emulator"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CALL_NAME = web.RequestKey("sandbox_call", str)


class Emulator:
    """Base class: subclasses add routes in :meth:`setup_routes` and clear their state in :meth:`reset`.

    Subclasses count a call with :meth:`count` (Partner Central counts by operation name); by default
    a request is counted as ``"METHOD /path/{template}"`` of the route that served it.
    """

    name = "emulator"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, fault_seed: int | None = None) -> None:
        self.host = host
        self.port = port
        self.calls: Counter[str] = Counter()
        self.faults = FaultInjector(self.fault_response, fault_seed)
        # Faults sit outside everything a subclass adds (auth, quotas): an injected answer changes no state,
        # uses no quota and is not counted as a served call (``/_sandbox/faults`` counts it).
        self.app = web.Application(
            middlewares=[self.faults.middleware, self._count_middleware], client_max_size=8 * 1024 * 1024
        )
        self.app.router.add_get("/_sandbox/calls", self._calls)
        self.app.router.add_post("/_sandbox/reset", self._reset)
        self.faults.register(self.app.router)
        self.setup_routes(self.app.router)
        self._runner: web.AppRunner | None = None
        self._lock = asyncio.Lock()

    # -- for subclasses -------------------------------------------------------------------------
    def setup_routes(self, router: web.UrlDispatcher) -> None:
        """Register the emulated service's routes."""

    def reset(self) -> None:
        """Forget all state (counters are cleared by the base class)."""

    def fault_response(self, request: web.Request, fault: Fault) -> web.Response:
        """An injected fault in the emulated service's error shape; subclasses override it."""
        if fault.kind == "throttle":
            return web.json_response(
                {"error": "throttled"}, status=429, headers={"Retry-After": str(fault.retry_after)}
            )
        return web.json_response({"error": "internal error"}, status=500)

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
        self.faults.clear()
        self.faults.injected.clear()
        self.reset()
        return web.json_response({"reset": True})
