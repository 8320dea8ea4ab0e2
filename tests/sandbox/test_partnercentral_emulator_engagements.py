"""Partner Central emulator: referrals, asynchronous engagement tasks, review lifecycle and EventBridge events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiobotocore.session import get_session
from botocore.exceptions import ClientError
from test_partnercentral_emulator import NO_RETRIES, TIMEOUT, opportunity, update_from, wait_for

from cosync_worker.events.parsers import parse_eventbridge_event
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator

ENVELOPE_KEYS = {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}


@pytest_asyncio.fixture
async def client(partnercentral_emulator: PartnerCentralEmulator) -> AsyncIterator[Any]:
    async with get_session().create_client(
        "partnercentral-selling",
        endpoint_url=partnercentral_emulator.base_url,
        region_name="us-east-1",
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
        config=NO_RETRIES,
    ) as c:
        yield c


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        yield session


async def operator(
    http: aiohttp.ClientSession, em: PartnerCentralEmulator, path: str, body: dict[str, Any]
) -> Any:
    async with http.post(em.base_url + path, json=body) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_referral_accepted_by_task_becomes_an_opportunity(
    partnercentral_emulator: PartnerCentralEmulator, client: Any, http: aiohttp.ClientSession
) -> None:
    em = partnercentral_emulator
    created = await operator(
        http,
        em,
        "/_sandbox/invitations",
        {
            "catalog": "Sandbox",
            "customer": {
                "CompanyName": "Globex",
                "CountryCode": "DE",
                "Industry": "Manufacturing",
                "WebsiteUrl": "https://globex.example.com",
            },
            "project": {
                "Title": "SAP migration",
                "CustomerBusinessProblem": "End of support",
                "ExpectedCustomerSpend": 25000,
            },
        },
    )
    inv_id = created["invitation_id"]
    listed = await client.list_engagement_invitations(
        Catalog="Sandbox", ParticipantType="RECEIVER", Status=["PENDING"]
    )
    assert [i["Id"] for i in listed["EngagementInvitationSummaries"]] == [inv_id]
    invitation = await client.get_engagement_invitation(Catalog="Sandbox", Identifier=inv_id)
    assert invitation["EngagementId"] == created["engagement_id"]
    assert invitation["Payload"]["OpportunityInvitation"]["Customer"]["CompanyName"] == "Globex"

    task = await client.start_engagement_by_accepting_invitation_task(
        Catalog="Sandbox", Identifier=inv_id, ClientToken="accept-1"
    )
    assert task["TaskStatus"] == "IN_PROGRESS" and "OpportunityId" not in task
    again = await client.start_engagement_by_accepting_invitation_task(
        Catalog="Sandbox", Identifier=inv_id, ClientToken="accept-1"
    )
    assert again["TaskId"] == task["TaskId"]

    async def complete() -> Any:
        tasks = await client.list_engagement_by_accepting_invitation_tasks(
            Catalog="Sandbox", TaskIdentifier=[task["TaskId"]]
        )
        summary = tasks["TaskSummaries"][0]
        return summary if summary["TaskStatus"] == "COMPLETE" else None

    done = await wait_for(complete)
    opp = await client.get_opportunity(Catalog="Sandbox", Identifier=done["OpportunityId"])
    assert opp["Customer"]["Account"]["CompanyName"] == "Globex"
    assert opp["Project"]["ExpectedCustomerSpend"][0]["Amount"] == "25000"
    summary = await client.get_aws_opportunity_summary(
        Catalog="Sandbox", RelatedOpportunityIdentifier=opp["Id"]
    )
    assert summary["Origin"] == "AWS Referral"
    invitation = await client.get_engagement_invitation(Catalog="Sandbox", Identifier=inv_id)
    assert invitation["Status"] == "ACCEPTED"
    members = await client.list_engagement_members(Catalog="Sandbox", Identifier=created["engagement_id"])
    assert {m["AccountId"] for m in members["EngagementMemberList"]} == {"aws", em.account_id}
    with pytest.raises(ClientError) as info:
        await client.accept_engagement_invitation(Catalog="Sandbox", Identifier=inv_id)
    assert info.value.response["Error"]["Code"] == "ConflictException"

    types = [e["detail-type"] for e in em.events]
    assert types == [
        "Engagement Invitation Created",
        "Engagement Invitation Accepted",
        "Engagement Member Joined",
        "Opportunity Created",
        # the task's resource snapshot job takes its first snapshot of the new opportunity
        "Resource Snapshot Created",
        "Engagement Resource Snapshot Created",
    ]
    for event in em.events:
        assert set(event) == ENVELOPE_KEYS
        assert event["source"] == "aws.partnercentral-selling" and event["region"] == "us-east-1"
        assert event["account"] == em.account_id and event["detail"]["catalog"] == "Sandbox"
        assert event["detail"]["schemaVersion"] == "1" and event["time"].endswith("Z")
    assert em.events[0]["detail"]["engagementInvitation"]["id"] == inv_id
    assert em.events[3]["detail"]["opportunity"] == {"identifier": opp["Id"]}
    job = await client.get_resource_snapshot_job(
        Catalog="Sandbox", ResourceSnapshotJobIdentifier=done["ResourceSnapshotJobId"]
    )
    assert (job["Status"], job["ResourceId"]) == ("Running", opp["Id"])
    async with http.get(em.base_url + "/_sandbox/events") as resp:
        assert [e["id"] for e in await resp.json()] == [e["id"] for e in em.events]


async def test_reject_and_expire_invitations(
    partnercentral_emulator: PartnerCentralEmulator, client: Any, http: aiohttp.ClientSession
) -> None:
    em = partnercentral_emulator
    body = {"customer": {"CompanyName": "Initech", "CountryCode": "US"}, "project": {"Title": "Analytics"}}
    first = await operator(http, em, "/_sandbox/invitations", body)
    second = await operator(http, em, "/_sandbox/invitations", body)
    await client.reject_engagement_invitation(
        Catalog="Sandbox", Identifier=first["invitation_id"], RejectionReason="Customer not a fit"
    )
    got = await client.get_engagement_invitation(Catalog="Sandbox", Identifier=first["invitation_id"])
    assert got["Status"] == "REJECTED" and got["RejectionReason"] == "Customer not a fit"
    expired = await operator(http, em, f"/_sandbox/invitations/{second['invitation_id']}/expire", {})
    assert expired["status"] == "EXPIRED"
    assert [e["detail-type"] for e in em.events][-2:] == [
        "Engagement Invitation Rejected",
        "Engagement Invitation Expired",
    ]


async def test_submission_lifecycle_and_frozen_fields(
    partnercentral_emulator: PartnerCentralEmulator, client: Any, http: aiohttp.ClientSession
) -> None:
    em = partnercentral_emulator
    created = await client.create_opportunity(**opportunity())
    task = await client.start_engagement_from_opportunity_task(
        Catalog="Sandbox",
        Identifier=created["Id"],
        ClientToken="submit-1",
        AwsSubmission={"InvolvementType": "Co-Sell", "Visibility": "Full"},
    )
    assert task["TaskStatus"] == "IN_PROGRESS"

    async def complete() -> Any:
        tasks = await client.list_engagement_from_opportunity_tasks(
            Catalog="Sandbox", OpportunityIdentifier=[created["Id"]]
        )
        summary = tasks["TaskSummaries"][0]
        return summary if summary["TaskStatus"] == "COMPLETE" else None

    done = await wait_for(complete)
    assert done["EngagementId"].startswith("eng-") and done["EngagementInvitationId"].startswith("engi-")
    opp = await client.get_opportunity(Catalog="Sandbox", Identifier=created["Id"])
    assert opp["LifeCycle"]["ReviewStatus"] == "Submitted"
    with pytest.raises(ClientError) as locked:
        await client.update_opportunity(**update_from(opp))
    assert locked.value.response["Error"]["Code"] == "ValidationException"
    assert locked.value.response["ErrorList"][0]["FieldName"] == "LifeCycle.ReviewStatus"

    # AWS reviews and approves; the operator API plays AWS
    result = await operator(
        http,
        em,
        f"/_sandbox/opportunities/{created['Id']}",
        {
            "ReviewStatus": "Approved",
            "Stage": "Qualify",
            "EngagementScore": "High",
            "NextSteps": "Intro call",
            "AwsSeller": {"Email": "seller@amazon.com", "FirstName": "Sam", "LastName": "Seller"},
        },
    )
    assert result["events"] == ["Opportunity Updated", "Opportunity Accepted"]
    summary = await client.get_aws_opportunity_summary(
        Catalog="Sandbox", RelatedOpportunityIdentifier=created["Id"]
    )
    assert summary["InvolvementType"] == "Co-Sell" and summary["Insights"]["EngagementScore"] == "High"
    assert (
        summary["LifeCycle"]["Stage"] == "Qualify"
        and summary["OpportunityTeam"][0]["Email"] == "seller@amazon.com"
    )
    opp = await client.get_opportunity(Catalog="Sandbox", Identifier=created["Id"])
    assert opp["LifeCycle"]["ReviewStatus"] == "Approved"

    renamed = update_from(opp)
    renamed["Customer"]["Account"]["CompanyName"] = "Acme Holdings"
    with pytest.raises(ClientError) as frozen:
        await client.update_opportunity(**renamed)
    assert frozen.value.response["ErrorList"][0]["FieldName"] == "Customer.Account.CompanyName"
    allowed = update_from(
        opp, LifeCycle={"Stage": "Committed", "TargetCloseDate": opp["LifeCycle"]["TargetCloseDate"]}
    )
    await client.update_opportunity(**allowed)

    snaps = await client.list_resource_snapshots(Catalog="Sandbox", EngagementIdentifier=done["EngagementId"])
    # the task's running snapshot job took revision 1, then one after AWS's approval and one after the update
    assert [s["Revision"] for s in snaps["ResourceSnapshotSummaries"]] == [1, 2, 3]
    made = await client.create_resource_snapshot(
        Catalog="Sandbox",
        EngagementIdentifier=done["EngagementId"],
        ResourceType="Opportunity",
        ResourceIdentifier=created["Id"],
        ResourceSnapshotTemplateIdentifier="OpportunitySummaryView",
        ClientToken="s-2",
    )
    assert made["Revision"] == 4
    snap = await client.get_resource_snapshot(
        Catalog="Sandbox",
        EngagementIdentifier=done["EngagementId"],
        ResourceType="Opportunity",
        ResourceIdentifier=created["Id"],
        ResourceSnapshotTemplateIdentifier="OpportunitySummaryView",
    )
    assert (
        snap["Revision"] == 4 and snap["Payload"]["OpportunitySummary"]["Lifecycle"]["Stage"] == "Committed"
    )
    engagement = await client.get_engagement(Catalog="Sandbox", Identifier=done["EngagementId"])
    assert engagement["MemberCount"] == 2
    assert engagement["Contexts"][0]["Payload"]["CustomerProject"]["Customer"]["CompanyName"] == "Acme Corp"
    types = [e["detail-type"] for e in em.events]
    assert "Resource Snapshot Created" in types and "Engagement Resource Snapshot Created" in types
    assert "Engagement Member Added" in types
    # every event is one cosync's own EventBridge parser accepts, keyed by the object it concerns
    for event in em.events:
        parsed = parse_eventbridge_event(event)
        assert parsed.dedupe_key == f"eventbridge:{event['id']}"
        assert parsed.object.id in (created["Id"], done["EngagementId"], done["EngagementInvitationId"])


async def test_submission_with_missing_fields_fails_the_task(
    partnercentral_emulator: PartnerCentralEmulator, client: Any
) -> None:
    bare = await client.create_opportunity(
        Catalog="Sandbox", ClientToken="bare", Customer={"Account": {"CompanyName": "Bare Inc"}}
    )
    await client.start_engagement_from_opportunity_task(
        Catalog="Sandbox",
        Identifier=bare["Id"],
        ClientToken="t",
        AwsSubmission={"InvolvementType": "Co-Sell"},
    )

    async def finished() -> Any:
        tasks = await client.list_engagement_from_opportunity_tasks(Catalog="Sandbox")
        summary = tasks["TaskSummaries"][0]
        return summary if summary["TaskStatus"] != "IN_PROGRESS" else None

    failed = await wait_for(finished)
    assert failed["TaskStatus"] == "FAILED" and failed["ReasonCode"] == "OpportunitySubmissionFailed"
    assert "Project.Title" in failed["Message"]
    with pytest.raises(ClientError) as info:
        await client.submit_opportunity(Catalog="Sandbox", Identifier=bare["Id"], InvolvementType="Co-Sell")
    assert "Customer.Account.Address.CountryCode" in info.value.response["Error"]["Message"]


async def test_event_sink_receives_events_and_its_errors_do_not_break_calls(
    partnercentral_emulator: PartnerCentralEmulator, client: Any
) -> None:
    em = partnercentral_emulator
    received: list[dict[str, Any]] = []

    async def sink(event: dict[str, Any]) -> None:
        received.append(event)
        raise RuntimeError("downstream queue is down")

    em.set_event_sink(sink)
    created = await client.create_opportunity(**opportunity())
    assert created["Id"]
    await asyncio.sleep(0)
    assert [e["detail-type"] for e in received] == ["Opportunity Created"]
    assert received[0] is em.events[-1]


async def test_operator_api_rejects_bad_fields(
    partnercentral_emulator: PartnerCentralEmulator, client: Any, http: aiohttp.ClientSession
) -> None:
    em = partnercentral_emulator
    created = await client.create_opportunity(**opportunity())
    for body, fragment in (
        ({"ReviewStatus": "Done"}, "ReviewStatus"),
        ({"Colour": "red"}, "Colour"),
        ({"EngagementScore": "Huge"}, "EngagementScore"),
    ):
        async with http.post(f"{em.base_url}/_sandbox/opportunities/{created['Id']}", json=body) as resp:
            assert resp.status == 400 and fragment in (await resp.json())["error"]
    async with http.post(f"{em.base_url}/_sandbox/opportunities/O9", json={}) as resp:
        assert resp.status == 404
