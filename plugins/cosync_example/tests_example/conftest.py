"""Fixtures of the example's tests: the ticket desk's emulator, and the rep clicking in HubSpot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest_asyncio
from cosync_example.desk import TicketDeskEmulator


@pytest_asyncio.fixture
async def desk() -> AsyncIterator[TicketDeskEmulator]:
    emulator = TicketDeskEmulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


def desk_section(desk: TicketDeskEmulator, **extra: Any) -> dict[str, Any]:
    """``connectors.example`` pointing at ``desk``."""
    return {"base_url": desk.base_url, "api_token": desk.token, **extra}


class Rep:
    """A rep's clicks in the HubSpot UI (the emulator's user token: its webhooks fire as for a person)."""

    def __init__(self, http: aiohttp.ClientSession, hubspot: Any) -> None:
        self.http, self.hubspot = http, hubspot
        self.deals = f"{hubspot.base_url}/crm/v3/objects/deals"
        self.headers = {"Authorization": f"Bearer {hubspot.user_token}"}

    async def create_deal(self, **properties: str) -> str:
        async with self.http.post(self.deals, json={"properties": properties}, headers=self.headers) as r:
            assert r.status == 201, await r.text()
            return str((await r.json())["id"])

    async def edit_deal(self, deal_id: str, **properties: str) -> None:
        body = {"properties": properties}
        async with self.http.patch(f"{self.deals}/{deal_id}", json=body, headers=self.headers) as r:
            assert r.status == 200, await r.text()

    def deal(self, deal_id: str) -> dict[str, Any]:
        return dict(self.hubspot.objects("deals")[deal_id]["properties"])


@pytest_asyncio.fixture
async def rep(hubspot_emulator: Any) -> AsyncIterator[Rep]:
    async with aiohttp.ClientSession() as http:
        yield Rep(http, hubspot_emulator)
