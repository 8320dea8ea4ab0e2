"""The write budget's priorities and daily cap, through the ``PartnerCentralClient`` against the emulator
(which enforces Partner Central's write quotas and throttles what exceeds them)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from cosync_aws.client import PartnerCentralClient, Priority
from cosync_aws.config import AwsConfig
from structlog.testing import capture_logs

from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.store.sqlite import SqliteStore

from .test_create import FUTURE


@pytest.fixture
def store(sqlite_store: SqliteStore) -> SqliteStore:
    return sqlite_store  # cosync_worker.testing's


async def _emulator(**quota: Any) -> PartnerCentralEmulator:
    pc = PartnerCentralEmulator(task_seconds=0.05, **quota)
    await pc.start()
    return pc


def _config(pc: PartnerCentralEmulator, **extra: Any) -> AwsConfig:
    return AwsConfig.model_validate(
        {
            "endpoint_url": pc.base_url,
            "aws_access_key_id": "sandbox",
            "aws_secret_access_key": "sandbox",
            "read_rate_per_second": 1000,
            **extra,
        }
    )


def _create(n: int) -> dict[str, Any]:
    return {
        "ClientToken": f"priority-test-{n}",
        "Origin": "Partner Referral",
        "Customer": {
            "Account": {
                "CompanyName": f"Customer {n}",
                "WebsiteUrl": "https://customer.example",
                "Industry": "Other",
                "Address": {"CountryCode": "US"},
            }
        },
        "Project": {"Title": f"Project {n}", "CustomerBusinessProblem": "A problem worth twenty characters"},
        "LifeCycle": {"Stage": "Prospect", "TargetCloseDate": FUTURE},
    }


def _assign(opp_id: str, n: int) -> dict[str, Any]:
    return {
        "Identifier": opp_id,
        "Assignee": {
            "Email": f"rep{n}@partner.example",
            "FirstName": "Rep",
            "LastName": str(n),
            "BusinessTitle": "PartnerAccountManager",
        },
    }


async def _served(pc: PartnerCentralEmulator, client: PartnerCentralClient) -> dict[str, int]:
    """What the emulator served, checked against what the client sent: equal means nothing was throttled
    and retried by botocore behind the client's back."""
    async with aiohttp.ClientSession() as s, s.get(pc.base_url + "/_sandbox/calls") as r:
        served: dict[str, int] = await r.json()
    for op in ("CreateOpportunity", "AssignOpportunity"):
        assert served.get(op, 0) == client.calls.get(op, 0), (op, served, client.calls)
    return served


async def test_a_creation_queued_behind_background_writes_is_served_next(store: SqliteStore) -> None:
    pc = await _emulator(write_rate=1.0, time_scale=20.0)  # 20 writes per wall second at most
    try:
        async with PartnerCentralClient(_config(pc, write_rate_per_second=5), store) as client:
            first = await client.call("CreateOpportunity", Priority.CREATE, **_create(1))
            background = [
                asyncio.create_task(
                    client.call("AssignOpportunity", Priority.BACKGROUND, **_assign(first["Id"], n))
                )
                for n in range(12)
            ]
            await asyncio.sleep(0.05)  # they are queued for the budget now
            second = await client.call("CreateOpportunity", Priority.CREATE, **_create(2))
            await asyncio.wait_for(asyncio.gather(*background), 30)
            await _served(pc, client)
        order = [
            e["detail-type"]
            for e in pc.events
            if e["detail-type"] in ("Opportunity Created", "Opportunity Updated")
        ]
        ids = [
            e["detail"]["opportunity"]["identifier"]
            for e in pc.events
            if e["detail-type"] == "Opportunity Created"
        ]
        assert ids == [first["Id"], second["Id"]]
        before_second = order[1 : order.index("Opportunity Created", 1)]
        # At most the write holding the turn when the creation arrived, and one already on the wire.
        assert len(before_second) <= 2, order
        assert order.count("Opportunity Updated") == 12
        assert pc.max_write_rate_observed <= 1.0
    finally:
        await pc.stop()


async def test_daily_cap_warns_near_it_and_holds_writes_at_it_until_budget_returns(
    store: SqliteStore,
) -> None:
    cap = 4
    # Partner Central itself would throttle a fifth write today.
    pc = await _emulator(write_rate=1000.0, write_daily_cap=cap)
    try:
        config = _config(pc, write_rate_per_second=1000, daily_write_cap=cap, daily_warning_ratio=0.5)
        async with PartnerCentralClient(config, store) as client:
            with capture_logs() as logs:
                opp = await client.call("CreateOpportunity", Priority.CREATE, **_create(1))
                await client.call("AssignOpportunity", **_assign(opp["Id"], 1))
                assert not [e for e in logs if e["event"] == "aws_daily_writes_near_cap"]
                await client.call("AssignOpportunity", **_assign(opp["Id"], 2))  # 3 > 0.5 x 4
                await client.call("AssignOpportunity", **_assign(opp["Id"], 3))
                near = [e for e in logs if e["event"] == "aws_daily_writes_near_cap"]
                assert len(near) == 1 and near[0]["log_level"] == "warning" and near[0]["cap"] == cap

                held = asyncio.create_task(client.call("AssignOpportunity", **_assign(opp["Id"], 4)))
                await asyncio.sleep(1.0)
                assert not held.done()
                assert any(e["event"] == "aws_daily_write_cap_reached" for e in logs)
                served = await _served(pc, client)
                assert served["AssignOpportunity"] == 3  # held here, not sent to be throttled

                # A day later: the store's bucket has refilled (drawn with a rate that covers the elapsed time)
                # and so has Partner Central's rolling window.
                await store.take_tokens(f"{client.budget_name}:daily", 1e9, cap, 1e-9)
                pc.writes.reset()
                await asyncio.wait_for(held, 10)
            served = await _served(pc, client)
            assert served["AssignOpportunity"] == 4
            assert (
                pc.opportunities("Sandbox")[opp["Id"]]["OpportunityTeam"][0]["Email"]
                == "rep4@partner.example"
            )
            assert client.writes_last_24h == 5
    finally:
        await pc.stop()
