"""Flow 6's automatic rules end to end: a stage reached (a rep's change through a signed webhook) and "pending
for more than N days" (the ``aws_submission_rules`` schedule tick) submit with
``StartEngagementFromOpportunityTask``, follow the task and write the outcome back; an opportunity that lacks
what AWS's review needs is named on the deal once, and its events are acked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator

from .conftest import Stack, start_stack, wait_until
from .test_create import GOOD_DEAL

RULES = {
    "on_stages": ["decisionmakerboughtin"],
    "pending_days": 3,
    "involvement_type": "For Visibility Only",
    "visibility": "Limited",
}


@pytest.fixture
async def rules_stack(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, partnercentral_emulator: PartnerCentralEmulator
) -> AsyncIterator[Stack]:
    async for s in start_stack(tmp_path, hubspot_emulator, partnercentral_emulator, submission=RULES):
        yield s


async def _deal_with_opportunity(stack: Stack, **props: str) -> tuple[str, str]:
    company = await stack.rep_company()
    deal_id = await stack.rep_deal({**GOOD_DEAL, **props}, company)

    async def created() -> bool:
        return bool(stack.deal(deal_id).get("aws_opportunity_id"))

    await wait_until(created)
    return deal_id, stack.deal(deal_id)["aws_opportunity_id"]


async def _submitted(stack: Stack, deal_id: str) -> bool:
    return bool(stack.deal(deal_id).get("aws_submission_date"))


def _days_ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def test_reaching_a_submission_stage_submits_once_with_the_configured_involvement(
    rules_stack: Stack,
) -> None:
    stack = rules_stack
    deal_id, opp_id = await _deal_with_opportunity(stack)
    await stack.settle()
    # One PATCH, two property events: whichever runs first pushes both, the other is "covered" by that read,
    # and the stage rule must still fire.
    await stack.rep_update(deal_id, {"amount": "20000", "dealstage": "decisionmakerboughtin"})
    await wait_until(lambda: _submitted(stack, deal_id))
    await stack.settle(1.0)

    deal = stack.deal(deal_id)
    assert deal["aws_submission_date"] == datetime.now(UTC).date().isoformat()
    assert deal["aws_involvement_type"] == "For Visibility Only"
    assert deal["aws_visibility"] == "Limited"
    assert deal["aws_review_status"] == "Submitted"
    assert deal["aws_sync_status"] == "synced"
    opp = stack.opportunities()[opp_id]
    assert opp["LifeCycle"]["ReviewStatus"] == "Submitted"
    assert opp["LifeCycle"]["Stage"] == "Business Validation"
    assert opp["Project"]["ExpectedCustomerSpend"][0]["Amount"] == "20000"
    calls = await stack.calls(stack.pc)
    assert calls["StartEngagementFromOpportunityTask"] == 1
    assert calls["ListEngagementFromOpportunityTasks"] >= 1  # the task was followed to COMPLETE
    assert calls["UpdateOpportunity"] == 1
    notes = stack.notes_of(deal_id)
    assert (
        sum("Submitted to AWS for review (For Visibility Only, visibility Limited)" in n for n in notes) == 1
    )
    assert not any("changed opportunity" in n for n in notes)  # the submission's own event is not echoed

    # Moving away and back to the stage submits nothing more: the opportunity is under review.
    await stack.rep_update(deal_id, {"dealstage": "presentationscheduled"})
    await stack.rep_update(deal_id, {"dealstage": "decisionmakerboughtin"})
    await stack.settle(1.2)
    assert (await stack.calls(stack.pc))["StartEngagementFromOpportunityTask"] == 1
    assert await stack.rt.context.queue.list_dead_letters() == []


async def test_pending_days_rule_submits_old_deals_and_names_what_is_missing_once(rules_stack: Stack) -> None:
    stack = rules_stack
    old_id, old_opp = await _deal_with_opportunity(stack, createdate=_days_ago(5))
    new_id, new_opp = await _deal_with_opportunity(stack)
    gap_id, gap_opp = await _deal_with_opportunity(stack, createdate=_days_ago(4))
    # A colleague removes the customer's website in the Partner Central console; AWS's review needs it.
    record = stack.opportunities()[gap_opp]
    del record["Customer"]["Account"]["WebsiteUrl"]
    stack.pc.catalog("Sandbox").touch(record)
    await stack.settle()

    await stack.tick("aws_submission_rules")
    await wait_until(lambda: _submitted(stack, old_id))

    async def gap_reported() -> bool:
        return stack.deal(gap_id).get("aws_sync_status") == "error"

    await wait_until(gap_reported)
    await stack.settle(1.0)
    assert stack.deal(old_id)["aws_involvement_type"] == "For Visibility Only"
    assert stack.opportunities()[old_opp]["LifeCycle"]["ReviewStatus"] == "Submitted"
    # Created just now: not pending long enough.
    assert not stack.deal(new_id).get("aws_submission_date")
    assert stack.opportunities()[new_opp]["LifeCycle"]["ReviewStatus"] == "Pending Submission"
    # The gap is named on the deal, nothing was started for it.
    error = stack.deal(gap_id)["aws_sync_error"]
    assert "company domain or website (Customer.Account.WebsiteUrl)" in error
    assert stack.opportunities()[gap_opp]["LifeCycle"]["ReviewStatus"] == "Pending Submission"
    assert (await stack.calls(stack.pc))["StartEngagementFromOpportunityTask"] == 1

    # The next run meets the same gap: no second note, no second error write, nothing dead-lettered.
    await stack.tick("aws_submission_rules")
    await stack.settle(1.5)
    assert sum("Cannot submit to AWS" in n for n in stack.notes_of(gap_id)) == 1
    assert (await stack.calls(stack.pc))["StartEngagementFromOpportunityTask"] == 1
    assert sum("Submitted to AWS" in n for n in stack.notes_of(old_id)) == 1
    assert await stack.rt.context.queue.list_dead_letters() == []
    assert await stack.rt.context.queue.depth() == 0
