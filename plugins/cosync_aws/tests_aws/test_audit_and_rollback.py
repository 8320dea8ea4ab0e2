"""The audit trail lists every effect in order under ``partnercentral:opportunity:<id>``, and ``POST
/rollback`` restores cosync's fields from it (Partner Central and the deal) without touching AWS's."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from cosync_aws.audit import changes_between
from cosync_aws.conflict_rules import value_at

from cosync_worker.store import AuditEntry

from .conftest import Stack, wait_until
from .test_conflicts import api, created, job_done, pc_amount, trail
from .test_create import GOOD_DEAL

CLOSE = "LifeCycle.TargetCloseDate"
SPEND = "Project.ExpectedCustomerSpend"


def _entry(at: float, system: str, **detail: object) -> AuditEntry:
    return AuditEntry(object_key="k", system=system, action="x", detail=dict(detail), at=at)


def test_value_at_replays_owned_fields_up_to_the_target() -> None:
    entries = [
        _entry(
            10,
            "partnercentral",
            changes={CLOSE: {"old": None, "new": "2030-01-01"}, SPEND: {"old": None, "new": [1]}},
        ),
        _entry(20, "partnercentral", changes={SPEND: {"old": [1], "new": [2]}}),
        # a deal write with the Partner Central edits it reflects
        _entry(
            30,
            "hubspot",
            changes={"closedate": {"old": "a", "new": "b"}},
            remote_changes={CLOSE: {"old": "2030-01-01", "new": "2030-02-02"}},
        ),
        _entry(40, "partnercentral", changes={SPEND: {"old": [2], "new": [3]}}),
    ]
    assert value_at(entries, 10) == {CLOSE: "2030-01-01", SPEND: [1]}
    assert value_at(entries, 25) == {CLOSE: "2030-01-01", SPEND: [2]}
    assert value_at(entries, 35) == {CLOSE: "2030-02-02", SPEND: [2]}
    assert value_at(entries, 99) == {CLOSE: "2030-02-02", SPEND: [3]}
    try:
        value_at(entries, 5)
    except LookupError as exc:
        assert "no entry at or before" in str(exc)
    else:
        raise AssertionError("a target before the first entry must fail")


def test_changes_between_lists_only_what_differs() -> None:
    assert changes_between({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == {
        "b": {"old": 2, "new": 3},
        "c": {"old": None, "new": 4},
    }


async def test_rollback_restores_owned_fields_and_keeps_aws_fields(stack: Stack) -> None:
    deal_id, opp_id = await created(stack)
    before_change = datetime.now(UTC)
    await asyncio.sleep(0.05)
    new_close = GOOD_DEAL["closedate"][:8] + "27"
    await stack.rep_update(deal_id, {"amount": "15000", "closedate": new_close})

    async def applied() -> bool:
        opp = stack.opportunities()[opp_id]
        return pc_amount(stack, opp_id) == "15000" and opp["LifeCycle"]["TargetCloseDate"] == new_close

    await wait_until(applied)
    # AWS (and a colleague in the console) change what cosync does not own
    await stack.aws(
        f"/_sandbox/opportunities/{opp_id}",
        {"ReviewStatus": "Action Required", "ReviewComments": "add a website"},
    )
    await wait_until(lambda: _prop(stack, deal_id, "aws_review_status", "Action Required"))
    record = stack.opportunities()[opp_id]
    record["Project"]["AdditionalComments"] = "set by a colleague in the Partner Central console"
    stack.pc.catalog("Sandbox").touch(record)
    await stack.settle()

    status, body = await api(
        stack, "POST", "/rollback", {"opportunityId": opp_id, "targetTimestamp": "yesterday"}
    )
    assert status == 422, body
    status, body = await api(
        stack,
        "POST",
        "/rollback",
        {"opportunityId": opp_id, "targetTimestamp": before_change.isoformat()},
        token="wrong",
    )
    assert status == 401
    status, accepted = await api(
        stack, "POST", "/rollback", {"opportunityId": opp_id, "targetTimestamp": before_change.isoformat()}
    )
    assert status == 202, accepted
    job = await job_done(stack, accepted["job_id"])
    assert job["status"] == "succeeded", job
    assert sorted(job["result"]["restored"]) == [CLOSE, SPEND]
    opp = stack.opportunities()[opp_id]
    assert pc_amount(stack, opp_id) == "12000"
    assert opp["LifeCycle"]["TargetCloseDate"] == GOOD_DEAL["closedate"]
    assert opp["LifeCycle"]["ReviewStatus"] == "Action Required"
    assert opp["LifeCycle"]["ReviewComments"] == "add a website"
    assert opp["Project"]["AdditionalComments"] == "set by a colleague in the Partner Central console"
    # the deal follows, so the next sync does not push the undone values back
    await stack.settle(0.8)
    assert stack.deal(deal_id)["amount"] == "12000"
    assert stack.deal(deal_id)["closedate"][:10] == GOOD_DEAL["closedate"]
    assert pc_amount(stack, opp_id) == "12000"

    entries = await trail(stack, opp_id)
    actions = [e["action"] for e in entries]
    assert actions[0] == "create_opportunity"
    assert (
        actions.index("create_opportunity")
        < actions.index("update_opportunity")
        < actions.index("reverse_sync")
    )
    assert actions.index("reverse_sync") < actions.index("rollback")
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    update = entries[actions.index("update_opportunity")]["detail"]
    assert update["deal_id"] == deal_id and update["trigger"] == "deal.propertyChange"
    assert update["calls"] == ["GetOpportunity", "UpdateOpportunity"]
    assert update["changes"][SPEND]["old"][0]["Amount"] == "12000"
    assert update["changes"][SPEND]["new"][0]["Amount"] == "15000"
    assert entries[actions.index("create_opportunity")]["detail"]["trigger"] == "deal.creation"
    reverse = entries[actions.index("reverse_sync")]["detail"]
    assert reverse["changes"]["aws_review_status"]["new"] == "Action Required"
    assert reverse["trigger"].startswith("partnercentral.")
    rollback = entries[actions.index("rollback")]["detail"]
    assert rollback["trigger"] == "aws.rollback"
    assert rollback["changes"][CLOSE] == {"old": new_close, "new": GOOD_DEAL["closedate"]}
    dumped = json.dumps(entries)
    assert stack.hs.access_token not in dumped and "aws_secret_access_key" not in dumped


async def test_rollback_before_the_first_entry_fails_clearly(stack: Stack) -> None:
    _, opp_id = await created(stack)
    status, accepted = await api(
        stack, "POST", "/rollback", {"opportunityId": opp_id, "targetTimestamp": "2020-01-01T00:00:00Z"}
    )
    assert status == 202
    job = await job_done(stack, accepted["job_id"])
    assert job["status"] == "failed"
    assert "no entry at or before" in job["error"] and opp_id in job["error"]
    assert pc_amount(stack, opp_id) == "12000"


async def _prop(stack: Stack, deal_id: str, prop: str, value: str) -> bool:
    return stack.deal(deal_id).get(prop) == value


async def test_rollback_refused_by_partner_central_reverts_the_deal(stack: Stack) -> None:
    deal_id, opp_id, before_change = await _amount_changed_after_creation(stack)
    await stack.aws(f"/_sandbox/opportunities/{opp_id}", {"ReviewStatus": "Submitted"})
    await wait_until(lambda: _prop(stack, deal_id, "aws_review_status", "Submitted"))
    await stack.settle()

    status, accepted = await _rollback(stack, opp_id, before_change)
    assert status == 202
    job = await job_done(stack, accepted["job_id"])
    assert job["status"] == "failed" and "Partner Central refused" in job["error"], job
    assert pc_amount(stack, opp_id) == "15000"
    assert stack.deal(deal_id)["amount"] == "15000"
    assert any("changes reverted" in n for n in stack.notes_of(deal_id))
    actions = [e["action"] for e in await trail(stack, opp_id)]
    assert "rollback_reverted" in actions and "rollback" not in actions


async def _amount_is(stack: Stack, opp_id: str, amount: str) -> bool:
    return pc_amount(stack, opp_id) == amount


async def _amount_changed_after_creation(stack: Stack) -> tuple[str, str, datetime]:
    """A created deal whose amount the rep then changed to 15000 (in AWS too): ``(deal, opportunity, a time
    between the two)``."""
    deal_id, opp_id = await created(stack)
    before_change = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await stack.rep_update(deal_id, {"amount": "15000"})
    await wait_until(lambda: _amount_is(stack, opp_id, "15000"))
    return deal_id, opp_id, before_change


async def _rollback(stack: Stack, opp_id: str, to: datetime) -> tuple[int, Any]:
    return await api(stack, "POST", "/rollback", {"opportunityId": opp_id, "targetTimestamp": to.isoformat()})


async def test_rollback_waits_for_a_push_or_reverse_sync_of_the_same_deal(stack: Stack) -> None:
    # A push holding the deal (the lock a push and a reverse sync take) must finish before the rollback reads
    # and writes, or each would put back what the other just wrote.
    deal_id, opp_id, before_change = await _amount_changed_after_creation(stack)
    await stack.quiet()  # the push (and its echo's reverse sync) let go of the deal's lease
    lock = f"aws:deal:{deal_id}"  # the connector's deal lease (DealConnector.deal_lock)
    assert await stack.rt.context.store.acquire_lease(lock, "another-flow", 30.0)  # working on the deal
    status, accepted = await _rollback(stack, opp_id, before_change)
    assert status == 202, accepted
    await asyncio.sleep(1.5)
    assert pc_amount(stack, opp_id) == "15000"
    status, job = await api(stack, "GET", f"/jobs/{accepted['job_id']}")
    assert job["status"] in ("queued", "running"), job
    await stack.rt.context.store.release_lease(lock, "another-flow")
    job = await job_done(stack, accepted["job_id"])
    assert job["status"] == "succeeded", job
    assert pc_amount(stack, opp_id) == "12000"
