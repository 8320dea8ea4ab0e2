"""Seed 002 Feature 5 end to end: a field changed on both sides is detected; last write wins by default, a
manual field waits for ``POST /conflicts/resolve`` (relay, bearer auth), and the pure rules on their own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.session import get_session
from cosync_aws.client import PartnerCentralClient, Priority
from cosync_aws.config import AwsConfig
from cosync_aws.conflict_rules import ConflictRules, conflict_kind, detect, hubspot_value, pc_display, winner
from pydantic import ValidationError

from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.write_scheduler import WriteScheduler

from .conftest import API_TOKEN, Stack, start_stack, wait_until
from .test_create import GOOD_DEAL

SPEND = "Project.ExpectedCustomerSpend"
OWNER = "70000001"  # an owner the HubSpot emulator's portal starts with


def _spend(amount: str) -> list[dict[str, str]]:
    return [{"Amount": amount, "CurrencyCode": "USD", "Frequency": "Monthly", "TargetCompany": "AWS"}]


# -- pure rules ----------------------------------------------------------------------------------------


def test_detect_needs_both_sides_changed_and_disagreeing() -> None:
    base = {SPEND: _spend("100"), "LifeCycle.Stage": "Qualified", "Project.Title": "A"}
    assert detect(base, {**base, SPEND: _spend("200")}, {**base, SPEND: _spend("300")}) == [SPEND]
    # only one side changed: a plain sync, not a conflict
    assert detect(base, {**base, SPEND: _spend("200")}, base) == []
    assert detect(base, base, {**base, SPEND: _spend("300")}) == []
    # both changed to the same value: they agree
    assert detect(base, {**base, SPEND: _spend("200")}, {**base, SPEND: _spend("200")}) == []
    # the title is not a conflict field (its HubSpot name carries the tag)
    assert detect(base, {**base, "Project.Title": "B"}, {**base, "Project.Title": "C"}) == []


def test_strategy_choice() -> None:
    assert winner("LAST_WRITE_WINS", 10.0, 12.0) == "partnercentral"
    assert winner("LAST_WRITE_WINS", 12.0, 10.0) == "hubspot"
    assert winner("LAST_WRITE_WINS", None, 10.0) == "hubspot"
    assert winner("HUBSPOT_WINS", 1.0, 99.0) == "hubspot"
    assert winner("PARTNER_CENTRAL_WINS", 99.0, 1.0) == "partnercentral"
    assert winner("MANUAL", 1.0, 2.0) == "manual"
    rules = ConflictRules(
        default_strategy="HUBSPOT_WINS",
        field_strategies={"dealstage": "LAST_WRITE_WINS"},
        manual_fields=["amount"],
    )
    assert rules.strategy_for("amount") == "MANUAL"
    assert rules.strategy_for("dealstage") == "LAST_WRITE_WINS"
    assert rules.strategy_for("closedate") == "HUBSPOT_WINS"
    assert conflict_kind(100.0, 103.0, 5) == "SIMULTANEOUS_UPDATE"
    assert conflict_kind(100.0, 300.0, 5) == "STALE_DATA"


def test_config_errors_are_clear() -> None:
    with pytest.raises(ValidationError, match="aws_review_status cannot conflict"):
        AwsConfig(conflicts={"field_strategies": {"aws_review_status": "PARTNER_CENTRAL_WINS"}})
    with pytest.raises(ValidationError, match="amount both in field_strategies and manual_fields"):
        AwsConfig(conflicts={"field_strategies": {"amount": "HUBSPOT_WINS"}, "manual_fields": ["amount"]})
    with pytest.raises(ValidationError, match="default_strategy"):
        AwsConfig(conflicts={"default_strategy": "COIN_FLIP"})
    with pytest.raises(ValidationError, match="window_seconds"):
        AwsConfig(conflicts={"window_seconds": 0})
    assert AwsConfig().conflicts.default_strategy == "LAST_WRITE_WINS"
    assert AwsConfig().conflicts.window_seconds == 5


def test_values_between_sides() -> None:
    config = AwsConfig()
    assert pc_display(SPEND, _spend("15000")) == "15000"
    assert pc_display("LifeCycle.TargetCloseDate", "2030-01-31") == "2030-01-31"
    assert hubspot_value("LifeCycle.Stage", "Committed", config.reverse_stage) == "contractsent"
    assert hubspot_value(SPEND, "15000", config.reverse_stage) == "15000"


# -- end to end ---------------------------------------------------------------------------------------


async def person_sets_amount(stack: Stack, opp_id: str, amount: str) -> None:
    await person_edits(stack, opp_id, amount=amount)


async def person_edits(
    stack: Stack, opp_id: str, amount: str | None = None, stage: str | None = None, close: str | None = None
) -> None:
    """A colleague edits the opportunity in the Partner Central console (read-merge-write through the API)."""
    async with get_session().create_client(
        "partnercentral-selling",
        region_name="us-east-1",
        endpoint_url=stack.pc.base_url,
        aws_access_key_id="person",
        aws_secret_access_key="person",
    ) as client:
        current: dict[str, Any] = await client.get_opportunity(Catalog="Sandbox", Identifier=opp_id)
        life = {
            k: v for k, v in current["LifeCycle"].items() if k not in ("ReviewStatus", "NextStepsHistory")
        }
        project = dict(current["Project"])
        if amount is not None:
            project["ExpectedCustomerSpend"] = [{**project["ExpectedCustomerSpend"][0], "Amount": amount}]
        if stage is not None:
            life["Stage"] = stage
        if close is not None:
            life["TargetCloseDate"] = close
        await client.update_opportunity(
            Catalog="Sandbox",
            Identifier=opp_id,
            LastModifiedDate=current["LastModifiedDate"],
            Customer=current["Customer"],
            Project=project,
            LifeCycle=life,
        )


async def api(
    stack: Stack, method: str, path: str, body: Any = None, token: str | None = API_TOKEN
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with stack.session.request(method, f"{stack.rt.relay_url}{path}", json=body, headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def job_done(stack: Stack, job_id: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def finished() -> bool:
        status, body = await api(stack, "GET", f"/jobs/{job_id}")
        assert status == 200, body
        found.update(body)
        return body["status"] in ("succeeded", "failed")

    await wait_until(finished)
    return found


async def created(stack: Stack, **props: str) -> tuple[str, str]:
    company = await stack.rep_company()
    deal_id = await stack.rep_deal({**GOOD_DEAL, **props}, company)

    async def done() -> bool:
        return bool(stack.deal(deal_id).get("aws_opportunity_id"))

    await wait_until(done)
    await stack.settle()
    return deal_id, stack.deal(deal_id)["aws_opportunity_id"]


def pc_amount(stack: Stack, opp_id: str) -> str:
    return str(stack.opportunities()[opp_id]["Project"]["ExpectedCustomerSpend"][0]["Amount"])


async def trail(stack: Stack, opp_id: str) -> list[dict[str, Any]]:
    status, body = await api(stack, "GET", f"/audit-trail/partnercentral:opportunity:{opp_id}")
    assert status == 200, body
    entries: list[dict[str, Any]] = body["entries"]
    return entries


class HeldTurn:
    """Another replica holding the partner account's write turn (a creation of its own, the most urgent kind):
    cosync's pushes wait for their turn without reading anything, so an edit made in Partner Central meanwhile
    lands between the rep's edit and cosync's read of the opportunity. The order is driven, not timed."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        config: AwsConfig = stack.rt.context.config("aws")
        name = PartnerCentralClient(config, stack.rt.context.store).budget_name
        # Held until the test lets go; its heartbeat stays fresh (STALE_SECONDS) far longer than any hold here.
        self.other = WriteScheduler(stack.rt.context.store, name, self._never, hold_seconds=600)

    @staticmethod
    async def _never() -> None:
        raise AssertionError("the holding replica never writes")

    async def cosync_waits(self) -> None:
        """Until one of cosync's writes waits for its turn behind the held one."""

        async def waiting() -> bool:
            members = await self.stack.rt.context.store.index_members(self.other.index)
            return any(v.get("owner") != self.other.owner for _, v in members)

        await wait_until(waiting)


