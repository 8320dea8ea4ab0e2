"""The connector conformance suite (cosync_worker.testing.conformance) for the AWS Partner Central connector."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from cosync_aws.client import WRITE_OPERATIONS
from cosync_aws.plugin import AwsConnector

from cosync_worker.connector import Event
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.testing.conformance import Stack, conformance_suite, redelivery
from cosync_worker.testing.waiting import wait_until

from .test_create import GOOD_DEAL


class OpportunityWorld:
    def __init__(
        self, emulator: PartnerCentralEmulator, http: aiohttp.ClientSession, hs: HubSpotEmulator
    ) -> None:
        self.emulator, self.http, self.hs = emulator, http, hs

    def remote_writes(self) -> int:
        return sum(n for call, n in self.emulator.calls.items() if call in WRITE_OPERATIONS)

    async def _rep(self, path: str, body: dict[str, Any]) -> str:
        headers = {"Authorization": f"Bearer {self.hs.user_token}"}
        async with self.http.post(self.hs.base_url + path, json=body, headers=headers) as r:
            assert r.status < 300, await r.text()
            return str((await r.json())["id"])

    async def act(self, stack: Stack, *, configured: bool = True) -> list[Event]:
        company = await self._rep(
            "/crm/v3/objects/companies", {"properties": {"name": "BigCorp", "domain": "bigcorp.example"}}
        )
        association = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}
        deal_id = await self._rep(
            "/crm/v3/objects/deals",
            {"properties": GOOD_DEAL, "associations": [{"to": {"id": company}, "types": [association]}]},
        )

        async def synced() -> bool:
            return self.hs.objects("deals")[deal_id]["properties"].get("aws_sync_status") == "synced"

        if configured:
            await wait_until(synced)
        return [
            redelivery("deal.creation", deal_id),
            redelivery("deal.propertyChange", deal_id, propertyName="amount", propertyValue="12000"),
        ]


@asynccontextmanager
async def opportunity_world(hubspot: HubSpotEmulator) -> AsyncIterator[OpportunityWorld]:
    async with PartnerCentralEmulator() as emulator, aiohttp.ClientSession() as http:
        assert isinstance(emulator, PartnerCentralEmulator)
        yield OpportunityWorld(emulator, http, hubspot)


TestAwsConformance = conformance_suite(AwsConnector, "cosync_aws.plugin", opportunity_world)
