"""A worker dies in the middle of delivering a notice: HubSpot created the task, the answer never came back.
The restarted worker resumes from the notification ledger (the task is found by its unique notice key, not
created again) and adds the note: one task, one note."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from tests_aws.conftest import wait_until
from tests_aws.test_conflicts import created

from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.testing.emulators import started_holding

from .conftest import rep_stacks, titled

TASKS_CREATE = "/crm/v3/objects/tasks/batch/create"


class HoldingHubSpot(HubSpotEmulator):
    """Creates the tasks of a batch create, then holds its answer while ``holding``."""

    def __init__(self) -> None:
        super().__init__(burst_limit=10_000, search_per_second=1_000, webhook_flush_seconds=0.05)
        self.holding = False
        self.released = asyncio.Event()

    def setup_routes(self, router: web.UrlDispatcher) -> None:
        self.app.middlewares.append(self._hold)
        super().setup_routes(router)

    @web.middleware
    async def _hold(self, request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:
        response = await handler(request)
        if self.holding and request.path.rstrip("/") == TASKS_CREATE and response.status < 300:
            await self.released.wait()
        return response


@pytest_asyncio.fixture
async def hubspot_emulator() -> AsyncIterator[HubSpotEmulator]:
    async with started_holding(HoldingHubSpot()) as emulator:
        yield emulator


@pytest.mark.timeout(120)
async def test_a_crash_between_the_task_and_its_checkpoint_is_one_task_after_a_restart(
    tmp_path: Path, hubspot_emulator: HoldingHubSpot, partnercentral_emulator: PartnerCentralEmulator
) -> None:
    hs = hubspot_emulator
    async for stack in rep_stacks(tmp_path, hs, partnercentral_emulator):
        deal_id, opp_id = await created(stack)
        hs.holding = True
        await stack.aws(
            f"/_sandbox/opportunities/{opp_id}", {"catalog": "Sandbox", "ReviewStatus": "Approved"}
        )
        await wait_until(lambda s=stack, d=deal_id: bool(titled(s, d, "Approved")))  # its answer held
        [held] = titled(stack, deal_id, "Approved")
        subject = str(held["hs_task_subject"])
        # Leaving the block stops this worker with the delivery in flight (its drain gives up on it).
    hs.holding = False
    hs.released.set()
    assert not any(subject in n for n in stack.notes_of(deal_id))
    async for stack in rep_stacks(tmp_path, hs, partnercentral_emulator):
        # The unacknowledged event comes back (visibility timeout), and the reconcile sees the approval too.
        await stack.tick("aws_reconcile")
        await wait_until(lambda s=stack: any(subject in n for n in s.notes_of(deal_id)), timeout=90)
        await stack.settle(1.0)
        assert len(titled(stack, deal_id, "Approved")) == 1
        assert sum(subject in n for n in stack.notes_of(deal_id)) == 1  # the notice's note, once
