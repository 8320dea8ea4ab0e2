"""pytest fixture: a started HubSpot emulator on a free loopback port, stopped after the test.

The burst limit is raised so ordinary tests never hit it; a test of throttling builds its own emulator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from ..sandbox.hubspot import HubSpotEmulator

__all__ = ["hubspot_emulator"]


@pytest_asyncio.fixture
async def hubspot_emulator() -> AsyncIterator[HubSpotEmulator]:
    emulator = HubSpotEmulator(burst_limit=10_000, search_per_second=1_000, webhook_flush_seconds=0.05)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()
