"""A running cosync (relay, queue, worker) on the HubSpot emulator and a cloud's emulator, a rep who creates
and edits deals in HubSpot over HTTP, and the audit trail read back through ``GET /audit-trail/{id}``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from cosync_worker.sandbox.google import GoogleEmulator
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.microsoft import MicrosoftEmulator
from cosync_worker.testing.conformance import Stack

API_TOKEN = "test-api-token"  # the token stack_settings gives the relay
DEAL_TO_CONTACT, DEAL_TO_COMPANY = 3, 5


class Rep:
    """The sales rep, clicking in HubSpot (the emulator's user token)."""

    def __init__(self, http: aiohttp.ClientSession, hs: HubSpotEmulator) -> None:
        self.http, self.hs = http, hs

    async def _call(self, method: str, path: str, body: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.hs.user_token}"}
        async with self.http.request(method, self.hs.base_url + path, json=body, headers=headers) as r:
            data = await r.json(content_type=None)
            assert r.status < 300, data
            return data

    async def create(self, kind: str, props: dict[str, Any], assoc: tuple[tuple[str, int], ...] = ()) -> str:
        links = [
            {"to": {"id": i}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": t}]}
            for i, t in assoc
        ]
        found = await self._call(
            "POST", f"/crm/v3/objects/{kind}", {"properties": props, "associations": links}
        )
        return str(found["id"])

    async def deal(self, name: str, **props: Any) -> str:
        """A deal with a customer (company and contact), as every cloud's creation needs one."""
        company = await self.create(
            "companies", {"name": "Acme Corp", "domain": "acme.test", "country": "US"}
        )
        contact = await self.create(
            "contacts", {"firstname": "Ada", "lastname": "L", "email": "ada@acme.test", "phone": "555"}
        )
        base = {"dealname": name, "amount": "5000", "dealstage": "appointmentscheduled"}
        return await self.create(
            "deals", base | props, ((company, DEAL_TO_COMPANY), (contact, DEAL_TO_CONTACT))
        )

    async def update(self, deal_id: str, props: dict[str, Any]) -> None:
        await self._call("PATCH", f"/crm/v3/objects/deals/{deal_id}", {"properties": props})

    def props(self, deal_id: str) -> dict[str, Any]:
        return dict(self.hs.objects("deals")[deal_id]["properties"])


@pytest.fixture
async def rep(hubspot_emulator: HubSpotEmulator) -> AsyncIterator[Rep]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        yield Rep(http, hubspot_emulator)


async def trail(stack: Stack, ident: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{stack.url}/audit-trail/{ident}", headers=headers) as r,
    ):
        body: dict[str, Any] = await r.json()
        assert r.status == 200, body
        return body


def gcp_section(google: GoogleEmulator) -> dict[str, Any]:
    from cosync_gcp.sandbox import sandbox_key_info

    return {
        "base_url": google.base_url,
        "token_url": google.token_url,
        "partner_id": google.partner_id,
        "service_account_json": json.dumps(sandbox_key_info(google.token_url)),
        "link_lookup": "sandbox",
        "backoff_base_seconds": 0.01,
    }


def microsoft_section(ms: MicrosoftEmulator) -> dict[str, Any]:
    from cosync_microsoft.plugin import sandbox_section

    section = sandbox_section(
        {"base_url": ms.base_url, "token_url": ms.token_url, "client_id": ms.client_id}
        | {"client_secret": ms.client_secret, "refresh_token": ms.refresh_token}
    )
    return section | {"backoff_base_seconds": 0.01}