@contextlib.asynccontextmanager
async def held_turn(stack: Stack) -> AsyncIterator[HeldTurn]:
    held = HeldTurn(stack)
    try:
        async with held.other.turn("another-replica:creation", Priority.CREATE):
            yield held
    finally:
        await held.other.close()


async def overlapping_amounts(stack: Stack, deal_id: str, opp_id: str, rep: str, person: str) -> None:
    """The rep's edit, then a colleague's in Partner Central while cosync's push of the rep's waits its turn:
    both sides changed since the last sync, Partner Central last."""
    async with held_turn(stack) as held:
        await stack.rep_update(deal_id, {"amount": rep})
        await held.cosync_waits()
        await person_sets_amount(stack, opp_id, person)


async def test_simultaneous_change_last_write_wins_on_both_sides(stack: Stack) -> None:
    deal_id, opp_id = await created(stack)
    await overlapping_amounts(stack, deal_id, opp_id, "20000", "30000")

    async def converged() -> bool:
        return stack.deal(deal_id).get("amount") == "30000"

    await wait_until(converged)
    await stack.quiet()  # the resolution's audit entry follows its deal write
    assert pc_amount(stack, opp_id) == "30000"
    assert stack.deal(deal_id)["amount"] == "30000"
    resolved = [e for e in await trail(stack, opp_id) if e["action"] == "conflict_resolved"]
    assert len(resolved) == 1
    detail = resolved[0]["detail"]
    assert (detail["field"], detail["winner"], detail["strategy"]) == (
        "amount",
        "partnercentral",
        "LAST_WRITE_WINS",
    )
    assert detail["changes"] == {"amount": {"old": "20000", "new": "30000"}}
    assert detail["deal_id"] == deal_id and detail["trigger"] == "deal.propertyChange"

    # Now Partner Central first, HubSpot later: the rep's value wins and reaches Partner Central.
    await person_sets_amount(stack, opp_id, "41000")
    await asyncio.sleep(0.05)
    await stack.rep_update(deal_id, {"amount": "42000"})

    async def pushed() -> bool:
        return pc_amount(stack, opp_id) == "42000"

    await wait_until(pushed)
    await stack.settle(0.5)
    assert stack.deal(deal_id)["amount"] == "42000"
    resolved = [e for e in await trail(stack, opp_id) if e["action"] == "conflict_resolved"]
    assert [e["detail"]["winner"] for e in resolved] == ["partnercentral", "hubspot"]


