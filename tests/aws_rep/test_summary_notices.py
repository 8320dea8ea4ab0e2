"""The summary loop (GetAwsOpportunitySummary) tells the rep of AWS's seller (name and email from
``OpportunityTeam``) and of each change of engagement level (rise to High HIGH, a drop MEDIUM, a rise below
High LOW), once each across ticks and a restart."""

from __future__ import annotations

import time
from pathlib import Path

from tests_aws.conftest import Stack
from tests_aws.test_conflicts import created

from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator

from .conftest import assert_task, one_task, rep_stacks, titled

SELLER = {"Email": "sam.seller@amazon.example", "FirstName": "Sam", "LastName": "Seller"}


async def _score(stack: Stack, opp_id: str, level: str) -> None:
    await stack.aws(f"/_sandbox/opportunities/{opp_id}", {"catalog": "Sandbox", "EngagementScore": level})
    await stack.tick("aws_summary")


async def test_seller_and_engagement_levels_are_one_task_each(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, partnercentral_emulator: PartnerCentralEmulator
) -> None:
    async for stack in rep_stacks(tmp_path, hubspot_emulator, partnercentral_emulator):
        deal_id, opp_id = await created(stack)
        since = time.time()
        await stack.aws(
            f"/_sandbox/opportunities/{opp_id}",
            {"catalog": "Sandbox", "AwsSeller": SELLER, "EngagementScore": "Medium"},
        )
        await stack.tick("aws_summary")
        seller = await one_task(stack, deal_id, "AWS Seller Assigned")
        assert_task(seller, "HIGH", 24, since)
        assert "Sam Seller" in seller["hs_task_body"] and SELLER["Email"] in seller["hs_task_body"]
        assert_task(await one_task(stack, deal_id, "Increased to Medium"), "LOW", 168, since)
        await _score(stack, opp_id, "High")
        assert_task(await one_task(stack, deal_id, "Increased to High"), "HIGH", 24, since)
        await _score(stack, opp_id, "Low")
        dropped = await one_task(stack, deal_id, "Engagement Score Decreased")
        assert_task(dropped, "MEDIUM", 72, since)
        assert "High → Low" in dropped["hs_task_subject"]
        await stack.tick("aws_summary")  # nothing changed since
        await stack.settle(1.0)
        assert len(titled(stack, deal_id, "AWS Seller Assigned")) == 1
        assert len(titled(stack, deal_id, "Engagement Score")) == 3
    async for stack in rep_stacks(tmp_path, hubspot_emulator, partnercentral_emulator):
        await stack.tick("aws_summary")
        await stack.settle(1.5)
        assert len(titled(stack, deal_id, "AWS Seller Assigned")) == 1
        assert len(titled(stack, deal_id, "Engagement Score")) == 3
