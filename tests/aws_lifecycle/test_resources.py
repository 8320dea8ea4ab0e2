"""Seed 001 §3 and seed 002 §4 end to end: AWS's snapshots reach the deal from their events (through the queue)
and from the loop, the partner's resources through the relay's routes; state asserted in both emulators; nothing
twice after redeliveries and a restart; a refused resource is a 422 naming its rule, with nothing recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cosync_aws.client import WRITES
from tests_aws.conftest import Stack, start_stack, wait_until

from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator

from .helpers import api, quiet, redeliver, shared_deal, writes

SNAPSHOT_EVENTS = ("Resource Snapshot Created", "Engagement Resource Snapshot Created")
UPLOAD = {
    "resourceType": "Case Study",
    "title": "Customer Success Story - Acme Corp",
    "description": "How Acme Corp achieved 10x performance",
    "url": "https://partner.example.com/resources/acme-case-study.pdf",
    "tags": ["case-study", "migration"],
    "sizeBytes": 1_000_000,
}


def aws_notes(stack: Stack, deal_id: str) -> list[str]:
    return [n for n in stack.notes_of(deal_id) if "AWS Resource:" in n]


def snapshots(stack: Stack, eng_id: str) -> list[dict[str, Any]]:
    return [s for s in stack.pc.catalog("Sandbox").snapshots if s["EngagementId"] == eng_id]


async def aws_shares(stack: Stack, eng_id: str, opp_id: str) -> None:
    """AWS shares its view of the opportunity into the engagement (operator API; both snapshot events)."""
    await stack.aws(f"/_sandbox/engagements/{eng_id}/snapshots", {"opportunity_id": opp_id})


async def test_aws_snapshot_event_notes_the_deal_once_across_redeliveries_and_a_restart(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, partnercentral_emulator: PartnerCentralEmulator
) -> None:
    hs, pc = hubspot_emulator, partnercentral_emulator
    async for stack in start_stack(tmp_path, hs, pc):
        deal_id, opp_id, eng_id = await shared_deal(stack)
        await aws_shares(stack, eng_id, opp_id)
        await wait_until(lambda: bool(stack.deal(deal_id).get("aws_synced_resources")))  # noqa: B023 - awaited here
        (note,) = aws_notes(stack, deal_id)
        assert f"AWS Opportunity Summary: {opp_id}" in note and "**Type:** AWS Opportunity Summary" in note
        assert f"**Link:** https://partnercentral.awspartner.com/engagements/{eng_id}/" in note
        deal = stack.deal(deal_id)
        assert deal["aws_total_resources"] == "1" and deal["aws_last_resource_sync"]
        status, body = await api(stack, "GET", f"/resources/{opp_id}")
        assert status == 200 and [r["source"] for r in body["resources"]] == ["AWS"]
        assert body["resources"][0]["id"] == deal["aws_synced_resources"]
        # The partner's own snapshot (the job StartEngagementFromOpportunityTask left) is not an AWS resource
        assert {s["CreatedBy"] for s in snapshots(stack, eng_id)} == {pc.account_id, "aws"}

        await aws_shares(stack, eng_id, opp_id)  # a new revision of the same resource: no second note
        await quiet(stack)
        before = await writes(stack)
        for detail_type in SNAPSHOT_EVENTS:
            await redeliver(stack, detail_type)
        await quiet(stack)
        assert await writes(stack) == before and len(aws_notes(stack, deal_id)) == 1
    async for stack in start_stack(tmp_path, hs, pc):
        await quiet(stack)
        before = await writes(stack)
        for detail_type in SNAPSHOT_EVENTS:
            await redeliver(stack, detail_type)
        await stack.tick("aws_resources")
        await quiet(stack)
        assert await writes(stack) == before and len(aws_notes(stack, deal_id)) == 1


async def test_loop_brings_what_the_events_missed(stack: Stack) -> None:
    deal_id, opp_id, eng_id = await shared_deal(stack)

    async def own_snapshot_events_handled() -> bool:  # the submission's job snapshot: its two events
        return (await stack.calls(stack.pc)).get("ListResourceSnapshots", 0) >= 2

    await wait_until(own_snapshot_events_handled)
    sink = stack.pc.bus.sink
    stack.pc.bus.sink = None  # EventBridge delivery is best effort: these events are lost
    try:
        await aws_shares(stack, eng_id, opp_id)
    finally:
        stack.pc.bus.sink = sink
    await quiet(stack)
    assert aws_notes(stack, deal_id) == []
    await stack.tick("aws_resources")
    await wait_until(lambda: len(aws_notes(stack, deal_id)) == 1)
    before = await stack.calls(stack.pc)
    await stack.tick("aws_resources")  # nothing new: listings only, no snapshot read, no write
    await quiet(stack)
    after = await stack.calls(stack.pc)
    assert after.get("GetResourceSnapshot") == before.get("GetResourceSnapshot")
    assert after.get("ListResourceSnapshots", 0) > before.get("ListResourceSnapshots", 0)
    assert len(aws_notes(stack, deal_id)) == 1


async def test_upload_associate_disassociate_say_what_reached_aws(stack: Stack) -> None:
    deal_id, opp_id, eng_id = await shared_deal(stack)
    before_pc = len(snapshots(stack, eng_id))
    drawn = WRITES.labels(operation="CreateResourceSnapshot")._value.get()
    status, body = await api(stack, "POST", "/resources/upload", {"dealId": deal_id, **UPLOAD})
    assert status == 200, body
    assert body["changed"] and body["reachedAws"] and body["aws"]["operation"] == "CreateResourceSnapshot"
    assert body["aws"]["engagementId"] == eng_id and "file" in body["stayedInHubSpot"]
    # Partner Central holds a new revision of the opportunity in the partner's template, drawn from the budget
    made = snapshots(stack, eng_id)[before_pc:]
    assert [(s["ResourceId"], s["ResourceSnapshotTemplateName"]) for s in made] == [
        (opp_id, "OpportunitySummaryView")
    ]
    assert WRITES.labels(operation="CreateResourceSnapshot")._value.get() == drawn + 1
    deal = stack.deal(deal_id)
    (partner,) = json.loads(deal["aws_partner_resources"])
    assert partner["url"] == UPLOAD["url"] and deal["aws_last_resource_upload"]
    assert sum("📤 Resource Uploaded: Customer Success Story" in n for n in stack.notes_of(deal_id)) == 1
    assert any(UPLOAD["url"] in n for n in stack.notes_of(deal_id))

    # The same upload again: nothing new on either side
    await quiet(stack)
    before = await writes(stack)
    status, again = await api(stack, "POST", "/resources/upload", {"dealId": deal_id, **UPLOAD})
    assert status == 200 and not again["changed"] and not again["reachedAws"]
    assert await writes(stack) == before

    await aws_shares(stack, eng_id, opp_id)
    await wait_until(lambda: stack.deal(deal_id).get("aws_total_resources") == "2")
    status, listed = await api(stack, "GET", f"/resources/{opp_id}")
    assert sorted(r["source"] for r in listed["resources"]) == ["AWS", "Partner"]

    link = {"dealId": deal_id, "resourceId": body["resource"]["id"]}
    status, gone = await api(stack, "DELETE", "/resources/disassociate", link)
    assert status == 200 and gone["changed"] and not gone["reachedAws"]
    assert stack.deal(deal_id)["aws_total_resources"] == "1"
    assert sum("Resource Removed: Customer Success Story" in n for n in stack.notes_of(deal_id)) == 1
    status, back = await api(stack, "POST", "/resources/associate", link)
    assert status == 200 and back["changed"] and not back["reachedAws"]  # its snapshot was shared already
    assert sum("Resource Associated: Customer Success Story" in n for n in stack.notes_of(deal_id)) == 1
    assert len(snapshots(stack, eng_id)) == before_pc + 2  # the upload's and AWS's: none for associate

    status, unknown = await api(
        stack, "POST", "/resources/associate", {**link, "resourceId": "res-000000000000"}
    )
    assert status == 404 and "no resource" in unknown["detail"]


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"url": "http://partner.example.com/a.pdf"}, "https-only"),
        ({"url": "https://user:pw@partner.example.com/a.pdf"}, "no-credentials"),
        ({"url": "https://partner.example.com/a.pdf?X-Amz-Signature=abc"}, "no-credentials"),
        ({"url": "https://localhost/a.pdf"}, "public-host"),
        ({"url": "https://10.1.2.3/a.pdf"}, "public-host"),
        ({"url": "https://2130706433/a.pdf"}, "public-host"),
        ({"url": "https://[::1]/a.pdf"}, "public-host"),
        ({"url": "https://partner.example.com/a.exe"}, "file-type"),
        ({"resourceType": "Brochure"}, "resource-type"),
        ({"sizeBytes": 50 * 1024 * 1024 + 1}, "max-size"),
    ],
)
async def test_refused_resources_get_422_naming_the_rule_and_nothing_is_recorded(
    stack: Stack, change: dict[str, Any], rule: str
) -> None:
    deal_id, opp_id, _ = await shared_deal(stack)
    await quiet(stack)
    before = await writes(stack)
    status, body = await api(stack, "POST", "/resources/upload", {"dealId": deal_id, **UPLOAD, **change})
    assert status == 422, body
    assert f"rule: {rule}" in body["detail"]
    assert "pw@" not in json.dumps(body) and "abc" not in json.dumps(body)  # the value is never echoed
    assert await writes(stack) == before
    status, listed = await api(stack, "GET", f"/resources/{opp_id}")
    assert status == 200 and listed["resources"] == []


async def test_file_types_and_size_follow_the_config(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, partnercentral_emulator: PartnerCentralEmulator
) -> None:
    rules = {"allowed_file_types": ["PDF"], "max_bytes": 10}
    async for stack in start_stack(tmp_path, hubspot_emulator, partnercentral_emulator, resources=rules):
        deal_id, _, _ = await shared_deal(stack)
        body = {"dealId": deal_id, **UPLOAD}
        status, answer = await api(
            stack, "POST", "/resources/upload", {**body, "url": UPLOAD["url"][:-3] + "png"}
        )
        assert status == 422 and "rule: file-type" in answer["detail"]
        status, answer = await api(stack, "POST", "/resources/upload", body)
        assert status == 422 and "rule: max-size" in answer["detail"]
        status, answer = await api(stack, "POST", "/resources/upload", {**body, "sizeBytes": 10})
        assert status == 200, answer