@pytest.fixture
async def manual_stack(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, partnercentral_emulator: PartnerCentralEmulator
) -> AsyncIterator[Stack]:
    async for s in start_stack(
        tmp_path, hubspot_emulator, partnercentral_emulator, conflicts={"manual_fields": ["amount"]}
    ):
        yield s


async def test_manual_field_waits_for_a_person_then_resolves_once(manual_stack: Stack) -> None:
    stack = manual_stack
    deal_id, opp_id = await created(stack, hubspot_owner_id=OWNER)
    await overlapping_amounts(stack, deal_id, opp_id, "20000", "30000")

    async def pending_flag() -> bool:
        return stack.deal(deal_id).get("aws_conflict_status") == "Pending"

    await wait_until(pending_flag)
    await stack.quiet()  # the owner's task is sent after the flag
    # both sides are left as they are
    assert stack.deal(deal_id)["amount"] == "20000"
    assert pc_amount(stack, opp_id) == "30000"
    assert stack.deal(deal_id).get("aws_last_conflict_date")
    # the deal owner got a task
    tasks = stack.hs.objects("tasks")
    linked = stack.hs.portal.associated("deals", deal_id, "tasks")
    mine = [t["properties"] for tid, t in tasks.items() if tid in linked]
    assert [(t["hubspot_owner_id"], "Conflict" in t.get("hs_task_subject", "")) for t in mine] == [
        (OWNER, True)
    ]

    status, body = await api(stack, "GET", "/conflicts/pending")
    assert status == 200
    [conflict] = body["conflicts"]
    assert conflict["opportunityId"] == opp_id and conflict["dealId"] == deal_id
    assert conflict["field"] == "amount" and conflict["status"] == "PENDING"
    assert (conflict["hubspotValue"], conflict["partnerCentralValue"]) == ("20000", "30000")
    stamps = [
        datetime.fromisoformat(conflict[k].replace("Z", "+00:00"))
        for k in ("hubspotTimestamp", "partnerCentralTimestamp", "detectedAt")
    ]
    assert stamps[0] < stamps[1] <= stamps[2]
    assert conflict["objectKey"] == f"partnercentral:opportunity:{opp_id}"
    assert conflict["id"] in mine[0].get("hs_task_body", ""), mine[0]

    status, _ = await api(stack, "GET", "/conflicts/pending", token=None)
    assert status == 401
    status, body = await api(
        stack, "POST", "/conflicts/resolve", {"conflictId": conflict["id"], "resolution": "FLIP"}
    )
    assert status == 422 and body["errors"]
    status, body = await api(
        stack, "POST", "/conflicts/resolve", {"conflictId": "conf-nope", "resolution": "USE_HUBSPOT_VALUE"}
    )
    assert status == 404

    resolve = {
        "conflictId": conflict["id"],
        "resolution": "USE_PARTNER_CENTRAL_VALUE",
        "reason": "customer confirmed",
    }
    status, accepted = await api(stack, "POST", "/conflicts/resolve", resolve)
    assert status == 202, accepted
    status, again = await api(stack, "POST", "/conflicts/resolve", resolve)
    assert status == 409, again
    job = await job_done(stack, accepted["job_id"])
    assert job["status"] == "succeeded", job
    assert stack.deal(deal_id)["amount"] == "30000"
    assert stack.deal(deal_id)["aws_conflict_status"] == "Resolved"
    assert pc_amount(stack, opp_id) == "30000"
    status, body = await api(stack, "GET", "/conflicts/pending")
    assert body["conflicts"] == []
    status, again = await api(stack, "POST", "/conflicts/resolve", resolve)
    assert status == 409
    actions = [e["action"] for e in await trail(stack, opp_id)]
    assert actions.index("conflict_detected") < actions.index("conflict_resolved")
    done = next(e for e in await trail(stack, opp_id) if e["action"] == "conflict_resolved")
    assert done["detail"]["resolution"] == "USE_PARTNER_CENTRAL_VALUE"
    assert (
        done["detail"]["reason"] == "customer confirmed"
        and done["detail"]["trigger"] == "aws.resolve_conflict"
    )

    # the frozen field syncs again afterwards
    await stack.rep_update(deal_id, {"amount": "31000"})

    async def synced_again() -> bool:
        return pc_amount(stack, opp_id) == "31000"

    await wait_until(synced_again)


