"""The AWS connector's end-to-end harness (tests_aws: the real Runtime between the HubSpot and Partner Central
emulators), reused for the flows after submission: engagements, the opportunity team, resources."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "cosync_aws"))
from tests_aws.conftest import Stack, start_stack


@pytest.fixture
async def stack(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, partnercentral_emulator: PartnerCentralEmulator
) -> AsyncIterator[Stack]:
    async for s in start_stack(tmp_path, hubspot_emulator, partnercentral_emulator):
        yield s
