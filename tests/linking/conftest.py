"""The first-day world: HubSpot with room, Partner Central with AWS's write quota on a scaled clock, the
Microsoft and Google emulators (the testing plugin's fixtures), and a config pointing cosync at them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from cosync_worker.sandbox.google import GoogleEmulator
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.microsoft import MicrosoftEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.testing.emulators import aws_quotas, started

from .world import World, seed, world_config

__all__ = ["TIME_SCALE", "world_config"]

# Partner Central's 1 write/s runs 25 times faster: the quota still binds (the client paces to it) without
# making the test wait for real seconds.
TIME_SCALE = 25.0


@pytest_asyncio.fixture
async def quota_pc() -> AsyncIterator[PartnerCentralEmulator]:
    async with started(PartnerCentralEmulator(**aws_quotas(TIME_SCALE))) as pc:
        yield pc


@pytest_asyncio.fixture
async def roomy_hs() -> AsyncIterator[HubSpotEmulator]:
    async with started(HubSpotEmulator(burst_limit=100_000, search_per_second=10_000)) as emulator:
        yield emulator


@pytest_asyncio.fixture
async def world(
    roomy_hs: HubSpotEmulator,
    quota_pc: PartnerCentralEmulator,
    microsoft_emulator: MicrosoftEmulator,
    google_emulator: GoogleEmulator,
) -> World:
    return seed(roomy_hs, quota_pc, microsoft_emulator, google_emulator)
