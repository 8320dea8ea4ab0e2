"""Seed 002 §2 end to end: the engagement reaches the deal from its events, from the loop (only what changed)
and through ``GET /engagements/{opportunityId}``; nothing twice after redeliveries and a restart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cosync_aws import engagements
from tests_aws.conftest import Stack, start_stack, wait_until

from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.sandbox.partnercentral.protocol import now_ms

from .helpers import api, quiet, redeliver, shared_deal, writes

ENGAGEMENT_NOTES = ("AWS Engagement", "joined the engagement team", "Engagement milestone")


def engagement_notes(stack: Stack, deal_id: str) -> list[str]:
    return [n for n in stack.notes_of(deal_id) if any(m in n for m in ENGAGEMENT_NOTES)]


async def test_engagement_event_fills_the_deal_and_redelivery_and_restart_add_nothing(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, partnercentral_emulator: PartnerCentralEmulator
) -> None:
    hs, pc = hubspot_emulator, partnercentral_emulator
    async for stack in start_stack(tmp_path, hs, pc):
        deal_id, opp_id, eng_id = await shared_deal(stack)
        engagement = pc.catalog("Sandbox").engagements[eng_id]
        await wait_until(lambda: len(engagement_notes(stack, deal_id)) == 3)  # noqa: B023 - awaited here
        deal = stack.deal(deal_id)
        assert deal["aws_engagement_status"] == "Active"
        assert "Amazon Web Services (aws)" in deal["aws_engagement_team"]
        assert deal["aws_engagement_kickoff_date"] and deal["aws_engagement_close_date"]
        assert deal["aws_engagement_context"].startswith("Customer project:")
        assert deal["aws_last_engagement_sync"]
        assert len(engagement["Members"]) == 2  # AWS's side: the partner and AWS
        status, body = await api(stack, "GET", f"/engagements/{opp_id}")
        assert status == 200 and body["dealId"] == deal_id
        assert body["engagement"]["engagement_id"] == eng_id
        assert {m["account_id"] for m in body["engagement"]["members"]} == {
            m["AccountId"] for m in engagement["Members"]
        }
        # The submission's own trailing work (its deal update, notices) may still be running: wait for quiet,
        # or a write of it landing after ``before`` reads as a repeat (the failure seen once in a full run).
        await quiet(stack)
        before = await writes(stack)
        await redeliver(stack, "Engagement Member Added")
        await quiet(stack)
        assert await writes(stack) == before
        notes = engagement_notes(stack, deal_id)
    async for stack in start_stack(tmp_path, hs, pc):
        await quiet(stack)
        before = await writes(stack)
        await redeliver(stack, "Engagement Member Added")
        await stack.tick("aws_engagements")
        await quiet(stack)
        assert await writes(stack) == before
        assert engagement_notes(stack, deal_id) == notes


async def test_the_route_answers_the_engagement_before_the_deal_shows_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever sees the engagement on the deal finds it at the route: the view is recorded before the deal's
    write goes out (it was recorded after, and a reader between the two got 404, once in a CI run). The route
    is asked at the moment the write is about to leave, so the order is checked without a time window."""
    seen: list[int] = []
    write = engagements.pushes.update_deal

    async def asking_first(deps: Any, deal_id: str, props: dict[str, Any]) -> None:
        if "aws_engagement_status" in props:
            opp_id = stack.deal(deal_id)["aws_opportunity_id"]
            seen.append((await api(stack, "GET", f"/engagements/{opp_id}"))[0])
        await write(deps, deal_id, props)

    monkeypatch.setattr(engagements.pushes, "update_deal", asking_first)
    deal_id, _, _ = await shared_deal(stack)
    await wait_until(lambda: bool(stack.deal(deal_id).get("aws_engagement_status")))
    assert seen and set(seen) == {200}


async def test_loop_reads_only_changed_engagements_and_brings_the_change(stack: Stack) -> None:
    deal_id, _, eng_id = await shared_deal(stack)
    await wait_until(lambda: len(engagement_notes(stack, deal_id)) == 3)
    await stack.tick("aws_engagements")  # first run: every engagement; nothing new to write
    await quiet(stack)
    # AWS moves the project's target date (as another member's UpdateEngagementContext would)
    engagement = stack.pc.catalog("Sandbox").engagements[eng_id]
    engagement["Contexts"][0]["Payload"]["CustomerProject"]["Project"]["TargetCompletionDate"] = "2027-01-15"
    engagement["ModifiedAt"] = now_ms() + timedelta(seconds=1)
    await stack.tick("aws_engagements")
    await wait_until(lambda: stack.deal(deal_id)["aws_engagement_close_date"] == "2027-01-15")
    assert sum("target completion 2027-01-15" in n for n in stack.notes_of(deal_id)) == 1

    # An hour later nothing changed: the run lists engagements and reads none of them
    connector = stack.rt.context.service("aws.connector")
    later = connector.now() + timedelta(hours=1)
    connector.now = lambda: later
    await stack.tick("aws_engagements")  # the cursor moves past the change (its lookback re-read it once)
    await quiet(stack)
    before = await stack.calls(stack.pc)
    await stack.tick("aws_engagements")
    await quiet(stack)
    after = await stack.calls(stack.pc)
    assert after.get("ListEngagements", 0) == before.get("ListEngagements", 0) + 1
    assert after.get("GetEngagement") == before.get("GetEngagement")
    assert after.get("ListEngagementMembers") == before.get("ListEngagementMembers")


async def test_deal_won_completes_the_engagement(stack: Stack) -> None:
    deal_id, opp_id, _ = await shared_deal(stack)
    await wait_until(lambda: len(engagement_notes(stack, deal_id)) == 3)
    await stack.aws(f"/_sandbox/opportunities/{opp_id}", {"ReviewStatus": "Approved"})  # open to updates
    await wait_until(lambda: stack.deal(deal_id).get("aws_review_status") == "Approved")
    await stack.rep_update(deal_id, {"dealstage": "closedwon"})  # pushed to AWS as Launched
    await wait_until(lambda: stack.opportunities()[opp_id]["LifeCycle"]["Stage"] == "Launched")
    await wait_until(lambda: stack.deal(deal_id).get("aws_engagement_status") == "Completed")
    await quiet(stack)
    assert sum("AWS Engagement Completed" in n for n in stack.notes_of(deal_id)) == 1


async def test_engagement_route_refuses_bad_and_unknown_ids(stack: Stack) -> None:
    status, body = await api(stack, "GET", "/engagements/not-an-id")
    assert status == 400 and "opportunityId" in body["detail"]
    status, body = await api(stack, "GET", "/engagements/O999")
    assert status == 404 and "no engagement" in body["detail"]
