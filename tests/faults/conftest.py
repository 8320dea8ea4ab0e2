"""Emulators for the fault suite: Partner Central with AWS's quotas on a scaled clock, HubSpot with room."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator

from .harness import TIME_SCALE


@pytest_asyncio.fixture
async def quota_pc() -> AsyncIterator[PartnerCentralEmulator]:
    pc = PartnerCentralEmulator(write_rate=1.0, read_rate=10.0, time_scale=TIME_SCALE, task_seconds=0.05)
    await pc.start()
    try:
        yield pc
    finally:
        await pc.stop()


@pytest_asyncio.fixture
async def hs() -> AsyncIterator[HubSpotEmulator]:
    emulator = HubSpotEmulator(burst_limit=10_000, search_per_second=1_000, webhook_flush_seconds=0.1)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()
