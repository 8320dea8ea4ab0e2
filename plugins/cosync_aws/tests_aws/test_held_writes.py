"""Issue 22: a rep's edit made while the partner account's write budget is busy is *held*: its event settles
at once (no worker slot waits for a write turn, and the deal's later edits are not hidden behind it), the
deal is marked in the store, and the drain writes it later with one read covering every edit made
meanwhile. A write that fails in the drain is queued as an event, with the queue's retries.

The budget is kept busy by another replica holding the account's write turn (``held_turn``): nothing can be
written until the test lets go, so what is held and what is written is driven, not timed."""

from __future__ import annotations

import dataclasses
import json

import pytest
from cosync_aws.outbound import HELD_PUSH_EVENT

from .conftest import Stack, wait_until
from .test_conflicts import created, held_turn, pc_amount, trail


def _held(stack: Stack) -> object:
    connector = stack.rt.context.service("aws.connector")
    return connector.deps().held


async def _listed(stack: Stack) -> dict[str, int]:
    held = _held(stack)
    members = await stack.rt.context.store.index_members(held.index)  # type: ignore[attr-defined]
    return {k: int(v["changed_ms"]) for k, v in members}


async def test_edits_made_while_the_budget_is_busy_are_held_and_each_deal_is_written_once(
    stack: Stack,
) -> None:
    deals = [await created(stack, amount=str(1000 + i)) for i in range(11)]
    await stack.quiet()
    before = (await stack.calls(stack.pc)).get("UpdateOpportunity", 0)
    first, _ = deals[0]
    async with held_turn(stack) as held:
        await stack.rep_update(first, {"amount": "5000"})
        # Another process holds a turn: the edit is held, and the drain's push of it waits for its turn.
        await held.cosync_waits()
        for round_ in range(3):
            for i, (deal_id, _) in enumerate(deals[1:], start=1):
                await stack.rep_update(deal_id, {"amount": str(20_000 + 100 * i + round_)})

        # Every edit's event settled while nothing could be written: the eleven deals are held in the store
        # with their newest change, and no event waits in the queue or in the worker.
        async def all_held() -> bool:
            return len(await _listed(stack)) == 11

        await wait_until(all_held)
        await stack.hs.drain_webhooks()

        async def settled() -> bool:
            return await stack.rt.context.queue.oldest_age() is None and stack.rt.worker.in_flight == 0

        for _ in range(2):  # twice, a poll apart: a receive under way may be claiming a message
            await wait_until(settled)
        assert len(await _listed(stack)) == 11
        assert (await stack.calls(stack.pc)).get("UpdateOpportunity", 0) == before

    await stack.quiet()
    assert await _listed(stack) == {}
    # One write per deal, each with the rep's last value: the three edits of each held deal shared it.
    assert (await stack.calls(stack.pc)).get("UpdateOpportunity", 0) - before == 11
    assert pc_amount(stack, deals[0][1]) == "5000"
    for i, (deal_id, opp_id) in enumerate(deals[1:], start=1):
        assert pc_amount(stack, opp_id) == str(20_000 + 100 * i + 2)
        assert stack.deal(deal_id)["amount"] == str(20_000 + 100 * i + 2)
    entries = [e for e in await trail(stack, deals[1][1]) if e["action"] == "update_opportunity"]
    assert len(entries) == 1 and entries[0]["source"] == "HUBSPOT"
    assert entries[0]["detail"]["trigger"] == "deal.propertyChange"  # what the rep did, not the drain


async def test_a_held_write_that_fails_is_queued_with_the_queues_retries_and_dead_letter(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drain's write fails (HubSpot answers 5xx to its read of the deal): the edit is queued as an event
    and the mark cleared; that event gets the worker's attempts, then a dead letter whose replay, once
    HubSpot answers again, pushes the edit. Nothing is lost on the way."""
    (busy_deal, _), (deal_id, opp_id) = await created(stack), await created(stack)
    await stack.quiet()
    client = stack.rt.context.service("hubspot")
    # HubSpot's 5xx reach the drain at the first one (the client's own retries would outlast the fault).
    monkeypatch.setattr(client, "policy", dataclasses.replace(client.policy, max_retries=0))
    async with held_turn(stack) as held:
        await stack.rep_update(busy_deal, {"amount": "5000"})
        await held.cosync_waits()
        await stack.rep_update(deal_id, {"amount": "7700"})

        async def marked() -> bool:
            return deal_id in await _listed(stack)

        await wait_until(marked)
        stack.hs.faults.target("GET", f"/crm/v3/objects/deals/{deal_id}")  # the drain's read of the deal

    hold = _held(stack)
    await wait_until(lambda: hold.handed_off == 1)  # type: ignore[attr-defined]

    async def parked() -> list[str]:
        letters = await stack.rt.context.queue.list_dead_letters()
        return [d.id for d in letters if json.loads(d.body)["type"] == HELD_PUSH_EVENT]

    async def dead_lettered() -> bool:
        return bool(await parked())

    await wait_until(dead_lettered)
    assert deal_id not in await _listed(stack)  # the queue has it now
    assert stack.hs.faults.injected["error"] > 1  # the drain's attempt and the queued event's
    assert pc_amount(stack, opp_id) != "7700"

    stack.hs.faults.clear()
    assert await stack.rt.context.queue.replay_dead_letters(await parked()) == 1
    await wait_until(lambda: pc_amount(stack, opp_id) == "7700")
    await stack.quiet()
    entries = [e for e in await trail(stack, opp_id) if e["action"] == "update_opportunity"]
    assert len(entries) == 1 and entries[0]["detail"]["trigger"] == "deal.propertyChange"
    assert entries[0]["source"] == "HUBSPOT"
