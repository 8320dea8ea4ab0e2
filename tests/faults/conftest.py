"""Emulators for the fault suite: Partner Central with AWS's quotas on a scaled clock, HubSpot with room."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.testing.moto_process import moto_process

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


@pytest_asyncio.fixture
async def moto_servers(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[str, str]]:
    """``(sqs_url, dynamodb_url)``: moto in two processes of its own, DynamoDB's answering one request at a
    time (atomic conditional writes). In-process moto would compete with the emulators and the relay for
    this process's interpreter lock, and the run would measure that instead of cosync."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    async with moto_process() as sqs, moto_process(serialized=True) as dynamodb:
        yield sqs, dynamodb
