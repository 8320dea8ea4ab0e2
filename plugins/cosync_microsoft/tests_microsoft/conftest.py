"""A running cosync (relay + queue + worker) wired to the HubSpot and Microsoft emulators, and a rep's hands."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio
from cosync_microsoft.plugin import MicrosoftConnector, sandbox_section
from cosync_microsoft.properties import MICROSOFT_PROPERTIES

from cosync_worker.config import Settings
from cosync_worker.hubspot import HubSpotClient
from cosync_worker.runtime import Runtime
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.microsoft import MicrosoftEmulator
from cosync_worker.testing.conformance import connector_of
from cosync_worker.testing.waiting import until_drained

TIMEOUT = aiohttp.ClientTimeout(total=20)
SETTLE_BOUND = 20.0  # how long ``Stack.settle`` waits for the worker to drain (a bound against hangs)
DEAL_TO_CONTACT, DEAL_TO_COMPANY = 3, 5
TASK_TO_DEAL = 216
# Deals the poll creates from incoming referrals have no owner yet: their tasks go to this one (an owner of
# the emulator's portal) through notify.fallback_owner_id.
FALLBACK_OWNER = "70000003"


def settings(tmp_path: Path, hs: HubSpotEmulator, ms: MicrosoftEmulator, **microsoft: Any) -> Settings:
    section = sandbox_section(
        {"base_url": ms.base_url, "token_url": ms.token_url, "client_id": ms.client_id}
        | {"client_secret": ms.client_secret, "refresh_token": ms.refresh_token}
    )
    return Settings.model_validate(
        {
            "queue": {"kind": "local", "path": str(tmp_path / "queue.db"), "visibility_timeout": 5},
            "store": {"kind": "sqlite", "path": str(tmp_path / "state.db")},
            "worker": {"concurrency": 8, "wait_seconds": 0.2, "drain_seconds": 5}
            | {"retry": {"max_attempts": 3, "base_delay": 0.05, "max_delay": 0.2}},
            "relay": {"enabled": True, "port": 0},
            "hubspot": {
                "base_url": hs.base_url,
                "access_token": hs.access_token,
                "client_secret": hs.client_secret,
                "requests_per_10s": 1000,
                "search_per_second": 100,
            },
            "schedules": {"microsoft_poll": {"enabled": False}},
            "notify": {"fallback_owner_id": FALLBACK_OWNER},
            "plugins": {"example": False, "gcp": False, "aws": False},
            "connectors": {"microsoft": section | {"backoff_base_seconds": 0.01} | microsoft},
        }
    )


async def wait_until(check: Callable[[], Awaitable[bool] | bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s")


@dataclass
class Rep:
    """A sales rep clicking in HubSpot (the emulator's user token)."""

    http: aiohttp.ClientSession
    hs: HubSpotEmulator

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.hs.user_token}"}
        async with self.http.request(method, self.hs.base_url + path, json=body, headers=headers) as resp:
            data = await resp.json(content_type=None)
            assert resp.status < 300, data
            return data

    async def create(self, object_type: str, props: dict[str, Any], assoc: list[Any] | None = None) -> str:
        body = {"properties": props, "associations": assoc or []}
        return str((await self.call("POST", f"/crm/v3/objects/{object_type}", body))["id"])

    async def deal_with_customer(self, name: str, *, country: str = "US", **props: Any) -> str:
        company = await self.create(
            "companies", {"name": "Contoso Ltd", "city": "Redmond", "country": country}
        )
        contact = await self.create(
            "contacts", {"firstname": "Jo", "lastname": "Doe", "email": "jo@contoso.test", "phone": "555"}
        )
        assoc = [
            {"to": {"id": i}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": t}]}
            for i, t in ((company, DEAL_TO_COMPANY), (contact, DEAL_TO_CONTACT))
        ]
        deal_props = {"dealname": name, "dealstage": "appointmentscheduled", "amount": "5000"} | props
        return await self.create("deals", deal_props, assoc)

    async def update_deal(self, deal_id: str, props: dict[str, Any]) -> None:
        await self.call("PATCH", f"/crm/v3/objects/deals/{deal_id}", {"properties": props})


@dataclass
class Stack:
    rt: Runtime
    hs: HubSpotEmulator
    ms: MicrosoftEmulator
    rep: Rep
    http: aiohttp.ClientSession

    @property
    def sync(self) -> MicrosoftConnector:
        return connector_of(self.rt, MicrosoftConnector)

    def deal(self, deal_id: str) -> dict[str, Any]:
        return dict(self.hs.objects("deals")[deal_id]["properties"])

    def linked(self, object_type: str, deal_id: str) -> list[dict[str, Any]]:
        """The ``object_type`` records associated with the deal, each with its association types."""
        out = []
        for record_id, record in self.hs.objects(object_type).items():
            types = self.hs.portal.links.get((object_type, record_id), {}).get("deals", {}).get(deal_id)
            if types is not None:
                out.append({**record, "association_types": set(types)})
        return out

    def deals(self) -> dict[str, dict[str, Any]]:
        return {k: dict(v["properties"]) for k, v in self.hs.objects("deals").items()}

    async def operator(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(self.ms.base_url + path, json=body) as resp:
            data: dict[str, Any] = await resp.json()
            assert resp.status < 300, data
            return data

    async def settle(self, seconds: float = 0.6) -> None:
        """Webhooks delivered and handled (the queue and the worker idle twice in a row, waited for up to
        ``SETTLE_BOUND``), then ``seconds`` more: what must not happen has its chance to."""
        with contextlib.suppress(AssertionError):
            await until_drained(self.rt, self.hs, SETTLE_BOUND)
        await asyncio.sleep(seconds)


async def ensure_properties(hs: HubSpotEmulator) -> None:
    async with HubSpotClient(hs.base_url, hs.access_token) as client:
        await client.ensure_properties(MICROSOFT_PROPERTIES)


@asynccontextmanager
async def running(
    tmp_path: Path, hs: HubSpotEmulator, ms: MicrosoftEmulator, **microsoft: Any
) -> AsyncIterator[Stack]:
    """cosync running against the emulators, HubSpot's webhooks pointed at its relay."""
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as http,
        Runtime(settings(tmp_path, hs, ms, **microsoft)) as rt,
    ):
        url = await rt.start_relay()
        hs.subscribe(f"{url}/webhooks/hubspot", ["deal.creation", "deal.propertyChange"])
        task = asyncio.create_task(rt.run(with_relay=False, with_scheduler=False))
        try:
            yield Stack(rt, hs, ms, Rep(http, hs), http)
        finally:
            await hs.drain_webhooks()
            hs.webhooks.subscriptions.clear()  # a restart subscribes its own relay
            rt.stop()
            await asyncio.wait_for(task, 15)


@pytest_asyncio.fixture
async def stack(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, microsoft_emulator: MicrosoftEmulator
) -> AsyncIterator[Stack]:
    await ensure_properties(hubspot_emulator)
    async with running(tmp_path, hubspot_emulator, microsoft_emulator) as s:
        yield s
