"""pytest fixture: a started Partner Central Selling emulator.

Quotas are raised far above AWS's (1 write/s) so ordinary tests never hit them, and tasks finish in 50 ms;
a test of throttling builds its own emulator with AWS's rates and a ``time_scale``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from ..sandbox.partnercentral import PartnerCentralEmulator

__all__ = ["partnercentral_emulator"]


@pytest_asyncio.fixture
async def partnercentral_emulator() -> AsyncIterator[PartnerCentralEmulator]:
    emulator = PartnerCentralEmulator(write_rate=1000.0, read_rate=1000.0, task_seconds=0.05)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()
