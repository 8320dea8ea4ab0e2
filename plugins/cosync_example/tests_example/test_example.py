"""The example connector through the public interface: the rep edits a deal in the HubSpot emulator, its
signed webhook reaches the relay, the queue and the worker, and the change log is read back over the relay;
its heartbeat loop's ticks go through the queue and the framework keeps the loop's cursor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cosync_example.plugin import ExampleConnector

from cosync_worker.config import Settings
from cosync_worker.events.parsers import schedule_tick
from cosync_worker.runtime import Runtime
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.testing.waiting import wait_until

pytestmark = pytest.mark.timeout(90)

API = {"Authorization": "Bearer test-api-token"}
REP = {"Authorization": "Bearer sandbox-hubspot-user-token"}


def _settings(tmp: Path, hs: HubSpotEmulator, **example: Any) -> Settings:
    return Settings.model_validate(
        {
            "queue": {"kind": "local", "path": str(tmp / "queue.db"), "visibility_timeout": 5},
            "store": {"kind": "sqlite", "path": str(tmp / "state.db")},
            "worker": {"concurrency": 4, "wait_seconds": 0.2, "drain_seconds": 5},
            "relay": {"enabled": True, "port": 0, "api_tokens": ["test-api-token"]},
            "hubspot": {
                "base_url": hs.base_url,
                "access_token": "sandbox-hubspot-token",
                "client_secret": "sandbox-hubspot-secret",
            },
            "plugin_modules": ["cosync_example.plugin"],
            "connectors": {"example": example},
        }
    )


@asynccontextmanager
async def _running(cfg: Settings, hs: HubSpotEmulator) -> AsyncIterator[tuple[Runtime, str]]:
    async with Runtime(cfg, entry_points=False) as rt:
        url = await rt.start_relay()
        assert url is not None
        hs.webhooks.subscriptions.clear()
        hs.subscribe(f"{url}/webhooks/hubspot", ["deal.propertyChange"])
        task = asyncio.create_task(rt.run(with_relay=False, with_scheduler=False))
        try:
            yield rt, url
        finally:
            rt.stop()
            await asyncio.wait_for(task, 20)


async def test_rep_edits_are_logged_and_served_by_the_relay(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator
) -> None:
    async with (
        _running(_settings(tmp_path, hubspot_emulator, watch_properties=["dealstage"]), hubspot_emulator) as (
            rt,
            url,
        ),
        aiohttp.ClientSession() as http,
    ):
        deals = f"{hubspot_emulator.base_url}/crm/v3/objects/deals"
        async with http.post(deals, json={"properties": {"dealname": "Acme"}}, headers=REP) as r:
            assert r.status == 201, await r.text()
            deal = str((await r.json())["id"])
        async with http.get(f"{url}/example/deals/{deal}", headers=API) as r:
            assert r.status == 404  # nothing watched has changed yet
        for props in (
            {"description": "not watched"},
            {"dealstage": "qualifiedtobuy"},
            {"dealstage": "closedwon"},
        ):
            async with http.patch(f"{deals}/{deal}", json={"properties": props}, headers=REP) as r:
                assert r.status == 200, await r.text()

        async def logged() -> list[Any] | None:
            async with http.get(f"{url}/example/deals/{deal}", headers=API) as r:
                return None if r.status != 200 else list((await r.json())["changes"])

        await wait_until(lambda: _has(logged, 2), timeout=60)
        changes = await logged()
        assert changes is not None
        assert [(c["property"], c["value"]) for c in changes] == [
            ("dealstage", "qualifiedtobuy"),
            ("dealstage", "closedwon"),
        ]
        # versioned state: one version per recorded change
        assert (await rt.context.store.read_versioned(f"example:deal:{deal}")).version == 2


async def _has(fetch: Any, n: int) -> bool:
    got = await fetch()
    return got is not None and len(got) >= n


async def test_heartbeat_ticks_through_the_queue_advance_the_cursor_to_the_signpost(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    signposts = iter(
        [
            datetime.fromisoformat("2030-01-01T00:00:00+00:00"),
            datetime.fromisoformat("2030-01-01T01:00:00+00:00"),
        ]
    )
    monkeypatch.setattr(ExampleConnector, "now", lambda self: next(signposts))
    async with _running(_settings(tmp_path, hubspot_emulator), hubspot_emulator) as (rt, _):
        store = rt.context.store
        for slot in (1, 2):
            tick = schedule_tick("example_heartbeat", slot)
            await rt.context.queue.send([(tick.to_json(), tick.ordering_key, tick.dedupe_key)])

            async def ran(slot: int = slot) -> bool:
                beat = (await store.read_versioned("example:heartbeat:loop")).value
                return beat is not None and beat["runs"] == slot

            await wait_until(ran, timeout=30)
        assert await store.get_cursor("example:heartbeat") == "2030-01-01T01:00:00+00:00"
        beat = (await store.read_versioned("example:heartbeat:loop")).value
        assert beat == {
            "runs": 2,
            "last_since": "2030-01-01T00:00:00+00:00",
        }  # the second run saw the first's
