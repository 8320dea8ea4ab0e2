"""No echo reads (issue 22): cosync's own writes come back as EventBridge events, and recognising them costs no
``GetOpportunity``; an AWS change made right after cosync's write is still read. The overlap is driven by the
emulator (it applies the change between cosync's write and its answer), never by a time window."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from tests_aws.conftest import Stack, first_event_held, wait_until
from tests_aws.test_conflicts import person_edits
from tests_aws.test_create import GOOD_DEAL
from tests_aws.test_update_and_reverse import _created

from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator


def _reads(after: dict[str, int], before: dict[str, int]) -> int:
    return after.get("GetOpportunity", 0) - before.get("GetOpportunity", 0)


async def test_a_creation_with_its_solutions_reads_none_of_its_own_events(stack: Stack) -> None:
    # Partner Central announces the opportunity while answering CreateOpportunity. Handled before the creation
    # recorded the opportunity -> deal map (a busy machine), the event cannot tell a colleague's opportunity
    # from cosync's own but by one GetOpportunity (test_an_early_creation_event_costs_one_read_and_no_deal).
    # Here it is handed on once the map is written, as it nearly always is: the order is driven, not hoped for.
    async with first_event_held(stack, "Opportunity Created") as created:
        before = await stack.calls(stack.pc)
        company = await stack.rep_company()
        deal_id = await stack.rep_deal(GOOD_DEAL, company)
        await wait_until(lambda: bool(stack.deal(deal_id).get("aws_opportunity_id")))
        await created.release()
        await stack.quiet()
    after = await stack.calls(stack.pc)
    associated = after.get("AssociateOpportunity", 0) - before.get("AssociateOpportunity", 0)
    assert associated >= 2  # the matcher found several: each association's own event came back too
    assert _reads(after, before) == 0


async def test_an_early_creation_event_costs_one_read_and_no_deal(stack: Stack) -> None:
    # The other order: "Opportunity Created" is handled before the creation wrote the map (held here until the
    # worker has handled it, then the creation goes on). Nothing names the opportunity as cosync's yet, so it
    # costs one GetOpportunity, which shows cosync's own PartnerOpportunityIdentifier: no second deal.
    store = stack.rt.context.store
    real_write = store.write_versioned
    event_done = asyncio.Event()
    map_writes: list[str] = []

    async def map_after_the_event(key: str, value: dict[str, Any], expected_version: int) -> int:
        if key.startswith("aws:opportunity:") and not map_writes:
            map_writes.append(key)
            await asyncio.wait_for(event_done.wait(), 60)
        return await real_write(key, value, expected_version)

    real_sink = stack.pc.bus.sink
    assert real_sink is not None

    async def then_done(event: dict[str, Any]) -> None:
        await real_sink(event)
        if event["detail-type"] == "Opportunity Created":
            created_event.append(event)

    created_event: list[dict[str, Any]] = []
    store.write_versioned = map_after_the_event  # type: ignore[method-assign]
    stack.pc.bus.sink = then_done
    try:
        before = await stack.calls(stack.pc)
        company = await stack.rep_company()
        deal_id = await stack.rep_deal(GOOD_DEAL, company)
        await wait_until(lambda: bool(map_writes) and bool(created_event))

        async def event_handled() -> bool:
            return (await stack.calls(stack.pc)).get("GetOpportunity", 0) > before.get("GetOpportunity", 0)

        await wait_until(event_handled)
        event_done.set()
        await wait_until(lambda: bool(stack.deal(deal_id).get("aws_opportunity_id")))
        await stack.quiet()
    finally:
        store.write_versioned = real_write  # type: ignore[method-assign]
        stack.pc.bus.sink = real_sink
    after = await stack.calls(stack.pc)
    assert _reads(after, before) == 1
    assert len(stack.opportunities()) == 1
    deals = [d for d in stack.hs.objects("deals").values() if d["properties"].get("aws_opportunity_id")]
    assert [d["id"] for d in deals] == [deal_id]


async def test_the_echo_of_an_update_costs_no_read(stack: Stack) -> None:
    deal_id, opp_id = await _created(stack)
    before = await stack.calls(stack.pc)
    await stack.rep_update(deal_id, {"amount": "31000"})

    def pushed() -> bool:
        return str(stack.opportunities()[opp_id]["Project"]["ExpectedCustomerSpend"][0]["Amount"]) == "31000"

    await wait_until(pushed)
    await stack.settle(1.0)
    after = await stack.calls(stack.pc)
    assert after.get("UpdateOpportunity", 0) - before.get("UpdateOpportunity", 0) == 1
    assert _reads(after, before) == 1  # the push's read-merge-write; its echo event is not read


class ChangeRightAfterWrite(PartnerCentralEmulator):
    """Partner Central where, once armed, someone changes the opportunity right after cosync's next
    ``UpdateOpportunity`` took effect and before cosync has its answer: the change's event follows the echo's."""

    meanwhile: Callable[[], Awaitable[None]] | None = None

    async def _api(self, request: web.Request) -> web.Response:
        answer = await super()._api(request)
        cosyncs = "Credential=sandbox/" in request.headers.get("Authorization", "")
        if (
            self.meanwhile is not None
            and cosyncs
            and request.headers.get("X-Amz-Target", "").endswith(".UpdateOpportunity")
        ):
            change, self.meanwhile = self.meanwhile, None
            await change()
        return answer


@pytest.mark.partnercentral(emulator=ChangeRightAfterWrite)
async def test_an_aws_change_right_after_cosyncs_write_is_still_seen(odd_stack: Stack) -> None:
    stack = odd_stack
    assert isinstance(stack.pc, ChangeRightAfterWrite)
    deal_id, opp_id = await _created(stack)

    async def colleague_commits() -> None:
        await person_edits(stack, opp_id, stage="Committed")

    stack.pc.meanwhile = colleague_commits
    before = await stack.calls(stack.pc)
    await stack.rep_update(deal_id, {"amount": "32000"})
    await wait_until(lambda: stack.deal(deal_id).get("dealstage") == "contractsent")
    await stack.settle(1.0)
    assert stack.pc.meanwhile is None
    opp = stack.opportunities()[opp_id]
    assert opp["LifeCycle"]["Stage"] == "Committed"
    assert str(opp["Project"]["ExpectedCustomerSpend"][0]["Amount"]) == "32000"
    after = await stack.calls(stack.pc)
    # the push's read, and the colleague's event's (cosync's own echo is not read); the colleague's own
    # GetOpportunity is counted too
    assert _reads(after, before) == 3
