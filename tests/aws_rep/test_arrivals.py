"""A new opportunity from AWS reaches the rep as one deal, one HIGH task and one note (seed 004, seed 000 §3):
an accepted invitation, and an ``Opportunity Created`` for an opportunity cosync did not create (made here
with boto3, as a colleague or another partner would), even when the event comes again and the reconcile and
the invitation poll see it too."""

from __future__ import annotations

import time
from typing import Any

from tests_aws.conftest import Stack, wait_until
from tests_aws.test_invitations import REFERRAL

from cosync_worker.sandbox.stack import eventbridge_sink
from tests.sandbox.test_partnercentral_emulator import boto3_client, call, opportunity

from .conftest import assert_task, one_task, titled

NEW = "New AWS Co-Sell Opportunity"


def _deals_with(stack: Stack, prop: str, value: str) -> list[str]:
    return [k for k, d in stack.hs.objects("deals").items() if (d["properties"] or {}).get(prop) == value]


def _notes_with(stack: Stack, deal_id: str, text: str) -> int:
    return sum(text in n for n in stack.notes_of(deal_id))


async def test_an_accepted_invitation_is_one_deal_one_task_and_one_note(rep_stack: Stack) -> None:
    stack = rep_stack
    since = time.time()
    invitation_id = (await stack.aws("/_sandbox/invitations", REFERRAL))["invitation_id"]
    await stack.tick("aws_invitations")  # the poll races the event
    await wait_until(lambda: len(_deals_with(stack, "aws_invitation_id", invitation_id)) == 1)
    [deal_id] = _deals_with(stack, "aws_invitation_id", invitation_id)
    task = await one_task(stack, deal_id, NEW)
    assert_task(task, "HIGH", 24, since)
    assert invitation_id in task["hs_task_body"] and "Globex data lake" in task["hs_task_body"]
    await wait_until(lambda: _notes_with(stack, deal_id, NEW) == 1)
    await stack.tick("aws_invitations")
    await stack.tick("aws_reconcile")
    await stack.settle(1.0)
    assert _deals_with(stack, "aws_invitation_id", invitation_id) == [deal_id]
    assert len(titled(stack, deal_id, NEW)) == 1 and _notes_with(stack, deal_id, NEW) == 1


async def test_a_foreign_opportunity_created_becomes_one_deal_and_one_task(rep_stack: Stack) -> None:
    stack = rep_stack
    since = time.time()
    made = await call(
        boto3_client(stack.pc).create_opportunity,
        **opportunity(ClientToken="colleague-1", PartnerOpportunityIdentifier="crm-4711"),
    )
    opp_id = str(made["Id"])
    await wait_until(lambda: len(_deals_with(stack, "aws_opportunity_id", opp_id)) == 1)
    [deal_id] = _deals_with(stack, "aws_opportunity_id", opp_id)
    task = await one_task(stack, deal_id, NEW)
    assert_task(task, "HIGH", 24, since)
    assert "not by cosync" in task["hs_task_body"] and opp_id in task["hs_task_body"]
    deal = stack.deal(deal_id)
    assert deal["dealname"] == "Data platform migration #AWS" and deal["aws_last_sync_by"] == "AWS"
    assert deal["aws_opportunity_title"] == "Data platform migration"

    # EventBridge delivers at least once: the same event again, then the reconcile reads the opportunity.
    async with stack.session.get(stack.pc.base_url + "/_sandbox/events") as r:
        events: list[dict[str, Any]] = await r.json()
    [created] = [e for e in events if e["detail-type"] == "Opportunity Created"]
    redelivered = {**created, "id": f"{created['id']}-again"}  # a new delivery id: past the queue's dedupe
    await eventbridge_sink(stack.rt.context.queue)(redelivered)
    await stack.tick("aws_reconcile")
    await stack.settle(1.5)
    assert _deals_with(stack, "aws_opportunity_id", opp_id) == [deal_id]
    assert len(titled(stack, deal_id, NEW)) == 1 and _notes_with(stack, deal_id, NEW) == 1
    # The deal.creation webhook of the deal cosync made created no opportunity of its own.
    assert (await stack.calls(stack.pc)).get("CreateOpportunity") == 1
    assert len(stack.opportunities()) == 1
