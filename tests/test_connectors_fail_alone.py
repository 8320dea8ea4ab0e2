"""Connectors fail alone (issue 16, Must show): a deal tagged for AWS, Google and Microsoft is created while
HubSpot lacks AWS's custom properties, so AWS fails permanently writing the opportunity id back to the deal.
Google and Microsoft still sync the deal; the dead letter names aws; once AWS's properties are created
(``cosync properties create``), ``cosync dlq replay`` runs AWS alone: Google and Microsoft write nothing more.

The whole system through its public interfaces: the emulators of ``cosync sandbox``, HubSpot's webhooks into
the relay, the queue and the worker, and the CLI as an operator runs it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml

from cosync_worker.config import Settings
from cosync_worker.hooks import PluginManager
from cosync_worker.hubspot import HubSpotClient
from cosync_worker.runtime import Runtime
from cosync_worker.sandbox.stack import SandboxStack
from cosync_worker.testing.waiting import wait_until

from .cli.helpers import cli

pytestmark = pytest.mark.timeout(180)

DEAL_TO_CONTACT, DEAL_TO_COMPANY = 3, 5
DEAL_NAME = "Fabrikam Data Platform #AWS #GCP #Microsoft"


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[SandboxStack]:
    async with SandboxStack(plugins=PluginManager().load(None)) as stack:
        yield stack


def _config(stack: SandboxStack, tmp_path: Path) -> dict[str, Any]:
    config = stack.config(tmp_path / "data", plugins=stack.plugins)
    config["hubspot"] |= {"create_properties": False, "requests_per_10s": 1000, "search_per_second": 100}
    return config | {
        "worker": {"concurrency": 8, "wait_seconds": 0.2, "drain_seconds": 5}
        | {"retry": {"max_attempts": 3, "base_delay": 0.05, "max_delay": 0.2}},
        "logging": {"level": "WARNING"},
    }


async def _create_properties_except_aws(stack: SandboxStack) -> None:
    """What a portal set up before AWS was added holds: every connector's properties but AWS's."""
    plugins = stack.plugins
    others = plugins.subset_hook_caller("cosync_hubspot_properties", [plugins.get_plugin("aws")])
    specs = [spec for specs in others() for spec in specs or []]
    assert specs and not [s for s in specs if s.name.startswith("aws_")]
    async with HubSpotClient(stack.hubspot.base_url, stack.hubspot.access_token) as client:
        await client.ensure_properties(specs)


async def _create_deal(stack: SandboxStack) -> str:
    """A rep's clicks in HubSpot: a company, a contact and a deal associated with both."""
    hs = stack.hubspot
    headers = {"Authorization": f"Bearer {hs.user_token}"}
    async with aiohttp.ClientSession(headers=headers) as http:

        async def create(object_type: str, properties: dict[str, str], assoc: list[Any] | None = None) -> str:
            body = {"properties": properties, "associations": assoc or []}
            async with http.post(f"{hs.base_url}/crm/v3/objects/{object_type}", json=body) as resp:
                data = await resp.json()
                assert resp.status < 300, data
                return str(data["id"])

        company = await create(
            "companies",
            {
                "name": "Fabrikam",
                "domain": "fabrikam.example",
                "website": "https://fabrikam.example",
                "industry": "COMPUTER_SOFTWARE",
                "country": "US",
                "city": "Seattle",
                "state": "WA",
                "zip": "98101",
            },
        )
        contact = await create(
            "contacts",
            {"firstname": "Dana", "lastname": "Ray", "email": "dana@fabrikam.example", "jobtitle": "CTO"},
        )
        assoc = [
            {"to": {"id": i}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": t}]}
            for i, t in ((company, DEAL_TO_COMPANY), (contact, DEAL_TO_CONTACT))
        ]
        props = {"dealname": DEAL_NAME, "dealstage": "qualifiedtobuy", "amount": "120000"}
        props |= {"closedate": "2030-06-30", "description": "Fabrikam moves its data platform to the cloud."}
        return await create("deals", props, assoc)


def _writes(emulator: Any) -> dict[str, int]:
    """The emulator's served calls that change something (its ``/_sandbox/calls``, reads left out)."""
    return {call: n for call, n in emulator.calls.items() if not call.startswith("GET ")}


async def _dead_letters(tmp_path: Path) -> list[dict[str, Any]]:
    code, out, err = await cli(tmp_path, "dlq", "list", "--json", "-c", "config.yaml")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


async def test_aws_dead_letters_alone_and_its_replay_runs_aws_alone(
    sandbox: SandboxStack, tmp_path: Path
) -> None:
    config = _config(sandbox, tmp_path)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    await _create_properties_except_aws(sandbox)
    google, microsoft, hubspot = sandbox.google, sandbox.microsoft, sandbox.hubspot

    async with Runtime(Settings.model_validate(config)) as rt:
        queue = rt.context.queue

        async def quiet() -> bool:
            """Every event HubSpot delivered (the rep's and those the clouds' write-backs caused) is settled."""
            await hubspot.drain_webhooks()
            # (A replayed dead letter moves from the DLQ to the processed: the sum does not change.)
            settled = rt.worker.processed + len(await queue.list_dead_letters())
            # Once counted settled, an event's writes to HubSpot have queued their webhooks: delivered now.
            await hubspot.drain_webhooks()
            return settled == hubspot.webhooks.stats.delivered_events

        await rt.start_relay()
        worker = asyncio.create_task(rt.run(with_relay=False, with_scheduler=False))
        try:
            deal_id = await _create_deal(sandbox)
            await wait_until(quiet, timeout=90)

            # Google and Microsoft synced the deal, in their own systems and back onto it.
            deal = hubspot.objects("deals")[deal_id]["properties"]
            assert [lead for lead in google.leads().values() if "Fabrikam" in json.dumps(lead)]
            assert deal.get("gcp_opportunity_id")
            assert deal.get("microsoft_referral_id") in microsoft.referrals()
            assert not deal.get("aws_opportunity_id")
            # AWS's dead letters name it and only it, with AWS's own reason.
            dead = await _dead_letters(tmp_path)
            assert {json.loads(d["body"])["type"] for d in dead} >= {"deal.creation"}
            for d in dead:
                assert d["connectors"] == ["aws"], d
                assert d["reason"].startswith("aws: HubSpot 400"), d
                assert "PROPERTY_DOESNT_EXIST" in d["reason"]
            google_writes, microsoft_writes = _writes(google), _writes(microsoft)
            assert google_writes and microsoft_writes

            # The operator removes the cause and replays the dead letters.
            code, out, err = await cli(tmp_path, "properties", "create", "-c", "config.yaml")
            assert code == 0, err
            code, out, err = await cli(tmp_path, "dlq", "replay", "--yes", "-c", "config.yaml")
            assert code == 0, err
            assert out.strip() == f"replayed {len(dead)} message(s)"

            async def aws_synced() -> bool:
                return await quiet() and bool(
                    hubspot.objects("deals")[deal_id]["properties"].get("aws_opportunity_id")
                )

            await wait_until(aws_synced, timeout=90)
            opportunity = hubspot.objects("deals")[deal_id]["properties"]["aws_opportunity_id"]
            assert list(sandbox.partnercentral.opportunities("Sandbox")) == [opportunity]
            assert await _dead_letters(tmp_path) == []
        finally:
            rt.stop()
            await asyncio.wait_for(worker, 30)

    # The replay ran AWS alone: not one more write in Google or Microsoft.
    assert _writes(google) == google_writes
    assert _writes(microsoft) == microsoft_writes
