"""pytest fixtures: a started Microsoft Referrals emulator and a started Google CRM Partners emulator.

Both allow 100 requests per second so ordinary tests never hit the throttle; a test of throttling builds
its own emulator with a low ``rate_per_second``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from ..sandbox.google import GoogleEmulator
from ..sandbox.microsoft import MicrosoftEmulator

__all__ = ["google_emulator", "microsoft_emulator"]


@pytest_asyncio.fixture
async def microsoft_emulator() -> AsyncIterator[MicrosoftEmulator]:
    emulator = MicrosoftEmulator(rate_per_second=100.0)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest_asyncio.fixture
async def google_emulator() -> AsyncIterator[GoogleEmulator]:
    emulator = GoogleEmulator(rate_per_second=100.0)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()
