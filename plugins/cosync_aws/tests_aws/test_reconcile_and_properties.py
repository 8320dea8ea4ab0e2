"""The reconciliation schedule (what EventBridge did not deliver) and the custom properties (flow 10)."""

from __future__ import annotations

from cosync_aws.plugin import cosync_hubspot_properties

from .conftest import Stack, wait_until
from .test_update_and_reverse import _created, _prop_is


async def test_reconcile_catches_a_change_whose_event_was_lost(stack: Stack) -> None:
    deal_id, opp_id = await _created(stack)
    await stack.tick("aws_reconcile")  # first run: sets the cursor
    await stack.settle()
    stack.pc.set_event_sink(None)  # EventBridge delivery is best effort
    await stack.aws(f"/_sandbox/opportunities/{opp_id}", {"ReviewStatus": "Action Required"})
    await stack.settle()
    assert stack.deal(deal_id).get("aws_review_status") == "Pending Submission"
    before = await stack.calls(stack.pc)
    await stack.tick("aws_reconcile")
    await wait_until(lambda: _prop_is(stack, deal_id, "aws_review_status", "Action Required"))
    after = await stack.calls(stack.pc)
    # One list call for everything changed since the last run, no per-opportunity read
    assert after.get("ListOpportunities", 0) - before.get("ListOpportunities", 0) == 1
    assert after.get("GetOpportunity", 0) == before.get("GetOpportunity", 0)
    assert sum("Action Required" in n for n in stack.notes_of(deal_id)) == 1


async def test_properties_are_declared_with_groups_and_created_idempotently(stack: Stack) -> None:
    specs = cosync_hubspot_properties()
    names = {s.name for s in specs}
    assert {"aws_opportunity_id", "aws_engagement_score", "aws_sync_status", "aws_submission_date"} <= names
    assert all(s.object_type == "deals" and s.group_name == "aws_partner_central" for s in specs)
    created, existing = await stack.rt.context.service("hubspot").ensure_properties(specs)
    assert created == [] and sorted(existing) == sorted(names)  # the harness already created them once
