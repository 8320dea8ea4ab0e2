"""The Partner Central Selling emulator, driven by unmodified boto3 and aiobotocore clients over loopback."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import boto3
import pytest
import pytest_asyncio
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError

from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.sandbox.partnercentral import throttle as pc_throttle
from cosync_worker.testing.clock import drive_time

TIMEOUT = aiohttp.ClientTimeout(total=20)
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})  # one attempt, no retry
FUTURE = (datetime.now(UTC) + timedelta(days=120)).date().isoformat()


def boto3_client(em: PartnerCentralEmulator, config: Config | None = None) -> Any:
    return boto3.client(
        "partnercentral-selling",
        endpoint_url=em.base_url,
        region_name="us-east-1",
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
        config=config or NO_RETRIES,
    )


async def call(fn: Callable[..., Any], **kwargs: Any) -> Any:
    """boto3 blocks, and the emulator runs on this loop: call it from a thread."""
    return await asyncio.to_thread(fn, **kwargs)


def opportunity(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Catalog": "Sandbox",
        "ClientToken": "token-1",
        "PartnerOpportunityIdentifier": "hs-deal-1",
        "OpportunityType": "Net New Business",
        "Customer": {
            "Account": {
                "CompanyName": "Acme Corp",
                "Industry": "Software and Internet",
                "WebsiteUrl": "https://acme.example.com",
                "Address": {"CountryCode": "US", "PostalCode": "98101", "City": "Seattle"},
            },
            "Contacts": [{"Email": "jane@acme.example.com", "FirstName": "Jane", "LastName": "Doe"}],
        },
        "Project": {
            "Title": "Data platform migration",
            "CustomerBusinessProblem": "The on-premises warehouse cannot keep up with demand",
            "DeliveryModels": ["Professional Services"],
            "ExpectedCustomerSpend": [
                {"Amount": "15000", "CurrencyCode": "USD", "Frequency": "Monthly", "TargetCompany": "AWS"}
            ],
        },
        "LifeCycle": {"Stage": "Qualified", "TargetCloseDate": FUTURE, "NextSteps": "Scoping call"},
        "PrimaryNeedsFromAws": ["Co-Sell - Technical Consultation"],
    }
    body.update(overrides)
    return body


def update_from(current: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """An UpdateOpportunity request that keeps everything of ``current`` except ``changes``."""
    keep = (
        "PrimaryNeedsFromAws",
        "PartnerOpportunityIdentifier",
        "Customer",
        "Project",
        "OpportunityType",
        "LifeCycle",
    )
    body = {k: copy.deepcopy(current[k]) for k in keep if k in current}
    body["LifeCycle"] = {k: v for k, v in body.get("LifeCycle", {}).items() if k not in ("NextStepsHistory",)}
    body.update(Catalog="Sandbox", Identifier=current["Id"], LastModifiedDate=current["LastModifiedDate"])
    body.update(changes)
    return body


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        yield session


async def raw(
    http: aiohttp.ClientSession, em: PartnerCentralEmulator, target: str, body: bytes | str, auth: bool = True
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target}
    if auth:
        headers["Authorization"] = (
            "AWS4-HMAC-SHA256 Credential=sandbox/20260101/us-east-1/partnercentral-selling/aws4_request, SignedHeaders=host, Signature=00"
        )
    async with http.post(em.base_url + "/", data=body, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await predicate()
        if result:
            return result
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


# -- opportunities ------------------------------------------------------------------------------------
async def test_create_get_update_list_flow_with_boto3(
    partnercentral_emulator: PartnerCentralEmulator,
) -> None:
    em = partnercentral_emulator
    client = boto3_client(em)
    created = await call(client.create_opportunity, **opportunity())
    assert created["Id"].startswith("O") and isinstance(created["LastModifiedDate"], datetime)
    got = await call(client.get_opportunity, Catalog="Sandbox", Identifier=created["Id"])
    assert got["Customer"]["Account"]["CompanyName"] == "Acme Corp"
    assert got["LifeCycle"]["ReviewStatus"] == "Pending Submission"
    assert got["LastModifiedDate"] == created["LastModifiedDate"]
    assert got["LifeCycle"]["NextStepsHistory"][0]["Value"] == "Scoping call"

    body = update_from(got, LifeCycle={**got["LifeCycle"], "Stage": "Technical Validation"})
    body["LifeCycle"].pop("NextStepsHistory", None)
    body["LifeCycle"].pop("ReviewStatus", None)
    updated = await call(client.update_opportunity, **body)
    assert updated["LastModifiedDate"] > got["LastModifiedDate"]
    second = await call(client.create_opportunity, **opportunity(ClientToken="token-2"))

    listed = await call(
        client.list_opportunities,
        Catalog="Sandbox",
        MaxResults=1,
        Sort={"SortBy": "Identifier", "SortOrder": "ASCENDING"},
    )
    assert [s["Id"] for s in listed["OpportunitySummaries"]] == [created["Id"]]
    assert listed["OpportunitySummaries"][0]["LifeCycle"]["Stage"] == "Technical Validation"
    rest = await call(
        client.list_opportunities,
        Catalog="Sandbox",
        MaxResults=1,
        NextToken=listed["NextToken"],
        Sort={"SortBy": "Identifier", "SortOrder": "ASCENDING"},
    )
    assert [s["Id"] for s in rest["OpportunitySummaries"]] == [second["Id"]] and "NextToken" not in rest

    since = await call(
        client.list_opportunities,
        Catalog="Sandbox",
        LastModifiedDate={"AfterLastModifiedDate": second["LastModifiedDate"]},
    )
    assert [s["Id"] for s in since["OpportunitySummaries"]] == [second["Id"]]
    before = await call(
        client.list_opportunities,
        Catalog="Sandbox",
        LastModifiedDate={"BeforeLastModifiedDate": second["LastModifiedDate"]},
    )
    assert [s["Id"] for s in before["OpportunitySummaries"]] == [created["Id"]]
    by_id = await call(client.list_opportunities, Catalog="Sandbox", Identifier=[second["Id"]])
    assert [s["Id"] for s in by_id["OpportunitySummaries"]] == [second["Id"]]
    # the AWS catalog is a separate store
    aws = await call(client.list_opportunities, Catalog="AWS")
    assert aws["OpportunitySummaries"] == []
    assert em.calls["CreateOpportunity"] == 2 and em.calls["ListOpportunities"] == 6


async def test_update_with_stale_last_modified_date_is_a_conflict(
    partnercentral_emulator: PartnerCentralEmulator,
) -> None:
    client = boto3_client(partnercentral_emulator)
    created = await call(client.create_opportunity, **opportunity())
    got = await call(client.get_opportunity, Catalog="Sandbox", Identifier=created["Id"])
    await call(client.update_opportunity, **update_from(got))
    with pytest.raises(ClientError) as info:
        await call(client.update_opportunity, **update_from(got))  # got's LastModifiedDate is now stale
    assert info.value.response["Error"]["Code"] == "ConflictException"
    assert "GetOpportunity" in info.value.response["Error"]["Message"]


async def test_update_replaces_the_whole_record(partnercentral_emulator: PartnerCentralEmulator) -> None:
    em = partnercentral_emulator
    client = boto3_client(em)
    created = await call(client.create_opportunity, **opportunity())
    got = await call(client.get_opportunity, Catalog="Sandbox", Identifier=created["Id"])
    body = update_from(got, Project={"Title": "Only a title now"})
    del body["PrimaryNeedsFromAws"]
    await call(client.update_opportunity, **body)
    after = await call(client.get_opportunity, Catalog="Sandbox", Identifier=created["Id"])
    assert after["Project"] == {"Title": "Only a title now"}
    assert "PrimaryNeedsFromAws" not in after
    assert after["Customer"]["Account"]["CompanyName"] == "Acme Corp"
    assert after["LifeCycle"]["ReviewStatus"] == "Pending Submission"  # AWS-owned, kept
    assert "PrimaryNeedsFromAws" not in em.opportunities()[created["Id"]]


async def test_client_token_makes_create_idempotent(partnercentral_emulator: PartnerCentralEmulator) -> None:
    em = partnercentral_emulator
    client = boto3_client(em)
    first = await call(client.create_opportunity, **opportunity())
    again = await call(client.create_opportunity, **opportunity())
    assert again["Id"] == first["Id"]
    assert len(em.opportunities()) == 1
    other_catalog = await call(client.create_opportunity, **opportunity(Catalog="AWS"))
    assert list(em.opportunities("AWS")) == [other_catalog["Id"]] and len(em.opportunities()) == 1
    created_events = [e for e in em.events if e["detail-type"] == "Opportunity Created"]
    assert len(created_events) == 2


async def test_eleventh_solution_is_rejected(partnercentral_emulator: PartnerCentralEmulator) -> None:
    client = boto3_client(partnercentral_emulator)
    opp = await call(client.create_opportunity, **opportunity())
    solutions = await call(client.list_solutions, Catalog="Sandbox", Status=["Active"], MaxResults=50)
    active = [s["Id"] for s in solutions["SolutionSummaries"]]
    assert len(active) >= 11 and all(s["Status"] == "Active" for s in solutions["SolutionSummaries"])
    for sid in active[:10]:
        await call(
            client.associate_opportunity,
            Catalog="Sandbox",
            OpportunityIdentifier=opp["Id"],
            RelatedEntityType="Solutions",
            RelatedEntityIdentifier=sid,
        )
    with pytest.raises(ClientError) as info:
        await call(
            client.associate_opportunity,
            Catalog="Sandbox",
            OpportunityIdentifier=opp["Id"],
            RelatedEntityType="Solutions",
            RelatedEntityIdentifier=active[10],
        )
    err = info.value.response
    assert err["Error"]["Code"] == "ValidationException" and "at most 10" in err["Error"]["Message"]
    assert err["ErrorList"][0]["Code"] == "TOO_MANY_VALUES"
    got = await call(client.get_opportunity, Catalog="Sandbox", Identifier=opp["Id"])
    assert got["RelatedEntityIdentifiers"]["Solutions"] == active[:10]
    await call(
        client.disassociate_opportunity,
        Catalog="Sandbox",
        OpportunityIdentifier=opp["Id"],
        RelatedEntityType="Solutions",
        RelatedEntityIdentifier=active[0],
    )
    with pytest.raises(ClientError) as missing:
        await call(
            client.associate_opportunity,
            Catalog="Sandbox",
            OpportunityIdentifier=opp["Id"],
            RelatedEntityType="Solutions",
            RelatedEntityIdentifier="S-999",
        )
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


async def test_unknown_ids_are_resource_not_found(partnercentral_emulator: PartnerCentralEmulator) -> None:
    client = boto3_client(partnercentral_emulator)
    for fn, kwargs in (
        (client.get_opportunity, {"Identifier": "O42"}),
        (client.get_engagement_invitation, {"Identifier": "engi-0000000000000"}),
        (client.get_engagement, {"Identifier": "eng-00000000000000"}),
        (client.get_aws_opportunity_summary, {"RelatedOpportunityIdentifier": "O42"}),
    ):
        with pytest.raises(ClientError) as info:
            await call(fn, Catalog="Sandbox", **kwargs)
        assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# -- wire-level errors --------------------------------------------------------------------------------
async def test_server_side_validation_with_botocore_model(
    partnercentral_emulator: PartnerCentralEmulator, http: aiohttp.ClientSession
) -> None:
    target = "AWSPartnerCentralSelling.CreateOpportunity"
    status, body = await raw(http, partnercentral_emulator, target, json.dumps({"Catalog": "Sandbox"}))
    assert status == 400 and body["__type"] == "ValidationException"
    assert body["Reason"] == "REQUEST_VALIDATION_FAILED"
    assert {"FieldName": "ClientToken", "Code": "REQUIRED_FIELD_MISSING"}.items() <= body["ErrorList"][
        0
    ].items()
    bad_enum = opportunity(OpportunityType="Big Deal")
    status, body = await raw(http, partnercentral_emulator, target, json.dumps(bad_enum))
    assert status == 400 and body["ErrorList"][0]["FieldName"] == "OpportunityType"
    assert body["ErrorList"][0]["Code"] == "INVALID_ENUM_VALUE"
    status, body = await raw(
        http,
        partnercentral_emulator,
        "AWSPartnerCentralSelling.GetOpportunity",
        json.dumps({"Catalog": "Sandbox", "Identifier": "not-an-id"}),
    )
    assert status == 400 and body["ErrorList"][0]["Code"] == "INVALID_STRING_FORMAT"
    status, body = await raw(
        http,
        partnercentral_emulator,
        "AWSPartnerCentralSelling.ListOpportunities",
        json.dumps({"Catalog": "Prod"}),
    )
    assert status == 400 and "Catalog" in body["message"]
    assert partnercentral_emulator.opportunities() == {}


async def test_bad_input_never_yields_a_500(
    partnercentral_emulator: PartnerCentralEmulator, http: aiohttp.ClientSession
) -> None:
    em = partnercentral_emulator
    cases = [
        ("AWSPartnerCentralSelling.ListOpportunities", b"{not json", 400, "SerializationException"),
        ("AWSPartnerCentralSelling.ListOpportunities", b"[1, 2]", 400, "SerializationException"),
        ("AWSPartnerCentralSelling.Frobnicate", b"{}", 400, "UnknownOperationException"),
        ("SomethingElse.ListOpportunities", b"{}", 400, "UnknownOperationException"),
        ("", b"{}", 400, "UnknownOperationException"),
        ("AWSPartnerCentralSelling.TagResource", b"{}", 400, "AccessDeniedException"),
        (
            "AWSPartnerCentralSelling.ListOpportunities",
            b'{"Catalog": "Sandbox", "NextToken": "garbage"}',
            400,
            "ValidationException",
        ),
        (
            "AWSPartnerCentralSelling.ListOpportunities",
            b'{"Catalog": "Sandbox", "MaxResults": "ten"}',
            400,
            "ValidationException",
        ),
    ]
    for target, body, status, code in cases:
        got_status, got = await raw(http, em, target, body)
        assert (got_status, got["__type"]) == (status, code), (target, body, got)
        assert got["message"]
    status, got = await raw(
        http, em, "AWSPartnerCentralSelling.ListOpportunities", b'{"Catalog": "Sandbox"}', auth=False
    )
    assert status == 403 and got["__type"] == "MissingAuthenticationTokenException"
    async with http.post(em.base_url + "/_sandbox/opportunities/O1", data=b"{nope") as resp:
        assert resp.status == 400 and "not valid JSON" in (await resp.json())["error"]
    async with http.post(em.base_url + "/_sandbox/invitations", json={"customer": {}}) as resp:
        assert resp.status == 400 and "CompanyName" in (await resp.json())["error"]


async def test_unauthenticated_request_is_rejected_the_way_botocore_parses(
    partnercentral_emulator: PartnerCentralEmulator,
) -> None:
    from botocore import UNSIGNED

    client = boto3_client(
        partnercentral_emulator, Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1})
    )
    with pytest.raises(ClientError) as info:
        await call(client.list_opportunities, Catalog="Sandbox")
    assert info.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


# -- quotas -------------------------------------------------------------------------------------------
async def test_writes_are_throttled_at_write_rate_with_time_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    # The quota's clock is driven: 100 calls 10 ms apart make one wall second however long each call takes.
    clock = drive_time(monkeypatch, pc_throttle)
    async with PartnerCentralEmulator(write_rate=1.0, read_rate=10.0, time_scale=10.0) as em:
        assert isinstance(em, PartnerCentralEmulator)
        session = get_session()
        async with session.create_client(
            "partnercentral-selling",
            endpoint_url=em.base_url,
            region_name="us-east-1",
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",
            config=NO_RETRIES,
        ) as client:
            ok = throttled = 0
            for i in range(100):
                try:
                    await client.create_opportunity(**opportunity(ClientToken=f"t-{i}"))
                    ok += 1
                except ClientError as exc:
                    assert exc.response["Error"]["Code"] == "ThrottlingException"
                    assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 400
                    throttled += 1
                clock.advance(0.01)
            # 1 write/s at time_scale 10 is 10 writes per wall second
            assert 8 <= ok <= 11, ok
            assert throttled > 0
            assert em.max_write_rate_observed == 1.0
            # reads have their own bucket
            listed = await client.list_opportunities(Catalog="Sandbox")
            assert len(listed["OpportunitySummaries"]) == ok


async def test_daily_cap_throttles_within_the_rolling_window() -> None:
    async with PartnerCentralEmulator(write_rate=1000.0, write_daily_cap=3, time_scale=1.0) as em:
        assert isinstance(em, PartnerCentralEmulator)
        client = boto3_client(em)
        for i in range(3):
            await call(client.create_opportunity, **opportunity(ClientToken=f"d-{i}"))
        with pytest.raises(ClientError) as info:
            await call(client.create_opportunity, **opportunity(ClientToken="d-3"))
        assert info.value.response["Error"]["Code"] == "ThrottlingException"
        assert "24 hours" in info.value.response["Error"]["Message"]
