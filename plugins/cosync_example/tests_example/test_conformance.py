"""The connector conformance suite (cosync_worker.testing.conformance) for the example connector, which
talks to no remote system: its world has no emulator and takes no writes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from cosync_example.plugin import ExampleConnector

from cosync_worker.connector import Event
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.testing.conformance import NO_IDLE, Stack, conformance_suite, redelivery
from cosync_worker.testing.waiting import wait_until


class NoRemote:
    emulator = None

    def __init__(self, hubspot: HubSpotEmulator, http: aiohttp.ClientSession) -> None:
        self.hubspot, self.http = hubspot, http

    def remote_writes(self) -> int:
        return 0

    async def act(self, stack: Stack, *, configured: bool = True) -> list[Event]:
        rep = {"Authorization": f"Bearer {self.hubspot.user_token}"}
        deals = f"{self.hubspot.base_url}/crm/v3/objects/deals"
        async with self.http.post(deals, json={"properties": {"dealname": "Acme"}}, headers=rep) as r:
            deal_id = str((await r.json())["id"])
        patch = {"properties": {"dealstage": "closedwon"}}
        async with self.http.patch(f"{deals}/{deal_id}", json=patch, headers=rep) as r:
            assert r.status == 200, await r.text()

        async def logged() -> bool:
            return (await stack.rt.context.store.read_versioned(f"example:deal:{deal_id}")).version > 0

        if configured:
            await wait_until(logged)
        return [
            redelivery("deal.propertyChange", deal_id, propertyName="dealstage", propertyValue="closedwon")
        ]


@asynccontextmanager
async def no_remote(hubspot: HubSpotEmulator) -> AsyncIterator[NoRemote]:
    async with aiohttp.ClientSession() as http:
        yield NoRemote(hubspot, http)


TestExampleConformance = conformance_suite(
    ExampleConnector, "cosync_example.plugin", no_remote, unconfigured=NO_IDLE
)
