"""The connector conformance suite (cosync_worker.testing.conformance) for the example connector: its remote
system is the ticket desk, and the writes that must not repeat are the desk's ticket openings and changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from cosync_example.desk import TicketDeskEmulator
from cosync_example.plugin import ExampleConnector

from cosync_worker.connector import Event
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.testing.conformance import Stack, conformance_suite, redelivery
from cosync_worker.testing.waiting import wait_until

from .conftest import Rep

DESK_WRITES = ("POST /v1/tickets", "PATCH /v1/tickets/{id}")


class DeskWorld:
    def __init__(self, emulator: TicketDeskEmulator, rep: Rep) -> None:
        self.emulator, self.rep = emulator, rep

    def remote_writes(self) -> int:
        return sum(self.emulator.calls.get(call, 0) for call in DESK_WRITES)

    async def act(self, stack: Stack, *, configured: bool = True) -> list[Event]:
        deal_id = await self.rep.create_deal(dealname="Conformance #Example", amount="1200")
        await self.rep.edit_deal(deal_id, dealstage="closedwon")

        async def pushed() -> bool:
            return self.rep.deal(deal_id).get("example_sync_status") == "synced" and any(
                t["stage"] == "closedwon" for t in self.emulator.tickets.values()
            )

        if configured:
            await wait_until(pushed)
        return [
            redelivery("deal.creation", deal_id),
            redelivery("deal.propertyChange", deal_id, propertyName="dealstage", propertyValue="closedwon"),
        ]


@asynccontextmanager
async def desk_world(hubspot: HubSpotEmulator) -> AsyncIterator[DeskWorld]:
    async with TicketDeskEmulator() as emulator, aiohttp.ClientSession() as http:
        assert isinstance(emulator, TicketDeskEmulator)
        yield DeskWorld(emulator, Rep(http, hubspot))


# The default idle section (an empty one) applies: without the desk's URL and token the example stays idle.
TestExampleConformance = conformance_suite(ExampleConnector, "cosync_example.plugin", desk_world)
