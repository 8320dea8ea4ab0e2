"""Seed 002 §3 end to end through the relay: the team routes, what reaches AWS, the notes once each."""

from __future__ import annotations

import copy
import json

from tests_aws.conftest import Stack, wait_until
from tests_aws.test_update_and_reverse import _created

from .helpers import api, quiet, writes


async def test_team_add_and_remove_say_what_reached_aws(stack: Stack) -> None:
    deal_id, opp_id = await _created(stack)
    add = {"dealId": deal_id, "memberEmail": "bob.seller@example.com", "role": "Technical Lead"}
    status, body = await api(stack, "POST", "/opportunity-team/add", add)
    assert status == 200, body
    assert body["changed"] and not body["reachedAws"] and "UpdateOpportunity" in body["detail"]
    team = json.loads(stack.deal(deal_id)["aws_opportunity_team"])
    assert {
        "email": "bob.seller@example.com",
        "name": "Bob Seller",
        "role": "Technical Lead",
    }.items() <= team[0].items()
    assert stack.deal(deal_id)["aws_team_last_sync"]
    before = await writes(stack)
    status, body = await api(stack, "POST", "/opportunity-team/add", add)  # the same request again
    assert status == 200 and not body["changed"]
    assert sum("Bob Seller joined the opportunity team" in n for n in stack.notes_of(deal_id)) == 1

    primary = {"dealId": deal_id, "memberEmail": "cyd.manager@example.com", "role": "Primary Contact"}
    status, body = await api(stack, "POST", "/opportunity-team/add", primary)
    assert status == 200 and body["reachedAws"] and body["awsOperation"] == "AssignOpportunity"
    assert (await writes(stack)).get("AssignOpportunity", 0) == before.get("AssignOpportunity", 0) + 1
    assert stack.opportunities()[opp_id]["OpportunityTeam"][0]["Email"] == "cyd.manager@example.com"

    status, body = await api(
        stack,
        "POST",
        "/opportunity-team/remove",
        {"dealId": deal_id, "memberEmail": "bob.seller@example.com"},
    )
    assert status == 200 and body["changed"] and not body["reachedAws"]
    assert "bob.seller@example.com" not in stack.deal(deal_id)["aws_opportunity_team"]
    assert sum("Bob Seller left the opportunity team" in n for n in stack.notes_of(deal_id)) == 1


async def test_team_routes_refuse_bad_input_and_deals_without_opportunity(stack: Stack) -> None:
    status, body = await api(stack, "POST", "/opportunity-team/add", {"dealId": "1", "memberEmail": "x"})
    assert status in (400, 422) and "memberEmail" in str(body)
    status, body = await api(
        stack,
        "POST",
        "/opportunity-team/add",
        {"dealId": "999", "memberEmail": "a@b.example", "role": "Lead"},
    )
    assert status == 409 and "no AWS opportunity" in body["detail"]


async def test_owner_change_notes_the_reassignment_once(stack: Stack) -> None:
    deal_id, opp_id = await _created(stack)
    await stack.rep_update(deal_id, {"hubspot_owner_id": "70000001"})  # Ada Rep (the emulator's owners)
    await wait_until(lambda: stack.deal(deal_id).get("aws_assigned_partner_user") == "ada.rep@example.com")
    await wait_until(lambda: any("Opportunity reassigned to Ada Rep" in n for n in stack.notes_of(deal_id)))
    assert stack.opportunities()[opp_id]["OpportunityTeam"][0]["Email"] == "ada.rep@example.com"
    await quiet(stack)
    before = await writes(stack)
    # HubSpot delivers the owner change again (a retried batch; a new event id, so the flow must catch it)
    hooks = stack.hs.webhooks
    (batch,) = [b for b in hooks.stats.batches if any(e.get("propertyName") == "hubspot_owner_id" for e in b)]
    again = [dict(copy.deepcopy(e), eventId=e["eventId"] + 10_000) for e in batch]
    assert await hooks._post(f"{stack.rt.relay_url}/webhooks/hubspot", again)
    await quiet(stack)
    assert await writes(stack) == before
    assert sum("Opportunity reassigned to Ada Rep" in n for n in stack.notes_of(deal_id)) == 1
