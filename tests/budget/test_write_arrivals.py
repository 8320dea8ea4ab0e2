"""Partner Central counts a write when it *arrives* (1 per second per partner account:
https://docs.aws.amazon.com/partner-central/latest/developer-guide/quotas.html); a budget that only spaces
the moment each write is drawn lets a write held up on its way arrive right before the next one.

The fault is produced, not waited for: the emulator holds the first write of a pair for most of a quota
window before serving it, as a busy event loop or a slow connection does. Two clients on two connections to
one store stand for two processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cosync_aws.client import PartnerCentralClient, Priority
from tests_aws.test_write_priority_and_cap import _config, _create

from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.store.sqlite import SqliteStore
from cosync_worker.testing.emulators import aws_quotas, started

TIME_SCALE = 5.0  # one write per 200 ms
WINDOW = 1.0 / TIME_SCALE
HELD = 0.8 * WINDOW  # how long the emulator sits on every other write before counting it


class SlowArrivals(PartnerCentralEmulator):
    """Holds every other write before it reaches the quota check: it arrives late, the next one on time."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen = 0

    async def _api(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Amz-Target", "").endswith(".CreateOpportunity"):
            self.seen += 1
            if self.seen % 2:
                await asyncio.sleep(HELD)
        return await super()._api(request)


@pytest.fixture
async def pc() -> AsyncIterator[SlowArrivals]:
    async with started(SlowArrivals(**aws_quotas(TIME_SCALE))) as emulator:
        yield emulator


async def test_writes_of_two_processes_never_arrive_closer_than_the_quota_even_when_one_is_held_up(
    pc: SlowArrivals, tmp_path: Path
) -> None:
    stores = [SqliteStore(tmp_path / "state.db") for _ in range(2)]
    for store in stores:
        await store.open()
    try:
        config = _config(pc, write_rate_per_second=TIME_SCALE)  # the published rate itself, no margin
        async with (
            PartnerCentralClient(config, stores[0]) as one,
            PartnerCentralClient(config, stores[1]) as two,
        ):
            calls = [
                client.call("CreateOpportunity", Priority.CREATE, **_create(2 * n + i))
                for n in range(10)
                for i, client in enumerate((one, two))
            ]
            await asyncio.wait_for(asyncio.gather(*calls), 60)  # a generous upper bound
    finally:
        for store in stores:
            await store.close()

    assert pc.writes.refused == 0, "a write arrived within one quota window of another"
    assert pc.writes.max_rate_observed == 1.0
    assert len(pc.opportunities()) == 20
