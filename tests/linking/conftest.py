"""The first-day world: HubSpot with room, Partner Central with AWS's write quota on a scaled clock, the
Microsoft and Google emulators (the testing plugin's fixtures), and a config pointing cosync at them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
import yaml

from cosync_worker.hooks import PluginManager
from cosync_worker.sandbox.google import GoogleEmulator
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.microsoft import MicrosoftEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.sandbox.stack import registered_emulators

from .world import World, seed

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


def world_config(tmp_path: Path, world: World) -> Path:
    """A config.yaml as ``cosync sandbox --write-config`` writes one, for these emulators, with room."""
    plugins = PluginManager().load(None)
    emulators: dict[str, Any] = {"partnercentral": world.pc, "google": world.google, "microsoft": world.ms}
    info: dict[str, Any] = {
        "hubspot": {
            "base_url": world.hs.base_url,
            "access_token": world.hs.access_token,
            "client_secret": world.hs.client_secret,
        }
    }
    info.update(
        {
            s.name: s.connection(emulators[s.name])
            for s in registered_emulators(plugins)
            if s.name in emulators
        }
    )
    connectors: dict[str, Any] = {}
    for section in plugins.hook.cosync_sandbox_config(sandbox=info):
        connectors.update(section or {})
    connectors.pop("example", None)
    # The client paces Partner Central's writes to the scaled quota, a little under it.
    connectors["aws"] |= {"write_rate_per_second": 0.9 * TIME_SCALE, "read_rate_per_second": 8 * TIME_SCALE}
    connectors["microsoft"]["required_customer_fields"] = ["name", "address.country"]
    data = {
        "queue": {"kind": "local", "path": str(tmp_path / "queue.db")},
        "store": {"kind": "sqlite", "path": str(tmp_path / "state.db")},
        "hubspot": info["hubspot"] | {"requests_per_10s": 100_000, "search_per_second": 10_000},
        "plugins": {"example": False},
        "connectors": connectors,
        "logging": {"level": "WARNING"},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
