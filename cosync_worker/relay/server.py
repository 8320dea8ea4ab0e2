"""``RelayServer``: serves the relay app on a host/port inside ``cosync run`` or alone as ``cosync relay``."""

from __future__ import annotations

from aiohttp import web

from .keys import SETTINGS
from .protocol import RelayAppRunner

__all__ = ["RelayServer"]

# After an answer given before the body was read (413, 408), the rest of the body is read and dropped for
# this long so the sender sees the answer instead of a reset; aiohttp's 10 s would let a trickler hold on.
_LINGER_SECONDS = 1.0


class RelayServer:
    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Listen and return the base URL; port 0 picks a free port (the URL has the real one)."""
        if self._runner is not None:
            raise RuntimeError("relay server is already started")
        # No access log: webhook traffic is high-volume and metrics count it; errors are logged by us.
        # aiohttp closes a connection whose next request is not complete when the keep-alive timer fires
        # (armed at connect and after each response), which bounds a trickled request line and headers.
        runner = RelayAppRunner(
            self.app,
            access_log=None,
            handle_signals=False,
            keepalive_timeout=self.app[SETTINGS].relay.header_timeout_seconds,
            lingering_time=_LINGER_SECONDS,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, shutdown_timeout=5.0)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        host, port = address[0], address[1]
        host_part = f"[{host}]" if ":" in host else host
        return f"http://{host_part}:{port}"

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (up to 5 s), then release the socket."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
