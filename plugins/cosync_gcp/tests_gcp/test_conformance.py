"""The connector conformance suite (cosync_worker.testing.conformance) for the Google Cloud connector."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from cosync_gcp.plugin import GcpConnector

from cosync_worker.connector import Event
from cosync_worker.sandbox.google import GoogleEmulator
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.testing.conformance import Stack, conformance_suite, redelivery
from cosync_worker.testing.waiting import wait_until

from .test_end_to_end import LEAD_CREATE, OPP_PATCH, Rep, gcp_deal


class LeadWorld:
    def __init__(self, emulator: GoogleEmulator, rep: Rep) -> None:
        self.emulator, self.rep = emulator, rep

    def remote_writes(self) -> int:
        return sum(self.emulator.calls.get(call, 0) for call in (LEAD_CREATE, OPP_PATCH))

    async def act(self, stack: Stack, *, configured: bool = True) -> list[Event]:
        deal_id = await gcp_deal(self.rep, "Conformance #GCP")

        async def synced() -> bool:
            return self.rep.deal(deal_id).get("gcp_sync_status") == "synced"

        if configured:
            await wait_until(synced)
        return [
            redelivery("deal.creation", deal_id),
            redelivery("deal.propertyChange", deal_id, propertyName="amount"),
        ]


@asynccontextmanager
async def lead_world(hubspot: HubSpotEmulator) -> AsyncIterator[LeadWorld]:
    async with GoogleEmulator(rate_per_second=100.0) as emulator, aiohttp.ClientSession() as http:
        assert isinstance(emulator, GoogleEmulator)
        yield LeadWorld(emulator, Rep(http, hubspot))


TestGcpConformance = conformance_suite(GcpConnector, "cosync_gcp.plugin", lead_world)
