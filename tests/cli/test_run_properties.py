"""``cosync run`` refuses to start while HubSpot lacks a property its connectors write, or creates them.

Otherwise an ``#AWS`` deal gets its opportunity in Partner Central and then the write-back of the opportunity
id fails: AWS holds an opportunity HubSpot does not know.
"""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from cosync_worker.config import load_settings
from cosync_worker.events import parse_hubspot_event
from cosync_worker.runtime import open_queue
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.testing.waiting import wait_until

from .helpers import cli, spawn, write_config

TAGGED_DEAL = {
    "dealname": "BigCorp Cloud Migration #AWS",
    "description": "Move 40 on-prem databases to Amazon RDS before the data centre lease ends",
    "dealstage": "qualifiedtobuy",
    "closedate": (date.today() + timedelta(days=60)).isoformat(),
    "amount": "12000",
}


def _config(tmp_path: Path, hs: HubSpotEmulator, pc: PartnerCentralEmulator, **hubspot: Any) -> Path:
    return write_config(
        tmp_path,
        {
            "queue": {"path": str(tmp_path / "queue.db")},
            "store": {"path": str(tmp_path / "state.db")},
            "worker": {"wait_seconds": 0.2, "drain_seconds": 5},
            "relay": {"enabled": False},
            "hubspot": {"base_url": hs.base_url, "access_token": hs.access_token, **hubspot},
            # Installed but idle (no section): their properties are not required
            "plugins": {"example": False},
            "connectors": {
                "aws": {
                    "endpoint_url": pc.base_url,
                    "catalog": "Sandbox",
                    "aws_access_key_id": "sandbox",
                    "aws_secret_access_key": "sandbox",
                }
            },
            "schedules": {
                name: {"enabled": False}
                for name in ("aws_reconcile", "aws_invitations", "aws_summary", "aws_submission_rules")
            },
        },
    )


async def _tagged_deal_queued(hs: HubSpotEmulator, config: Path) -> str:
    """A rep's ``#AWS`` deal in HubSpot, and its creation webhook waiting on the queue."""
    headers = {"Authorization": f"Bearer {hs.user_token}"}
    company = {"properties": {"name": "BigCorp", "domain": "bigcorp.example"}}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(f"{hs.base_url}/crm/v3/objects/companies", json=company) as r:
            assert r.status == 201, await r.text()
            company_id = str((await r.json())["id"])
        link = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}
        deal = {"properties": TAGGED_DEAL, "associations": [{"to": {"id": company_id}, "types": [link]}]}
        async with http.post(f"{hs.base_url}/crm/v3/objects/deals", json=deal) as r:
            assert r.status == 201, await r.text()
            deal_id = str((await r.json())["id"])
    event = parse_hubspot_event(
        {
            "eventId": 1,
            "subscriptionType": "deal.creation",
            "objectId": int(deal_id),
            "occurredAt": int(time.time() * 1000),
        }
    )
    queue = await open_queue(load_settings(config, {}).queue)
    try:
        await queue.send([(event.to_json(), event.ordering_key, event.dedupe_key)])
    finally:
        await queue.close()
    return deal_id


async def _depth(config: Path) -> int:
    queue = await open_queue(load_settings(config, {}).queue)
    try:
        return await queue.depth()
    finally:
        await queue.close()


async def test_run_refuses_to_start_without_the_properties_and_consumes_nothing(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, partnercentral_emulator: PartnerCentralEmulator
) -> None:
    config = _config(tmp_path, hubspot_emulator, partnercentral_emulator)
    deal_id = await _tagged_deal_queued(hubspot_emulator, config)

    code, out, err = await cli(tmp_path, "run", "--no-relay", "-c", "config.yaml")

    assert code == 2, err
    assert "HubSpot lacks" in err
    assert "deals.aws_opportunity_id" in err and "deals.aws_sync_status" in err
    assert "cosync properties create -c config.yaml" in err
    assert "hubspot.create_properties: true" in err
    assert "gcp_" not in err and "msft_" not in err, "an idle connector's properties are not required"
    assert "Traceback" not in err
    assert hubspot_emulator.access_token not in out + err
    assert await _depth(config) == 1, "the waiting event was consumed"
    assert partnercentral_emulator.opportunities("Sandbox") == {}
    assert sum(partnercentral_emulator.calls.values()) == 0
    assert "aws_opportunity_id" not in hubspot_emulator.objects("deals")[deal_id]["properties"]


async def test_run_creates_the_properties_when_configured_to_and_then_syncs(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, partnercentral_emulator: PartnerCentralEmulator
) -> None:
    config = _config(tmp_path, hubspot_emulator, partnercentral_emulator, create_properties=True)
    deal_id = await _tagged_deal_queued(hubspot_emulator, config)

    proc = await spawn(tmp_path, "run", "--no-relay", "-c", "config.yaml")
    try:

        async def written_back() -> bool:
            assert proc.returncode is None, "cosync run exited"
            return bool(hubspot_emulator.objects("deals")[deal_id]["properties"].get("aws_opportunity_id"))

        await wait_until(written_back, timeout=90)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    opportunities = partnercentral_emulator.opportunities("Sandbox")
    assert list(opportunities) == [
        hubspot_emulator.objects("deals")[deal_id]["properties"]["aws_opportunity_id"]
    ]
