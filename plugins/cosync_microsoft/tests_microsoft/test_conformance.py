"""The connector conformance suite (cosync_worker.testing.conformance) for the Microsoft connector."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from cosync_microsoft.plugin import MicrosoftConnector

from cosync_worker.connector import Event
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.microsoft import MicrosoftEmulator
from cosync_worker.testing.conformance import Stack, conformance_suite, redelivery
from cosync_worker.testing.waiting import wait_until

from .conftest import Rep

WRITES = ("POST /v1.0/engagements/referrals", "PATCH /v1.0/engagements/referrals/{id}")


class ReferralWorld:
    def __init__(self, emulator: MicrosoftEmulator, rep: Rep) -> None:
        self.emulator, self.rep = emulator, rep

    def remote_writes(self) -> int:
        return sum(self.emulator.calls.get(call, 0) for call in WRITES)

    async def act(self, stack: Stack, *, configured: bool = True) -> list[Event]:
        deal_id = await self.rep.deal_with_customer("Conformance #Microsoft")
        deals = self.rep.hs.objects("deals")
        if configured:
            await wait_until(lambda: _is(deals[deal_id]["properties"].get("microsoft_sync_status"), "synced"))
        return [redelivery("deal.creation", deal_id)]


async def _is(value: object, wanted: str) -> bool:
    return value == wanted


@asynccontextmanager
async def referral_world(hubspot: HubSpotEmulator) -> AsyncIterator[ReferralWorld]:
    async with MicrosoftEmulator(rate_per_second=100.0) as emulator, aiohttp.ClientSession() as http:
        assert isinstance(emulator, MicrosoftEmulator)
        yield ReferralWorld(emulator, Rep(http, hubspot))


TestMicrosoftConformance = conformance_suite(MicrosoftConnector, "cosync_microsoft.plugin", referral_world)
