"""A loopback HTTP server answering from a script: the faults the HubSpot emulator cannot produce (5xx, a
daily-limit 429, an error body echoing the token). Real HTTP, so the client's transport runs unmodified.

(aioresponses would be the usual tool, but 0.7.9 cannot build responses for aiohttp 3.14.)
"""

from __future__ import annotations

from collections import deque
from typing import Any

from aiohttp import web

__all__ = ["FaultServer"]


class FaultServer:
    """Answers every request with the next scripted ``(status, json_or_text[, headers])``; 200 ``{}`` when the
    script ends. ``authorizations`` holds each request's ``Authorization`` header."""

    def __init__(self, *answers: tuple[int, Any] | tuple[int, Any, dict[str, str]]) -> None:
        self.script: deque[tuple[Any, ...]] = deque(answers)
        self.requests: list[tuple[str, str]] = []
        self.authorizations: list[str] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _answer(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        self.authorizations.append(request.headers.get("Authorization", ""))
        status, body, *more = self.script.popleft() if self.script else (200, {})
        headers = more[0] if more else None
        if isinstance(body, str):
            return web.Response(status=status, text=body, headers=headers)
        return web.json_response(body, status=status, headers=headers)

    async def __aenter__(self) -> FaultServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
