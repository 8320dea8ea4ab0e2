"""Flow 5 end to end: a HubSpot owner change (signed webhook) and ``POST /assign-opportunity`` (relay, bearer
auth) both become ``AssignOpportunity`` with the owner's email, and ``aws_assigned_partner_user`` on the deal."""

from __future__ import annotations

import dataclasses

import pytest

from .conftest import Stack, wait_until
from .test_conflicts import trail
from .test_submission_summary_routes import _api
from .test_update_and_reverse import _created

# Owners the HubSpot emulator's portal starts with (cosync_worker/sandbox/hubspot/catalog.py).
ADA = ("70000001", "ada.rep@example.com")
BOB = ("70000002", "bob.seller@example.com")


def _assignee(stack: Stack, opp_id: str) -> str | None:
    team = stack.opportunities()[opp_id].get("OpportunityTeam") or []
    return str(team[0]["Email"]) if team else None


async def test_owner_change_assigns_the_opportunity_once(stack: Stack) -> None:
    deal_id, opp_id = await _created(stack)
    before = (await stack.calls(stack.pc)).get("AssignOpportunity", 0)

    await stack.rep_update(deal_id, {"hubspot_owner_id": ADA[0]})

    async def assigned() -> bool:
        return stack.deal(deal_id).get("aws_assigned_partner_user") == ADA[1]

    await wait_until(assigned)
    assert _assignee(stack, opp_id) == ADA[1]
    assignee = stack.opportunities()[opp_id]["OpportunityTeam"][0]
    assert (assignee["FirstName"], assignee["LastName"]) == ("Ada", "Rep")

    # The same owner again (a re-save, a duplicate delivery) writes nothing to AWS
    await stack.rep_update(deal_id, {"hubspot_owner_id": ADA[0], "amount": "5001"})
    await stack.settle(1.0)
    assert (await stack.calls(stack.pc)).get("AssignOpportunity", 0) - before == 1

    # Another owner: the audit trail names who the opportunity was assigned to before
    await stack.rep_update(deal_id, {"hubspot_owner_id": BOB[0]})

    async def reassigned() -> bool:
        return stack.deal(deal_id).get("aws_assigned_partner_user") == BOB[1]

    await wait_until(reassigned)
    changes = [
        e["detail"]["changes"]["aws_assigned_partner_user"]
        for e in await trail(stack, opp_id)
        if e["action"] == "assign_opportunity"
    ]
    assert changes == [{"old": None, "new": ADA[1]}, {"old": ADA[1], "new": BOB[1]}]


async def test_assign_route_and_unknown_owner(stack: Stack) -> None:
    deal_id, opp_id = await _created(stack)
    status, ctype, body = await _api(
        stack, "POST", "/assign-opportunity", {"deal_id": deal_id, "owner_id": BOB[0]}
    )
    assert status == 202 and body["status"] == "pending", body

    async def assigned() -> bool:
        return stack.deal(deal_id).get("aws_assigned_partner_user") == BOB[1]

    await wait_until(assigned)
    assert _assignee(stack, opp_id) == BOB[1]

    # Bad input is refused at the door, naming the field
    status, ctype, body = await _api(stack, "POST", "/assign-opportunity", {"deal_id": deal_id})
    assert status == 422 and ctype.startswith("application/problem+json")
    assert "owner_id" in str(body)

    # An owner HubSpot does not know changes nothing in AWS and leaves no failed event behind
    before = (await stack.calls(stack.pc)).get("AssignOpportunity", 0)
    await _api(stack, "POST", "/assign-opportunity", {"deal_id": deal_id, "owner_id": "99999999"})
    await stack.settle(1.0)
    assert (await stack.calls(stack.pc)).get("AssignOpportunity", 0) == before
    assert _assignee(stack, opp_id) == BOB[1]
    assert await stack.rt.context.queue.list_dead_letters() == []


async def test_a_failed_deal_write_after_the_assignment_is_finished_without_assigning_again(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS took the assignment, then HubSpot refused the deal's write: the event's retry writes the deal's
    assignee, and neither assigns a second time nor adds a second audit entry."""
    deal_id, opp_id = await _created(stack)
    await stack.quiet()
    # HubSpot's 5xx reach the flow at the first one (the client's own retries would outlast the fault).
    client = stack.rt.context.service("hubspot")
    monkeypatch.setattr(client, "policy", dataclasses.replace(client.policy, max_retries=0))
    before = (await stack.calls(stack.pc)).get("AssignOpportunity", 0)
    deal_path = f"/crm/v3/objects/deals/{deal_id}"
    stack.hs.faults.target("PATCH", deal_path)  # the connector's deal writes; the rep edits through a batch
    await stack.rep(
        "POST",
        "/crm/v3/objects/deals/batch/update",
        {"inputs": [{"id": deal_id, "properties": {"hubspot_owner_id": ADA[0]}}]},
    )
    await wait_until(lambda: _assignee(stack, opp_id) == ADA[1])
    await wait_until(lambda: stack.hs.faults.injected["error"] > 0)
    stack.hs.faults.clear()

    await wait_until(lambda: stack.deal(deal_id).get("aws_assigned_partner_user") == ADA[1])
    await stack.quiet()
    assert (await stack.calls(stack.pc)).get("AssignOpportunity", 0) - before == 1
    entries = [e for e in await trail(stack, opp_id) if e["action"] == "assign_opportunity"]
    assert len(entries) == 1
