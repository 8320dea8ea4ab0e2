"""Issue 22: a rep's edit whose write turn comes at once is pushed from its webhook's value and the deal's copy
(no read of the deal), and nothing the copy cannot know is pushed from it: an older event of the same property
arriving late changes nothing, and a change cosync made itself (or a new company) makes the next push read."""

from __future__ import annotations

from typing import Any

from cosync_worker.events import parse_hubspot_batch

from .conftest import Stack, wait_until
from .test_create import GOOD_DEAL

DEAL_GET = "GET /crm/v3/objects/{objectType}/{objectId}"


async def _linked_deal(stack: Stack) -> tuple[str, str]:
    company = await stack.rep_company()
    deal_id = await stack.rep_deal(GOOD_DEAL, company)

    async def created() -> bool:
        return bool(stack.deal(deal_id).get("aws_opportunity_id"))

    await wait_until(created)
    await stack.quiet()
    return deal_id, stack.deal(deal_id)["aws_opportunity_id"]


def _spend(stack: Stack, opp_id: str) -> str | None:
    spend = stack.opportunities()[opp_id]["Project"].get("ExpectedCustomerSpend") or []
    return str(spend[0]["Amount"]) if spend else None


async def _edit(stack: Stack, deal_id: str, opp_id: str, amount: str) -> dict[str, int]:
    """The rep sets ``amount``; the HubSpot calls cosync made until it reached the opportunity."""
    before = await stack.calls(stack.hs)
    await stack.rep_update(deal_id, {"amount": amount})

    async def pushed() -> bool:
        return _spend(stack, opp_id) == amount

    await wait_until(pushed)
    await stack.quiet()
    after = await stack.calls(stack.hs)
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def _delivered(stack: Stack, deal_id: str, prop: str) -> list[dict[str, Any]]:
    events = [e for batch in stack.hs.webhooks.stats.batches for e in batch]
    return [
        e
        for e in events
        if e.get("objectId") == int(deal_id)
        and e["subscriptionType"] == "deal.propertyChange"
        and e.get("propertyName") == prop
    ]


async def test_a_late_older_event_of_a_property_pushed_from_its_webhook_changes_nothing(stack: Stack) -> None:
    deal_id, opp_id = await _linked_deal(stack)
    assert (await _edit(stack, deal_id, opp_id, "20000")).get(DEAL_GET) == 1  # the first push reads
    assert (await _edit(stack, deal_id, opp_id, "30000")).get(DEAL_GET) is None  # from its webhook
    latest = _delivered(stack, deal_id, "amount")[-1]
    assert latest["propertyValue"] == "30000"
    pc_before = await stack.calls(stack.pc)

    # HubSpot delivers, late, an edit made just before the last one (a retried delivery, a slower batch).
    late = {**latest, "eventId": latest["eventId"] + 10_000, "propertyValue": "25000"}
    late["occurredAt"] = latest["occurredAt"] - 1
    [event] = parse_hubspot_batch([late])
    await stack.rt.context.queue.send([(event.to_json(), event.ordering_key, event.dedupe_key)])
    await stack.quiet()

    assert _spend(stack, opp_id) == "30000"
    assert stack.deal(deal_id)["amount"] == "30000"
    pc_after = await stack.calls(stack.pc)
    assert pc_after.get("UpdateOpportunity") == pc_before.get("UpdateOpportunity")


async def test_a_pushed_property_cosync_wrote_itself_makes_the_next_push_read_the_deal(stack: Stack) -> None:
    """A write of the app's own (a rollback, a resolved conflict) is not pushed back from its event and is
    not in the deal's copy: the next edit reads the deal, so what the app wrote is what the push sends."""
    deal_id, opp_id = await _linked_deal(stack)
    await _edit(stack, deal_id, opp_id, "20000")
    assert (await _edit(stack, deal_id, opp_id, "21000")).get(DEAL_GET) is None

    app = {"Authorization": f"Bearer {stack.hs.access_token}"}
    path = f"{stack.hs.base_url}/crm/v3/objects/deals/{deal_id}"
    async with stack.session.patch(path, json={"properties": {"amount": "22000"}}, headers=app) as r:
        assert r.status == 200, await r.text()
    await stack.quiet()
    assert _spend(stack, opp_id) == "21000"  # the app's own change is not echoed

    before = await stack.calls(stack.hs)
    await stack.rep_update(deal_id, {"description": "Now a data lake migration"})

    async def pushed() -> bool:
        project = stack.opportunities()[opp_id]["Project"]
        return project.get("CustomerBusinessProblem") == "Now a data lake migration"

    await wait_until(pushed)
    await stack.quiet()
    after = await stack.calls(stack.hs)
    assert after.get(DEAL_GET, 0) - before.get(DEAL_GET, 0) == 1
    assert _spend(stack, opp_id) == "22000"


async def test_one_edit_of_two_properties_is_one_read_and_one_write(stack: Stack) -> None:
    """The rep saves the amount and the description together: two events in one webhook, one receive. The
    first has its successor behind it (``backlog``), so it is not pushed from its own value alone (a write the
    second would supersede): it reads the deal, writes both, and the second is covered."""
    deal_id, opp_id = await _linked_deal(stack)
    await _edit(stack, deal_id, opp_id, "20000")
    hs_before, pc_before = await stack.calls(stack.hs), await stack.calls(stack.pc)
    await stack.rep_update(deal_id, {"amount": "40000", "description": "Now a data lake migration"})

    async def pushed() -> bool:
        project = stack.opportunities()[opp_id]["Project"]
        return _spend(stack, opp_id) == "40000" and project.get("CustomerBusinessProblem") == (
            "Now a data lake migration"
        )

    await wait_until(pushed)
    await stack.quiet()
    hs_after, pc_after = await stack.calls(stack.hs), await stack.calls(stack.pc)
    assert pc_after["UpdateOpportunity"] - pc_before["UpdateOpportunity"] == 1
    assert hs_after.get(DEAL_GET, 0) - hs_before.get(DEAL_GET, 0) == 1
