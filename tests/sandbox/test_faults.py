"""The emulators' fault switch (``/_sandbox/faults``): server errors and throttling storms in each service's own
error shape, injected before the request takes effect and without using any quota."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError

from cosync_worker.sandbox import faults as sandbox_faults
from cosync_worker.sandbox.base import Emulator
from cosync_worker.sandbox.google import GoogleEmulator
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.microsoft import MicrosoftEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.testing.clock import drive_time

FUTURE = (datetime.now(UTC) + timedelta(days=90)).date().isoformat()
DEAL = {"properties": {"dealname": "Fault test", "amount": "10"}}


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


async def faults(http: aiohttp.ClientSession, em: Emulator, method: str = "GET", body: Any = None) -> Any:
    async with http.request(method, em.base_url + "/_sandbox/faults", json=body) as r:
        data = await r.json()
        assert r.status == 200, data
        return data


async def create_deal(http: aiohttp.ClientSession, hs: HubSpotEmulator) -> tuple[int, dict[str, str], Any]:
    headers = {"Authorization": f"Bearer {hs.access_token}"}
    async with http.post(hs.base_url + "/crm/v3/objects/deals", json=DEAL, headers=headers) as r:
        return r.status, dict(r.headers), await r.json(content_type=None)


async def test_hubspot_server_errors_change_nothing_and_are_counted_apart(
    http: aiohttp.ClientSession, hubspot_emulator: HubSpotEmulator
) -> None:
    hs = hubspot_emulator
    await faults(http, hs, "POST", {"error_rate": 1.0, "seed": 3})
    statuses = set()
    for _ in range(8):
        status, _headers, body = await create_deal(http, hs)
        statuses.add(status)
        assert body["status"] == "error" and body["category"] == "INTERNAL_ERROR" and body["correlationId"]
    assert statuses <= {500, 502, 503, 504}
    assert hs.objects("deals") == {}
    # The operator API is never faulted, and a faulted request is not a served call
    async with http.get(hs.base_url + "/_sandbox/calls") as r:
        assert await r.json() == {}
    state = await faults(http, hs)
    assert state["injected"] == {"error": 8, "error POST /crm/v3/objects/{objectType}": 8}
    await faults(http, hs, "DELETE")
    status, _headers, body = await create_deal(http, hs)
    assert status == 201 and list(hs.objects("deals")) == [body["id"]]


async def test_hubspot_storm_answers_rate_limit_429_without_using_the_burst_budget(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = drive_time(monkeypatch, sandbox_faults)  # every call lands inside the storm, however slow
    hs = HubSpotEmulator(burst_limit=5)
    await hs.start()
    try:
        state = await faults(http, hs, "POST", {"storm": {"seconds": 0.5, "retry_after": 2}})
        assert state["storm"]["active"] is True
        for _ in range(10):  # twice the burst limit: only injected throttles, none drawn from the window
            status, headers, body = await create_deal(http, hs)
            assert status == 429 and headers["Retry-After"] == "2"
            assert body["category"] == "RATE_LIMITS" and body["errorType"] == "RATE_LIMIT"
            assert body["policyName"] == "TEN_SECONDLY_ROLLING"
        clock.advance(0.5)  # the storm ends by itself
        status, headers, _body = await create_deal(http, hs)
        assert status == 201
        assert headers["X-HubSpot-RateLimit-Remaining"] == "4"
        assert (await faults(http, hs))["injected"]["throttle"] == 10
    finally:
        await hs.stop()


def pc_client(em: PartnerCentralEmulator) -> Any:
    return get_session().create_client(
        "partnercentral-selling",
        endpoint_url=em.base_url,
        region_name="us-east-1",
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def opportunity() -> dict[str, Any]:
    return {
        "Catalog": "Sandbox",
        "ClientToken": "fault-test-1",
        "OpportunityType": "Net New Business",
        "Customer": {
            "Account": {
                "CompanyName": "Acme",
                "WebsiteUrl": "https://acme.example",
                "Industry": "Other",
                "Address": {"CountryCode": "US"},
            }
        },
        "Project": {
            "Title": "Fault test",
            "CustomerBusinessProblem": "A problem statement long enough for the API",
            "DeliveryModels": ["Professional Services"],
            "ExpectedCustomerSpend": [
                {"Amount": "10", "CurrencyCode": "USD", "Frequency": "Monthly", "TargetCompany": "AWS"}
            ],
        },
        "LifeCycle": {"Stage": "Qualified", "TargetCloseDate": FUTURE},
        "PrimaryNeedsFromAws": ["Co-Sell - Technical Consultation"],
    }


async def test_partnercentral_faults_are_aws_json_errors_before_any_effect_or_quota(
    http: aiohttp.ClientSession,
) -> None:
    # AWS's real write quota, unscaled: one write per second, so a single drawn token would show
    pc = PartnerCentralEmulator(write_rate=1.0, read_rate=10.0)
    await pc.start()
    try:
        async with pc_client(pc) as client:
            await faults(http, pc, "POST", {"error_rate": 1.0})
            with pytest.raises(ClientError) as err:
                await client.create_opportunity(**opportunity())
            assert err.value.response["Error"]["Code"] == "InternalServerException"
            assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
            assert err.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == (
                "InternalServerException"
            )
            await faults(http, pc, "POST", {"error_rate": 0.0, "storm": {"seconds": 30}})
            for _ in range(3):
                with pytest.raises(ClientError) as err:
                    await client.create_opportunity(**opportunity())
                assert err.value.response["Error"]["Code"] == "ThrottlingException"
                assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            assert pc.opportunities() == {}
            await faults(http, pc, "DELETE")
            # Four injected failures in well under a second, yet the one write token is still there
            created = await client.create_opportunity(**opportunity())
            assert list(pc.opportunities()) == [created["Id"]]
            assert pc.max_write_rate_observed == 1.0
        state = await faults(http, pc)
        assert state["injected"] == {
            "error": 1,
            "error CreateOpportunity": 1,
            "throttle": 3,
            "throttle CreateOpportunity": 3,
        }
        async with http.get(pc.base_url + "/_sandbox/calls") as r:
            assert await r.json() == {"CreateOpportunity": 1}
    finally:
        await pc.stop()


async def test_seeded_error_rate_is_reproducible_and_roughly_the_rate(
    http: aiohttp.ClientSession, hubspot_emulator: HubSpotEmulator
) -> None:
    hs = hubspot_emulator

    async def run() -> list[bool]:
        await faults(http, hs, "POST", {"error_rate": 0.3, "seed": 11})
        headers = {"Authorization": f"Bearer {hs.access_token}"}
        outcome = []
        for _ in range(60):
            async with http.get(hs.base_url + "/crm/v3/objects/deals", headers=headers) as r:
                outcome.append(r.status >= 500)
        return outcome

    first, second = await run(), await run()
    assert first == second
    assert 5 <= sum(first) <= 35


async def test_bad_fault_settings_are_refused(
    http: aiohttp.ClientSession, hubspot_emulator: HubSpotEmulator
) -> None:
    for body in ({"error_rate": 2}, {"storm": {"seconds": "x"}}, {"surprise": 1}, [1], {"seed": 1.5}):
        async with http.post(hubspot_emulator.base_url + "/_sandbox/faults", json=body) as r:
            assert r.status == 400 and "error" in await r.json()
    assert (await faults(http, hubspot_emulator))["error_rate"] == 0.0


@pytest.mark.parametrize("kind", ["microsoft", "google"])
async def test_cloud_emulators_answer_faults_in_their_shapes(
    http: aiohttp.ClientSession,
    kind: str,
    microsoft_emulator: MicrosoftEmulator,
    google_emulator: GoogleEmulator,
) -> None:
    em: Emulator
    if kind == "microsoft":
        em, path = microsoft_emulator, "/v1.0/engagements/referrals"
    else:
        em, path = google_emulator, "/v1/partners/p1/leads/l1"
    await faults(http, em, "POST", {"error_rate": 1.0})
    async with http.get(em.base_url + path) as r:
        body = await r.json()
        assert r.status >= 500
        if kind == "microsoft":
            assert body["code"] == "InternalServerError"
        else:
            assert body["error"]["status"] == "UNAVAILABLE" and body["error"]["code"] == r.status
    await faults(http, em, "POST", {"error_rate": 0.0, "storm": {"seconds": 30, "retry_after": 3}})
    async with http.get(em.base_url + path) as r:
        body = await r.json()
        assert r.status == 429 and r.headers["Retry-After"] == "3"
        if kind == "microsoft":
            assert body["code"] == "TooManyRequests"
        else:
            assert body["error"]["status"] == "RESOURCE_EXHAUSTED"
