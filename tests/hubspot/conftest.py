"""Fixtures: a real HubSpot emulator on loopback, an observer of what reached it, and a client for it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from cosync_worker.hubspot import HubSpotClient
from cosync_worker.sandbox.hubspot import HubSpotEmulator

TOKEN = "pat-na1-11111111-2222-3333-4444-SECRETTOKEN"


@dataclass
class Arrivals:
    """What reached the emulator, seen from outside all of its middlewares: (monotonic time, status)."""

    seen: list[tuple[float, int]] = field(default_factory=list)

    @property
    def throttled(self) -> int:
        return sum(1 for _, status in self.seen if status == 429)

    def max_admitted_in(self, window_seconds: float) -> int:
        """Most non-429 answers inside any window of ``window_seconds`` (a rolling window, like HubSpot's)."""
        times = sorted(t for t, status in self.seen if status != 429)
        best, start = 0, 0
        for end, t in enumerate(times):
            while times[start] <= t - window_seconds:
                start += 1
            best = max(best, end - start + 1)
        return best


def observe(emu: HubSpotEmulator) -> Arrivals:
    arrivals = Arrivals()

    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        if not request.path.startswith("/_sandbox/"):
            arrivals.seen.append((time.monotonic(), response.status))
        return response

    emu.app.middlewares.insert(0, record)
    return arrivals


@pytest.fixture
async def emulator() -> AsyncIterator[HubSpotEmulator]:
    """A roomy emulator (functional tests should not be about throttling)."""
    emu = HubSpotEmulator(access_token=TOKEN, burst_limit=100_000, search_per_second=5)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.fixture
async def hubspot(emulator: HubSpotEmulator) -> AsyncIterator[HubSpotClient]:
    async with HubSpotClient(emulator.base_url, TOKEN, requests_per_10s=100_000, backoff_base=0.01) as client:
        yield client
