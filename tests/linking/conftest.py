"""The first-day world: HubSpot with room, Partner Central with AWS's write quota on a scaled clock, the
Microsoft and Google emulators (the testing plugin's fixtures), and a config pointing cosync at them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from cosync_worker.sandbox.google import GoogleEmulator
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.microsoft import MicrosoftEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator

from .world import World, seed, world_config

__all__ = ["TIME_SCALE", "world_config"]

# Partner Central's 1 write/s runs 25 times faster: the quota still binds (the client paces to it) without
# making the test wait for real seconds.
TIME_SCALE = 25.0


@pytest_asyncio.fixture
async def quota_pc() -> AsyncIterator[PartnerCentralEmulator]:
    pc = PartnerCentralEmulator(write_rate=1.0, read_rate=10.0, time_scale=TIME_SCALE, task_seconds=0.05)
    await pc.start()
    try:
        yield pc
    finally:
        await pc.stop()


@pytest_asyncio.fixture
async def roomy_hs() -> AsyncIterator[HubSpotEmulator]:
    emulator = HubSpotEmulator(burst_limit=100_000, search_per_second=10_000)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest_asyncio.fixture
async def world(
    roomy_hs: HubSpotEmulator,
    quota_pc: PartnerCentralEmulator,
    microsoft_emulator: MicrosoftEmulator,
    google_emulator: GoogleEmulator,
) -> World:
    return seed(roomy_hs, quota_pc, microsoft_emulator, google_emulator)
