"""The reconciliation schedule (what EventBridge did not deliver) and the custom properties (flow 10)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta

import pytest
from aiohttp import web
from cosync_aws.plugin import AwsConnector
from cosync_aws.state import RECONCILE_CURSOR

from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator

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
    # One list call for everything changed since the last run; only the changed opportunity is read again
    assert after.get("ListOpportunities", 0) - before.get("ListOpportunities", 0) == 1
    assert after.get("GetOpportunity", 0) - before.get("GetOpportunity", 0) == 1
    assert sum("Action Required" in n for n in stack.notes_of(deal_id)) == 1


async def test_properties_are_declared_with_groups_and_created_idempotently(stack: Stack) -> None:
    specs = AwsConnector().cosync_hubspot_properties() or []
    names = {s.name for s in specs}
    assert {"aws_opportunity_id", "aws_engagement_score", "aws_sync_status", "aws_submission_date"} <= names
    assert all(s.object_type == "deals" and s.group_name == "aws_partner_central" for s in specs)
    created, existing = await stack.rt.context.service("hubspot").ensure_properties(specs)
    assert created == [] and sorted(existing) == sorted(names)  # the harness already created them once


class ListThenEdit(PartnerCentralEmulator):
    """Partner Central that computes its next ``ListOpportunities`` answer, then holds it while ``meanwhile``
    runs (the rep's edit and cosync's push of it), so the reconcile gets a page older than the records: what
    a real page is, for every opportunity cosync pushes while the run works through the page deal by deal."""

    meanwhile: Callable[[], Awaitable[None]] | None = None

    async def _api(self, request: web.Request) -> web.Response:
        if self.meanwhile is None or not request.headers.get("X-Amz-Target", "").endswith(
            ".ListOpportunities"
        ):
            return await super()._api(request)
        answer = await super()._api(request)
        edit, self.meanwhile = self.meanwhile, None
        await edit()
        return answer


@pytest.mark.partnercentral(emulator=ListThenEdit)
async def test_reconcile_never_writes_an_older_page_over_the_reps_edits(odd_stack: Stack) -> None:
    # Issue 15: a reconcile tick mid-burst wrote the page's older stage and close date back over edits cosync
    # had pushed since the page was listed (HubSpot's write-back was then pushed on, so AWS lost them too).
    stack = odd_stack
    assert isinstance(stack.pc, ListThenEdit)
    deal_id, opp_id = await _created(stack)
    store = stack.rt.context.store
    later = (date.today() + timedelta(days=90)).isoformat()

    async def rep_edits_while_the_page_is_in_flight() -> None:
        await stack.rep_update(deal_id, {"dealstage": "presentationscheduled", "closedate": later})

        async def pushed() -> bool:
            life = stack.opportunities()[opp_id]["LifeCycle"]
            return bool(life["Stage"] == "Technical Validation" and life["TargetCloseDate"] == later)

        await wait_until(pushed)
        # ...and edits again: this one is still waiting to be pushed when the reconcile reaches the deal.
        await stack.rep_update(deal_id, {"dealstage": "decisionmakerboughtin"})

    stack.pc.meanwhile = rep_edits_while_the_page_is_in_flight
    await stack.tick("aws_reconcile")

    async def reconciled() -> bool:
        return await store.get_cursor(RECONCILE_CURSOR) is not None

    async def latest_in_aws() -> bool:
        return bool(stack.opportunities()[opp_id]["LifeCycle"]["Stage"] == "Business Validation")

    await wait_until(reconciled)
    await wait_until(latest_in_aws)
    await stack.settle()
    assert stack.pc.meanwhile is None  # the page was held: the edits ran between list and reverse sync
    deal = stack.deal(deal_id)
    assert (deal["dealstage"], deal["closedate"][:10]) == ("decisionmakerboughtin", later)
    life = stack.opportunities()[opp_id]["LifeCycle"]
    assert (life["Stage"], life["TargetCloseDate"]) == ("Business Validation", later)
    assert not [n for n in stack.notes_of(deal_id) if "changed opportunity" in n]
