"""Partner Central emulator: engagement writes, resource snapshots and snapshot jobs and the engagement
operator API, driven by boto3's own ``partnercentral-selling`` client over loopback."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from botocore.exceptions import ClientError
from botocore.session import get_session
from test_partnercentral_emulator import FUTURE, TIMEOUT, boto3_client, call, opportunity, raw, wait_for
from test_partnercentral_emulator_engagements import operator

from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.sandbox.partnercentral import throttle as pc_throttle
from cosync_worker.testing.clock import drive_time

MODEL = get_session().get_service_model("partnercentral-selling")


def pattern(shape: str) -> re.Pattern[str]:
    return re.compile(MODEL.shape_for(shape).metadata["pattern"])


CUSTOMER_PROJECT = {
    "CustomerProject": {
        "Customer": {
            "Industry": "Manufacturing",
            "CompanyName": "Globex",
            "WebsiteUrl": "https://globex.example.com",
            "CountryCode": "DE",
        },
        "Project": {
            "Title": "Plant analytics",
            "BusinessProblem": "Sensor data sits on premises and nobody reads it",
            "TargetCompletionDate": FUTURE,
        },
    }
}
LEAD = {
    "Lead": {
        "QualificationStatus": "Qualified",
        "Customer": {"CompanyName": "Initech", "Industry": "Financial Services", "WebsiteUrl": "initech.com"},
        "Interactions": [
            {
                "SourceType": "Webinar",
                "SourceName": "Cloud day",
                "BusinessProblem": "Batch jobs overrun every night",
                "Contact": {
                    "BusinessTitle": "CTO",
                    "Email": "peter@initech.example.com",
                    "FirstName": "Peter",
                    "LastName": "Gibbons",
                },
            }
        ],
    }
}


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        yield session


async def error(fn: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        await call(fn, **kwargs)
    response: dict[str, Any] = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return response


async def new_engagement(client: Any, token: str = "e-1", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Catalog": "Sandbox",
        "ClientToken": token,
        "Title": "Globex plant analytics",
        "Description": "Co-sell the analytics platform",
        "Contexts": [{"Type": "CustomerProject", "Payload": CUSTOMER_PROJECT}],
    }
    body.update(extra)
    created: dict[str, Any] = await call(client.create_engagement, **body)
    return created


async def test_engagement_contexts_and_invitations(partnercentral_emulator: PartnerCentralEmulator) -> None:
    em = partnercentral_emulator
    client = boto3_client(em)
    created = await new_engagement(client)
    assert pattern("EngagementIdentifier").fullmatch(created["Id"]) and created["Arn"].startswith("arn:")
    assert (await new_engagement(client))["Id"] == created["Id"]  # the ClientToken makes it idempotent
    eng = await call(client.get_engagement, Catalog="Sandbox", Identifier=created["Arn"])
    assert eng["CreatedBy"] == em.account_id and eng["MemberCount"] == 1
    assert [(c["Id"], c["Type"]) for c in eng["Contexts"]] == [("1", "CustomerProject")]
    members = await call(client.list_engagement_members, Catalog="Sandbox", Identifier=created["Id"])
    assert [m["AccountId"] for m in members["EngagementMemberList"]] == [em.account_id]

    lead = await call(
        client.create_engagement_context,
        Catalog="Sandbox",
        EngagementIdentifier=created["Id"],
        ClientToken="ctx-1",
        Type="Lead",
        Payload=LEAD,
    )
    assert lead["ContextId"] == "2" and pattern("ContextIdentifier").fullmatch(lead["ContextId"])
    listed = await call(client.list_engagements, Catalog="Sandbox", ContextTypes=["Lead"])
    assert [e["Id"] for e in listed["EngagementSummaryList"]] == [created["Id"]]
    excluded = await call(client.list_engagements, Catalog="Sandbox", ExcludeContextTypes=["Lead"])
    assert excluded["EngagementSummaryList"] == []

    # optimistic locking on EngagementLastModifiedAt
    update = {
        "Catalog": "Sandbox",
        "EngagementIdentifier": created["Id"],
        "ContextIdentifier": "2",
        "Type": "Lead",
        "Payload": {
            "Lead": {
                "QualificationStatus": "Sales Qualified",
                "Customer": {"CompanyName": "Initech Corp"},
                "Interaction": {
                    "SourceType": "Call",
                    "Contact": {
                        "BusinessTitle": "CFO",
                        "Email": "bill@initech.example.com",
                        "FirstName": "Bill",
                        "LastName": "Lumbergh",
                    },
                },
            }
        },
    }
    stale = lead["EngagementLastModifiedAt"] - timedelta(seconds=1)
    conflict = await error(client.update_engagement_context, **update, EngagementLastModifiedAt=stale)
    assert conflict["Error"]["Code"] == "ConflictException"
    updated = await call(
        client.update_engagement_context, **update, EngagementLastModifiedAt=lead["EngagementLastModifiedAt"]
    )
    assert updated["EngagementLastModifiedAt"] > lead["EngagementLastModifiedAt"]
    eng = await call(client.get_engagement, Catalog="Sandbox", Identifier=created["Id"])
    payload = eng["Contexts"][1]["Payload"]["Lead"]
    assert payload["Customer"]["CompanyName"] == "Initech Corp" and len(payload["Interactions"]) == 2
    wrong_type = await error(
        client.update_engagement_context,
        **(update | {"Type": "CustomerProject", "Payload": CUSTOMER_PROJECT}),
        EngagementLastModifiedAt=updated["EngagementLastModifiedAt"],
    )
    assert wrong_type["Error"]["Code"] == "ValidationException"
    missing = await error(
        client.update_engagement_context,
        **(update | {"ContextIdentifier": "9"}),
        EngagementLastModifiedAt=updated["EngagementLastModifiedAt"],
    )
    assert missing["Error"]["Code"] == "ResourceNotFoundException"

    # inviting another partner; the operator plays that partner accepting
    invitation = {
        "Message": "Join us on Globex",
        "Receiver": {"Account": {"AwsAccountId": "210987654321"}},
        "Payload": {
            "OpportunityInvitation": {
                "ReceiverResponsibilities": ["Software Partner"],
                "Customer": CUSTOMER_PROJECT["CustomerProject"]["Customer"],
                "Project": {
                    "Title": "Plant analytics",
                    "BusinessProblem": "Sensor data sits on premises and nobody reads it",
                    "TargetCompletionDate": FUTURE,
                    "ExpectedCustomerSpend": [
                        {
                            "Amount": "5000",
                            "CurrencyCode": "USD",
                            "Frequency": "Monthly",
                            "TargetCompany": "AWS",
                        }
                    ],
                },
            }
        },
    }
    sent = await call(
        client.create_engagement_invitation,
        Catalog="Sandbox",
        ClientToken="inv-1",
        EngagementIdentifier=created["Id"],
        Invitation=invitation,
    )
    assert pattern("EngagementInvitationIdentifier").fullmatch(sent["Id"])
    assert pattern("EngagementInvitationArn").fullmatch(sent["Arn"])
    again = await error(
        client.create_engagement_invitation,
        Catalog="Sandbox",
        ClientToken="inv-2",
        EngagementIdentifier=created["Id"],
        Invitation=invitation,
    )
    assert again["Error"]["Code"] == "ConflictException"
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        joined = await operator(
            session,
            em,
            f"/_sandbox/engagements/{created['Id']}/members",
            {"account_id": "210987654321", "company_name": "Other Partner", "event": "joined"},
        )
    assert joined == {"engagement_id": created["Id"], "member_count": 2, "event": "Engagement Member Joined"}
    got = await call(client.get_engagement_invitation, Catalog="Sandbox", Identifier=sent["Id"])
    assert got["Status"] == "ACCEPTED"
    event = em.events[-1]
    assert event["detail-type"] == "Engagement Member Joined" and event["resources"] == [created["Arn"]]
    assert event["detail"]["engagement"] == {
        "id": created["Id"],
        "arn": created["Arn"],
        "memberAccountId": "210987654321",
    }


async def test_opportunity_from_a_lead_context(partnercentral_emulator: PartnerCentralEmulator) -> None:
    em = partnercentral_emulator
    client = boto3_client(em)
    created = await new_engagement(
        client,
        Contexts=[
            {"Type": "CustomerProject", "Payload": CUSTOMER_PROJECT},
            {"Type": "Lead", "Payload": LEAD},
        ],
    )
    start = {"Catalog": "Sandbox", "Identifier": created["Id"]}
    task = await call(
        client.start_opportunity_from_engagement_task, **start, ClientToken="t-1", ContextIdentifier="2"
    )
    assert task["TaskStatus"] == "IN_PROGRESS" and pattern("TaskIdentifier").fullmatch(task["TaskId"])
    conflict = await error(
        client.start_opportunity_from_engagement_task, **start, ClientToken="t-2", ContextIdentifier="2"
    )
    assert conflict["Error"]["Code"] == "ConflictException"
    refused = await call(
        client.start_opportunity_from_engagement_task, **start, ClientToken="t-3", ContextIdentifier="1"
    )
    absent = await call(
        client.start_opportunity_from_engagement_task, **start, ClientToken="t-4", ContextIdentifier="7"
    )

    async def finished() -> Any:
        tasks = await call(client.list_opportunity_from_engagement_tasks, Catalog="Sandbox")
        summaries = {t["TaskId"]: t for t in tasks["TaskSummaries"]}
        return summaries if all(t["TaskStatus"] != "IN_PROGRESS" for t in summaries.values()) else None

    summaries = await wait_for(finished)
    done = summaries[task["TaskId"]]
    assert done["TaskStatus"] == "COMPLETE" and done["ContextId"] == "2"
    assert pattern("OpportunityIdentifier").fullmatch(done["OpportunityId"])
    assert pattern("ResourceSnapshotJobIdentifier").fullmatch(done["ResourceSnapshotJobId"])
    assert summaries[refused["TaskId"]]["ReasonCode"] == "CustomerProjectContextNotPermitted"
    assert summaries[absent["TaskId"]]["ReasonCode"] == "ContextNotFound"
    opp = await call(client.get_opportunity, Catalog="Sandbox", Identifier=done["OpportunityId"])
    assert opp["Customer"]["Account"]["CompanyName"] == "Initech"
    assert opp["Project"]["CustomerBusinessProblem"] == "Batch jobs overrun every night"
    assoc = await call(
        client.list_engagement_resource_associations, Catalog="Sandbox", EngagementIdentifier=created["Id"]
    )
    assert [(a["ResourceId"], a["CreatedBy"]) for a in assoc["EngagementResourceAssociationSummaries"]] == [
        (done["OpportunityId"], em.account_id)
    ]
    job = await call(
        client.get_resource_snapshot_job,
        Catalog="Sandbox",
        ResourceSnapshotJobIdentifier=done["ResourceSnapshotJobId"],
    )
    assert job["Status"] == "Running" and job["LastSuccessfulExecutionDate"]


async def test_snapshot_jobs_snapshot_changes_and_keep_their_lifecycle(
    partnercentral_emulator: PartnerCentralEmulator, http: aiohttp.ClientSession
) -> None:
    em = partnercentral_emulator
    client = boto3_client(em)
    opp = await call(client.create_opportunity, **opportunity())
    created = await new_engagement(client)
    spec = {
        "Catalog": "Sandbox",
        "EngagementIdentifier": created["Id"],
        "ResourceType": "Opportunity",
        "ResourceIdentifier": opp["Id"],
        "ResourceSnapshotTemplateIdentifier": "OpportunitySummaryView",
    }
    job = await call(client.create_resource_snapshot_job, **spec, ClientToken="j-1")
    assert pattern("ResourceSnapshotJobIdentifier").fullmatch(job["Id"])
    assert (await call(client.create_resource_snapshot_job, **spec, ClientToken="j-1"))["Id"] == job["Id"]
    duplicate = await error(client.create_resource_snapshot_job, **spec, ClientToken="j-2")
    assert duplicate["Error"]["Code"] == "ConflictException"
    ident = {"Catalog": "Sandbox", "ResourceSnapshotJobIdentifier": job["Id"]}
    assert (await call(client.get_resource_snapshot_job, **ident))["Status"] == "Stopped"
    not_started = await error(client.stop_resource_snapshot_job, **ident)
    assert not_started["Error"]["Code"] == "ValidationException"

    before = len(em.events)
    await call(client.start_resource_snapshot_job, **ident)
    assert [e["detail-type"] for e in em.events[before:]] == [
        "Resource Snapshot Created",
        "Engagement Resource Snapshot Created",
    ]
    snapshot_event = em.events[before]["detail"]
    assert snapshot_event["resourceSnapshot"]["revision"] == 1
    assert snapshot_event["opportunity"] == {"identifier": opp["Id"]}
    # a change of the opportunity is a new revision; a run that finds nothing new makes none
    current = await call(client.get_opportunity, Catalog="Sandbox", Identifier=opp["Id"])
    changed = {k: current[k] for k in ("Customer", "Project", "OpportunityType", "PrimaryNeedsFromAws")}
    changed["LifeCycle"] = {**current["LifeCycle"], "NextSteps": "Workshop"}
    changed["LifeCycle"].pop("NextStepsHistory", None)
    await call(
        client.update_opportunity,
        Catalog="Sandbox",
        Identifier=opp["Id"],
        LastModifiedDate=current["LastModifiedDate"],
        **changed,
    )
    snaps = await call(client.list_resource_snapshots, Catalog="Sandbox", EngagementIdentifier=created["Id"])
    assert [s["Revision"] for s in snaps["ResourceSnapshotSummaries"]] == [1, 2]
    latest = await call(client.get_resource_snapshot, **spec)
    assert (
        latest["Revision"] == 2
        and latest["Payload"]["OpportunitySummary"]["Lifecycle"]["NextSteps"] == "Workshop"
    )

    running = await error(client.delete_resource_snapshot_job, **ident)
    assert running["Error"]["Code"] == "ConflictException"
    await call(client.stop_resource_snapshot_job, **ident)
    stopped = await call(client.list_resource_snapshot_jobs, Catalog="Sandbox", Status="Stopped")
    assert [j["Id"] for j in stopped["ResourceSnapshotJobSummaries"]] == [job["Id"]]
    await call(client.delete_resource_snapshot_job, **ident)
    gone = await error(client.get_resource_snapshot_job, **ident)
    assert gone["Error"]["Code"] == "ResourceNotFoundException"

    # AWS shares its view of the opportunity into the engagement (operator API)
    async with http.post(
        em.base_url + f"/_sandbox/engagements/{created['Id']}/snapshots", json={"opportunity_id": opp["Id"]}
    ) as resp:
        assert resp.status == 409 and "not a member" in (await resp.json())["error"]
    await operator(
        http,
        em,
        f"/_sandbox/engagements/{created['Id']}/members",
        {"account_id": "aws", "company_name": "Amazon Web Services"},
    )
    assert em.events[-1]["detail-type"] == "Engagement Member Added"
    shared = await operator(
        http, em, f"/_sandbox/engagements/{created['Id']}/snapshots", {"opportunity_id": opp["Id"]}
    )
    assert shared["revision"] == 1 and [e["detail-type"] for e in em.events[-2:]] == shared["events"]
    aws_view = await call(
        client.list_resource_snapshots, Catalog="Sandbox", EngagementIdentifier=created["Id"], CreatedBy="aws"
    )
    assert [s["ResourceSnapshotTemplateName"] for s in aws_view["ResourceSnapshotSummaries"]] == [
        "AwsOpportunitySummaryFullView"
    ]


async def test_operator_changes_a_context_and_lists_engagements(
    partnercentral_emulator: PartnerCentralEmulator, http: aiohttp.ClientSession
) -> None:
    em = partnercentral_emulator
    client = boto3_client(em)
    created = await new_engagement(client)
    before = await call(client.get_engagement, Catalog="Sandbox", Identifier=created["Id"])
    project = json.loads(json.dumps(CUSTOMER_PROJECT))
    project["CustomerProject"]["Project"]["Title"] = "Plant analytics, phase 2"
    changed = await operator(http, em, f"/_sandbox/engagements/{created['Id']}/context", {"payload": project})
    assert changed["context_id"] == "1"
    after = await call(client.get_engagement, Catalog="Sandbox", Identifier=created["Id"])
    assert after["ModifiedAt"] > before["ModifiedAt"] and after["ModifiedBy"] == "aws"
    assert (
        after["Contexts"][0]["Payload"]["CustomerProject"]["Project"]["Title"] == "Plant analytics, phase 2"
    )
    async with http.post(
        em.base_url + f"/_sandbox/engagements/{created['Id']}/context",
        json={"payload": {"CustomerProject": {"Customer": {"CompanyName": "x"}}}},
    ) as resp:
        assert resp.status == 400 and "Industry" in (await resp.json())["error"]
    async with http.post(em.base_url + "/_sandbox/engagements/eng-00000000000000/members", json={}) as resp:
        assert resp.status == 404
    async with http.get(em.base_url + "/_sandbox/engagements") as resp:
        listing = (await resp.json())["engagements"]
    assert [(e["id"], len(e["members"]), e["contexts"][0]["Id"]) for e in listing] == [
        (created["Id"], 1, "1")
    ]


async def test_request_validation_answers_the_real_error_shape(
    partnercentral_emulator: PartnerCentralEmulator, http: aiohttp.ClientSession
) -> None:
    em = partnercentral_emulator
    client = boto3_client(em)
    # botocore checks only presence and types before sending; patterns, maxima and enums are the server's
    bad_id = await error(client.get_engagement, Catalog="Sandbox", Identifier="eng-123")
    assert (
        bad_id["Error"]["Code"] == "ValidationException" and bad_id["Reason"] == "REQUEST_VALIDATION_FAILED"
    )
    assert bad_id["ErrorList"][0] == {
        "FieldName": "Identifier",
        "Message": "Identifier does not match the required format",
        "Code": "INVALID_STRING_FORMAT",
    }
    too_many = await error(
        client.list_engagement_members, Catalog="Sandbox", Identifier="eng-00000000000000", MaxResults=11
    )
    assert too_many["ErrorList"][0]["FieldName"] == "MaxResults"
    bad_job = await error(
        client.get_resource_snapshot_job, Catalog="Sandbox", ResourceSnapshotJobIdentifier="job-1"
    )
    assert bad_job["ErrorList"][0]["Code"] == "INVALID_STRING_FORMAT"
    untitled = await error(
        client.create_engagement, Catalog="Sandbox", ClientToken="x", Description="no title"
    )
    assert untitled["ErrorList"][0] == {
        "FieldName": "Title",
        "Message": "is required",
        "Code": "REQUIRED_FIELD_MISSING",
    }
    mismatch = await error(
        client.create_engagement_context,
        Catalog="Sandbox",
        EngagementIdentifier=(await new_engagement(client))["Id"],
        ClientToken="c",
        Type="Lead",
        Payload=CUSTOMER_PROJECT,
    )
    assert (
        mismatch["Error"]["Code"] == "ValidationException"
        and mismatch["ErrorList"][0]["FieldName"] == "Type.Payload"
    )
    unknown = await error(
        client.list_resource_snapshot_jobs,
        Catalog="Sandbox",
        EngagementIdentifier="eng-00000000000000",
        Status="Paused",
    )
    assert unknown["ErrorList"][0]["Code"] == "INVALID_ENUM_VALUE"
    # what botocore would refuse before sending, sent raw: the server names the missing member
    for target, body, field in (
        ("StartResourceSnapshotJob", {"Catalog": "Sandbox"}, "ResourceSnapshotJobIdentifier"),
        ("CreateEngagementInvitation", {"Catalog": "Sandbox", "ClientToken": "t"}, "EngagementIdentifier"),
        (
            "StartOpportunityFromEngagementTask",
            {"Catalog": "Sandbox", "ClientToken": "t", "Identifier": "eng-00000000000000"},
            "ContextIdentifier",
        ),
    ):
        status, got = await raw(http, em, f"AWSPartnerCentralSelling.{target}", json.dumps(body))
        assert status == 400 and got["__type"] == "ValidationException", (target, got)
        assert field in [e["FieldName"] for e in got["ErrorList"]], (target, got)
        assert {e["Code"] for e in got["ErrorList"]} == {"REQUIRED_FIELD_MISSING"}
    for fn, kwargs in (
        (client.get_engagement, {"Identifier": "eng-00000000000000"}),
        (client.start_resource_snapshot_job, {"ResourceSnapshotJobIdentifier": "job-0000000000000"}),
        (client.list_resource_snapshots, {"EngagementIdentifier": "eng-00000000000000"}),
    ):
        assert (await error(fn, Catalog="Sandbox", **kwargs))["Error"]["Code"] == "ResourceNotFoundException"


async def test_pagination_with_boto3_paginators(partnercentral_emulator: PartnerCentralEmulator) -> None:
    em = partnercentral_emulator
    client = boto3_client(em)
    made = [(await new_engagement(client, token=f"p-{i}"))["Id"] for i in range(5)]

    def pages(name: str, **kwargs: Any) -> list[list[str]]:
        paginator = client.get_paginator(name)
        key = {
            "list_engagements": "EngagementSummaryList",
            "list_engagement_members": "EngagementMemberList",
        }[name]
        return [
            [item.get("Id") or item["AccountId"] for item in p[key]] for p in paginator.paginate(**kwargs)
        ]

    got = await call(pages, name="list_engagements", Catalog="Sandbox", PaginationConfig={"PageSize": 2})
    assert [len(p) for p in got] == [2, 2, 1] and [i for p in got for i in p] == made
    desc = await call(
        pages,
        name="list_engagements",
        Catalog="Sandbox",
        Sort={"SortBy": "CreatedDate", "SortOrder": "DESCENDING"},
        PaginationConfig={"PageSize": 3},
    )
    assert [i for p in desc for i in p] == made[::-1]
    # the caller and nine more make the 10-member maximum of the model
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        for i in range(9):
            await operator(
                session,
                em,
                f"/_sandbox/engagements/{made[0]}/members",
                {"account_id": f"{i:012d}", "company_name": f"Partner {i}"},
            )
        async with session.post(
            em.base_url + f"/_sandbox/engagements/{made[0]}/members",
            json={"account_id": "999999999999", "company_name": "One too many"},
        ) as resp:
            assert resp.status == 409 and "10 members" in (await resp.json())["error"]
    members = await call(
        pages,
        name="list_engagement_members",
        Catalog="Sandbox",
        Identifier=made[0],
        PaginationConfig={"PageSize": 4},
    )
    assert [len(p) for p in members] == [4, 4, 2]
    bad = await error(client.list_engagements, Catalog="Sandbox", NextToken="not-a-token")
    assert bad["Error"]["Code"] == "ValidationException"


async def test_engagement_writes_share_the_one_write_per_second(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = drive_time(monkeypatch, pc_throttle)  # the quota's clock, so no step depends on machine speed
    async with PartnerCentralEmulator(write_rate=1.0, read_rate=10.0) as em:
        assert isinstance(em, PartnerCentralEmulator)
        client = boto3_client(em)
        created = await new_engagement(client)
        ident = {"Catalog": "Sandbox", "EngagementIdentifier": created["Id"]}
        for fn, kwargs in (
            (
                client.create_engagement_context,
                {**ident, "ClientToken": "c", "Type": "Lead", "Payload": LEAD},
            ),
            (
                client.create_resource_snapshot_job,
                {
                    **ident,
                    "ClientToken": "j",
                    "ResourceType": "Opportunity",
                    "ResourceIdentifier": "O1",
                    "ResourceSnapshotTemplateIdentifier": "OpportunitySummaryView",
                },
            ),
            (
                client.start_opportunity_from_engagement_task,
                {
                    "Catalog": "Sandbox",
                    "Identifier": created["Id"],
                    "ClientToken": "t",
                    "ContextIdentifier": "1",
                },
            ),
            (
                client.create_engagement,
                {"Catalog": "Sandbox", "ClientToken": "e-2", "Title": "t", "Description": "d"},
            ),
        ):
            throttled = await error(fn, **kwargs)
            assert throttled["Error"]["Code"] == "ThrottlingException", fn
        # reads have their own bucket
        assert (await call(client.get_engagement, Catalog="Sandbox", Identifier=created["Id"]))[
            "Id"
        ] == created["Id"]
        clock.advance(1.0)
        await call(client.create_engagement_context, **ident, ClientToken="c", Type="Lead", Payload=LEAD)
        assert em.max_write_rate_observed == 1.0
