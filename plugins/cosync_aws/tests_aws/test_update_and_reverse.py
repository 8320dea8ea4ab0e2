"""Flows 3, 4 and 8 end to end: a rep's changes reach Partner Central with read-merge-write (coalesced,
no-ops skipped, conflicts re-merged, review rules respected), and AWS's changes come back without echo."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiobotocore.session import get_session
from aiohttp import web

from cosync_worker.sandbox.faults import Fault
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator

from .conftest import Stack, wait_until
from .test_conflicts import api as _api
from .test_create import GOOD_DEAL


async def _created(stack: Stack) -> tuple[str, str]:
    company = await stack.rep_company()
    deal_id = await stack.rep_deal(GOOD_DEAL, company)

    async def done() -> bool:
        return bool(stack.deal(deal_id).get("aws_opportunity_id"))

    await wait_until(done)
    # The creation's own events (Opportunity Created, one Opportunity Updated per solution) are all handled
    # before the test goes on: on a busy machine they could still be queued, and then be interleaved with
    # the change the test makes next, which is not what these tests are about.
    await stack.quiet()
    return deal_id, stack.deal(deal_id)["aws_opportunity_id"]


async def test_burst_of_changes_is_one_update_with_all_of_them(stack: Stack) -> None:
    deal_id, opp_id = await _created(stack)
    before = await stack.calls(stack.pc)
    await stack.rep_update(deal_id, {"dealstage": "presentationscheduled"})
    await stack.rep_update(deal_id, {"amount": "15000"})
    await stack.rep_update(
        deal_id, {"description": "Move 40 databases and 12 analytics jobs to AWS this year"}
    )

    async def applied() -> bool:
        opp = stack.opportunities()[opp_id]
        return opp["Project"]["ExpectedCustomerSpend"][0]["Amount"] == "15000"

    await wait_until(applied)
    await stack.settle(1.0)
    opp = stack.opportunities()[opp_id]
    assert opp["LifeCycle"]["Stage"] == "Technical Validation"
    assert opp["Project"]["CustomerBusinessProblem"].startswith("Move 40 databases and 12")
    after = await stack.calls(stack.pc)
    assert after.get("UpdateOpportunity", 0) - before.get("UpdateOpportunity", 0) == 1
    # Our own update's "Opportunity Updated" event wrote nothing back: beyond the creation note, only the
    # push's own note (seed 001 §1), one for the burst, naming all three changes.
    [_, pushed] = stack.notes_of(deal_id)
    assert pushed.startswith("Sent to AWS Partner Central") and "changed opportunity" not in pushed
    assert all(f in pushed for f in ("stage:", "description:", "expected spend: 15000"))


async def test_a_push_after_an_error_marks_the_deal_synced_in_its_one_patch(stack: Stack) -> None:
    deal_id, opp_id = await _created(stack)
    patch = "PATCH /crm/v3/objects/{objectType}/{objectId}"
    # As a failed push leaves it (the rep's token writes it here, so only the push below is cosync's)
    await stack.rep_update(deal_id, {"aws_sync_status": "error", "aws_sync_error": "AWS was unreachable"})
    await stack.quiet()
    before = (await stack.calls(stack.hs)).get(patch, 0)
    await stack.rep_update(deal_id, {"amount": "17000"})

    async def applied() -> bool:
        return bool(stack.opportunities()[opp_id]["Project"]["ExpectedCustomerSpend"][0]["Amount"] == "17000")

    await wait_until(applied)
    await stack.quiet()
    # The rep's PATCH and cosync's one: "synced", the error cleared and the push's stamp together (issue 22)
    assert (await stack.calls(stack.hs)).get(patch, 0) - before == 2
    deal = stack.deal(deal_id)
    assert (deal["aws_sync_status"], deal["aws_sync_error"], deal["aws_last_sync_by"]) == (
        "synced",
        "",
        "rep",
    )


async def test_change_that_maps_to_the_same_payload_writes_nothing(stack: Stack) -> None:
    deal_id, _ = await _created(stack)
    before = await stack.calls(stack.pc)
    await stack.rep_update(deal_id, {"amount": "12000.00"})
    await stack.settle(1.0)
    after = await stack.calls(stack.pc)
    assert after.get("UpdateOpportunity", 0) == before.get("UpdateOpportunity", 0)
    assert after.get("GetOpportunity", 0) == before.get("GetOpportunity", 0)


async def test_update_keeps_fields_set_in_partner_central(stack: Stack) -> None:
    deal_id, opp_id = await _created(stack)
    record = stack.opportunities()[opp_id]
    record["Project"]["AdditionalComments"] = "set by a colleague in the Partner Central console"
    record["LifeCycle"]["NextSteps"] = "Architecture review on Friday"
    stack.pc.catalog("Sandbox").touch(record)
    await stack.rep_update(deal_id, {"closedate": GOOD_DEAL["closedate"][:8] + "28"})

    async def applied() -> bool:
        return bool(stack.opportunities()[opp_id]["LifeCycle"]["TargetCloseDate"].endswith("-28"))

    await wait_until(applied)
    opp = stack.opportunities()[opp_id]
    assert opp["Project"]["AdditionalComments"] == "set by a colleague in the Partner Central console"
    assert opp["LifeCycle"]["NextSteps"] == "Architecture review on Friday"
    assert opp["Customer"]["Account"]["CompanyName"] == "BigCorp"


class EditingEmulator(PartnerCentralEmulator):
    """Partner Central where a person edits the opportunity right after cosync reads it, once."""

    edits_left = 0

    async def _api(self, request: web.Request) -> web.Response:
        response = await super()._api(request)
        if request.headers.get("X-Amz-Target", "").endswith(".GetOpportunity") and self.edits_left:
            self.edits_left -= 1
            for record in self.opportunities("Sandbox").values():
                record["Project"]["AdditionalComments"] = "edited between read and write"
                self.catalog("Sandbox").touch(record)
        return response


@pytest.mark.partnercentral(emulator=EditingEmulator)
async def test_conflict_is_reread_and_remerged(odd_stack: Stack) -> None:
    stack = odd_stack
    deal_id, opp_id = await _created(stack)
    assert isinstance(stack.pc, EditingEmulator)
    stack.pc.edits_left = 1
    before = await stack.calls(stack.pc)
    ours = dict(stack.rt.context.service("aws.partnercentral").calls)
    await stack.rep_update(deal_id, {"amount": "20000"})

    async def applied() -> bool:
        return bool(stack.opportunities()[opp_id]["Project"]["ExpectedCustomerSpend"][0]["Amount"] == "20000")

    await wait_until(applied)
    opp = stack.opportunities()[opp_id]
    assert opp["Project"]["AdditionalComments"] == "edited between read and write"
    after = await stack.calls(stack.pc)
    # The emulator counts served calls; the client counts attempts: one conflict, then one success.
    attempts = stack.rt.context.service("aws.partnercentral").calls
    assert attempts["UpdateOpportunity"] - ours.get("UpdateOpportunity", 0) == 2
    # The push reads twice (before the write, and again after the conflict); the person's edit raises an
    # "Opportunity Updated" event whose reverse sync may add one read of its own before we look.
    assert 2 <= after["GetOpportunity"] - before.get("GetOpportunity", 0) <= 3


class FailingUpdates(PartnerCentralEmulator):
    """Partner Central that answers the next ``failures`` UpdateOpportunity calls with a 500, before any effect."""

    failures = 0

    async def _api(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Amz-Target", "").endswith(".UpdateOpportunity") and self.failures:
            self.failures -= 1
            return self.fault_response(request, Fault("error"))
        return await super()._api(request)


@pytest.mark.partnercentral(emulator=FailingUpdates)
async def test_a_failed_push_is_pushed_again_when_its_event_is_redelivered(odd_stack: Stack) -> None:
    # The fault suite found this: the failed attempt had already recorded its read of the deal, so the
    # redelivered event looked older than that read ("covered") and the change never reached AWS.
    stack = odd_stack
    deal_id, opp_id = await _created(stack)
    assert isinstance(stack.pc, FailingUpdates)
    client = stack.rt.context.service("aws.partnercentral")
    before = client.calls.get("UpdateOpportunity", 0)
    stack.pc.failures = 5  # the client's attempts for one write: the push fails and the event is retried
    await stack.rep_update(deal_id, {"amount": "31000"})

    async def applied() -> bool:
        return bool(stack.opportunities()[opp_id]["Project"]["ExpectedCustomerSpend"][0]["Amount"] == "31000")

    await wait_until(applied)
    assert stack.pc.failures == 0
    assert client.calls["UpdateOpportunity"] - before >= 2  # the failed call, then the retried event's


class LostUpdateAnswer(PartnerCentralEmulator):
    """Partner Central that applies the next UpdateOpportunity and loses its answer (a 500), then refuses the
    client's further attempts before any effect, so the push gives up with its own write in place but not
    recorded; ``meanwhile`` (the rep's next edit) runs once, between the two."""

    failures = 0
    meanwhile: Callable[[], Awaitable[None]] | None = None

    async def _api(self, request: web.Request) -> web.Response:
        if not request.headers.get("X-Amz-Target", "").endswith(".UpdateOpportunity") or not self.failures:
            return await super()._api(request)
        self.failures -= 1
        if self.meanwhile is not None:
            await super()._api(request)
            edit, self.meanwhile = self.meanwhile, None
            await edit()
        return self.fault_response(request, Fault("error"))


@pytest.mark.partnercentral(emulator=LostUpdateAnswer, conflicts={"manual_fields": ["amount"]})
async def test_our_own_unrecorded_write_is_not_taken_for_a_conflict(odd_stack: Stack) -> None:
    # The fault suite found this: a push killed after its UpdateOpportunity landed left the opportunity
    # holding a value the state did not know, and the next push saw "changed in Partner Central" and held a
    # conflict (here: for a person to settle, as amount is a manual field) over cosync's own write.
    stack = odd_stack
    assert isinstance(stack.pc, LostUpdateAnswer)
    deal_id, opp_id = await _created(stack)

    async def rep_changes_again() -> None:
        await stack.rep_update(deal_id, {"amount": "22000"})

    stack.pc.failures = 5  # the landed write and 4 refused retries: the push fails and its event is retried
    stack.pc.meanwhile = rep_changes_again
    await stack.rep_update(deal_id, {"amount": "21000"})

    async def latest_reached_aws() -> bool:
        return bool(stack.opportunities()[opp_id]["Project"]["ExpectedCustomerSpend"][0]["Amount"] == "22000")

    await wait_until(latest_reached_aws)
    assert stack.pc.failures == 0 and stack.pc.meanwhile is None
    await stack.settle()
    assert stack.deal(deal_id).get("aws_conflict_status") in (None, "")
    status, pending = await _api(stack, "GET", "/conflicts/pending")
    assert status == 200 and pending["conflicts"] == [], pending


async def test_submitted_opportunity_is_skipped_with_a_note_not_failed(stack: Stack) -> None:
    deal_id, opp_id = await _created(stack)
    await stack.aws(f"/_sandbox/opportunities/{opp_id}", {"ReviewStatus": "Submitted"})
    await wait_until(lambda: _prop_is(stack, deal_id, "aws_review_status", "Submitted"))
    before = await stack.calls(stack.pc)
    await stack.rep_update(deal_id, {"amount": "30000"})

    async def noted() -> bool:
        return any("did not send" in n for n in stack.notes_of(deal_id))

    await wait_until(noted)
    await stack.settle()
    after = await stack.calls(stack.pc)
    assert after.get("UpdateOpportunity", 0) == before.get("UpdateOpportunity", 0)
    assert stack.opportunities()[opp_id]["Project"]["ExpectedCustomerSpend"][0]["Amount"] == "12000"
    assert sum("did not send" in n for n in stack.notes_of(deal_id)) == 1


async def test_aws_review_change_comes_back_once_with_a_note(stack: Stack) -> None:
    deal_id, opp_id = await _created(stack)
    await stack.aws(
        f"/_sandbox/opportunities/{opp_id}",
        {"ReviewStatus": "Action Required", "ReviewComments": "add a website"},
    )
    await wait_until(lambda: _prop_is(stack, deal_id, "aws_review_status", "Action Required"))
    # Nothing left to do, not a sleep: a second note would come after the property, and on a busy machine
    # after any fixed wait
    await stack.quiet()
    # One note: the review notice's (with its task); the reverse sync's own note does not say it again.
    notes = [n for n in stack.notes_of(deal_id) if "Action Required" in n]
    assert len(notes) == 1 and "add a website" in notes[0]


async def test_stage_changed_in_partner_central_round_trips_without_ping_pong(stack: Stack) -> None:
    deal_id, opp_id = await _created(stack)
    # A person edits the stage in Partner Central (through the same API, read-merge-write by hand).
    session = get_session()
    async with session.create_client(
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
        await client.update_opportunity(
            Catalog="Sandbox",
            Identifier=opp_id,
            LastModifiedDate=current["LastModifiedDate"],
            Customer=current["Customer"],
            Project=current["Project"],
            LifeCycle={**life, "Stage": "Committed"},
        )
    await wait_until(lambda: _prop_is(stack, deal_id, "dealstage", "contractsent"))
    before = await stack.calls(stack.pc)
    await stack.settle(1.2)
    after = await stack.calls(stack.pc)
    # HubSpot's webhook for cosync's own write did not produce a write back to Partner Central
    assert after.get("UpdateOpportunity", 0) == before.get("UpdateOpportunity", 0)
    notes = [n for n in stack.notes_of(deal_id) if "changed opportunity" in n]
    assert len(notes) == 1 and "contractsent" in notes[0]


async def test_company_change_updates_the_opportunity(stack: Stack) -> None:
    deal_id, opp_id = await _created(stack)
    company_id = next(iter(stack.hs.portal.associated("deals", deal_id, "companies")))
    await stack.rep(
        "PATCH", f"/crm/v3/objects/companies/{company_id}", {"properties": {"domain": "bigcorp.io"}}
    )

    async def applied() -> bool:
        return bool(
            stack.opportunities()[opp_id]["Customer"]["Account"]["WebsiteUrl"] == "https://bigcorp.io"
        )

    await wait_until(applied)


async def _prop_is(stack: Stack, deal_id: str, prop: str, value: str) -> bool:
    return stack.deal(deal_id).get(prop) == value