@pytest.fixture
async def stage_stack(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, partnercentral_emulator: PartnerCentralEmulator
) -> AsyncIterator[Stack]:
    async for s in start_stack(
        tmp_path,
        hubspot_emulator,
        partnercentral_emulator,
        conflicts={
            "default_strategy": "PARTNER_CENTRAL_WINS",
            "field_strategies": {"dealstage": "HUBSPOT_WINS"},
        },
    ):
        yield s


async def resolved_ones(stack: Stack, opp_id: str, count: int) -> None:
    async def recorded() -> bool:
        return len([e for e in await trail(stack, opp_id) if e["action"] == "conflict_resolved"]) >= count

    await wait_until(recorded)


async def test_reverse_sync_detects_and_applies_per_field_strategies(stage_stack: Stack) -> None:
    """Partner Central's edit is reverse-synced while cosync's push of the rep's still waits for its write turn:
    the conflict is caught on the way back, and each field follows its own strategy (stage: HubSpot wins;
    close date: AWS wins)."""
    stack = stage_stack
    deal_id, opp_id = await created(stack)
    async with held_turn(stack) as held:
        await stack.rep_update(deal_id, {"dealstage": "decisionmakerboughtin"})
        await held.cosync_waits()
        await person_edits(stack, opp_id, stage="Committed")
        await resolved_ones(stack, opp_id, 1)  # by the reverse sync: the push has not read anything yet

    async def stage_pushed() -> bool:
        return str(stack.opportunities()[opp_id]["LifeCycle"]["Stage"]) == "Business Validation"

    await wait_until(stage_pushed)
    await stack.settle(1.0)
    assert stack.deal(deal_id)["dealstage"] == "decisionmakerboughtin"
    assert stack.opportunities()[opp_id]["LifeCycle"]["Stage"] == "Business Validation"
    [resolved] = [e for e in await trail(stack, opp_id) if e["action"] == "conflict_resolved"]
    assert (resolved["detail"]["direction"], resolved["detail"]["winner"]) == ("reverse", "hubspot")
    assert resolved["detail"]["trigger"].startswith("partnercentral.")

    # the close date: the default strategy, Partner Central wins, whichever came last
    aws_close = GOOD_DEAL["closedate"][:8] + "25"
    async with held_turn(stack) as held:
        await stack.rep_update(deal_id, {"closedate": GOOD_DEAL["closedate"][:8] + "26"})
        await held.cosync_waits()
        await person_edits(stack, opp_id, close=aws_close)
        await resolved_ones(stack, opp_id, 2)

    async def close_back() -> bool:
        return stack.deal(deal_id).get("closedate", "")[:10] == aws_close

    await wait_until(close_back)
    await stack.settle(1.0)
    assert stack.opportunities()[opp_id]["LifeCycle"]["TargetCloseDate"] == aws_close
    winners = [
        e["detail"]["winner"] for e in await trail(stack, opp_id) if e["action"] == "conflict_resolved"
    ]
    assert winners == ["hubspot", "partnercentral"]
