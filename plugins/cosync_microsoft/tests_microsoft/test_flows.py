"""End to end: a rep in HubSpot and Microsoft in the emulator, cosync's relay, queue and worker between them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cosync_microsoft.client import API_PATH
from cosync_microsoft.sync import CURSOR, DealState

from cosync_worker.events import Event, parse_hubspot_event
from cosync_worker.sandbox.faults import Fault
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.microsoft import MicrosoftEmulator

from .conftest import (
    FALLBACK_OWNER,
    TASK_TO_DEAL,
    TIMEOUT,
    Rep,
    Stack,
    ensure_properties,
    running,
    wait_until,
)


def referrals_for(ms: MicrosoftEmulator, deal_id: str) -> list[dict]:
    return [r for r in ms.referrals().values() if r.get("externalReferenceId") == deal_id]


async def test_tagged_deal_creates_a_referral_and_writes_it_back(stack: Stack) -> None:
    deal_id = await stack.rep.deal_with_customer(
        "Contoso Azure Migration #Microsoft", description="Move 40 VMs", closedate="2030-01-31"
    )
    untagged = await stack.rep.deal_with_customer("Plain deal")
    await wait_until(lambda: stack.deal(deal_id).get("microsoft_sync_status") == "synced")
    [referral] = referrals_for(stack.ms, deal_id)
    assert referral["name"] == "Contoso Azure Migration #Microsoft"
    assert referral["details"]["notes"] == "Move 40 VMs"
    assert referral["details"]["dealValue"] == 5000
    assert referral["details"]["closingDateTime"].startswith("2030-01-31")
    assert (referral["status"], referral["substatus"]) == ("Active", "Accepted")
    assert referral["customerProfile"]["name"] == "Contoso Ltd"
    assert referral["customerProfile"]["team"][0]["email"] == "jo@contoso.test"
    assert referral["consent"]["consentToShareReferralWithMicrosoftSellers"] is False
    props = stack.deal(deal_id)
    assert props["microsoft_referral_id"] == referral["id"]
    assert (props["microsoft_status"], props["microsoft_substatus"]) == ("Active", "Accepted")
    await stack.settle()
    assert referrals_for(stack.ms, untagged) == []
    assert stack.ms.tokens_issued >= 1  # through MSAL and the emulator's token endpoint
    assert len(stack.ms.referrals()) == 1


async def test_missing_customer_fields_name_them(stack: Stack) -> None:
    deal_id = await stack.rep.create(
        "deals", {"dealname": "Lonely #Microsoft", "dealstage": "appointmentscheduled"}
    )
    await wait_until(lambda: stack.deal(deal_id).get("microsoft_sync_status") == "error")
    error = stack.deal(deal_id)["microsoft_sync_error"]
    assert "customerProfile.name" in error and "customerProfile.address.country" in error
    assert "customerProfile.team[0].email" in error
    assert stack.ms.referrals() == {}


async def test_deal_change_patches_with_etag_and_survives_a_conflict(stack: Stack) -> None:
    deal_id = await stack.rep.deal_with_customer("Fabrikam #Microsoft")
    await wait_until(lambda: stack.deal(deal_id).get("microsoft_sync_status") == "synced")
    referral_id = stack.deal(deal_id)["microsoft_referral_id"]
    # Microsoft edits the notes meanwhile: cosync's stored eTag is now stale.
    await stack.operator(f"/_sandbox/referrals/{referral_id}", {"details": {"notes": "from the MS seller"}})
    await stack.rep.update_deal(deal_id, {"amount": "7500", "dealstage": "presentationscheduled"})
    await wait_until(lambda: stack.ms.referrals()[referral_id]["details"]["dealValue"] == 7500)
    referral = stack.ms.referrals()[referral_id]
    assert referral["details"]["notes"] == "from the MS seller"  # re-read and re-applied, not overwritten
    assert (referral["status"], referral["substatus"]) == ("Active", "Engaged")
    await wait_until(lambda: stack.deal(deal_id).get("microsoft_substatus") == "Engaged")
    assert stack.ms.calls.get("PATCH /v1.0/engagements/referrals/{id}", 0) >= 2  # 412 then success
    state = await stack.sync.deals.read(deal_id)
    assert state.value.etag == referral["eTag"]


async def test_incoming_referral_becomes_a_deal_and_closed_ones_are_left_alone(stack: Stack) -> None:
    incoming = await stack.operator(
        "/_sandbox/referrals",
        {"name": "Woodgrove expansion", "details": {"dealValue": 12000, "currency": "USD", "notes": "hi"}},
    )
    closed = await stack.operator(
        "/_sandbox/referrals", {"name": "Old one", "status": "Closed", "substatus": "Lost"}
    )
    result = await stack.sync.poll()
    assert (result.created, result.updated) == (1, 0)
    [(deal_id, props)] = list(stack.deals().items())
    assert props["dealname"] == "Woodgrove expansion #Microsoft"
    assert props["microsoft_referral_id"] == incoming["id"] and props["amount"] in ("12000", "12000.0")
    assert props["dealstage"] == "appointmentscheduled" and props["microsoft_status"] == "New"
    assert all(p["microsoft_referral_id"] != closed["id"] for p in stack.deals().values())
    # The rep hears of it once: one task for the owner and one note, both on the new deal.
    [task] = stack.linked("tasks", deal_id)
    assert task["properties"]["hubspot_owner_id"] == FALLBACK_OWNER
    assert TASK_TO_DEAL in task["association_types"]
    assert "New Microsoft Co-Sell Opportunity" in task["properties"]["hs_task_subject"]
    assert f"Opportunity: {incoming['id']}" in task["properties"]["hs_task_body"]
    [note] = stack.linked("notes", deal_id)
    assert "New Microsoft Co-Sell Opportunity" in note["properties"]["hs_note_body"]
    await stack.settle()
    assert len(stack.ms.referrals()) == 2  # the deal.creation echo created no referral
    # A second poll with nothing new on Microsoft's side tells the rep nothing again.
    assert (await stack.sync.poll()).created == 0
    assert (len(stack.hs.objects("tasks")), len(stack.hs.objects("notes"))) == (1, 1)
    # Microsoft accepts it: the next (incremental) poll moves the deal.
    await stack.operator(
        f"/_sandbox/referrals/{incoming['id']}", {"status": "Active", "substatus": "Engaged"}
    )
    assert (await stack.sync.poll()).updated == 1
    assert stack.deal(deal_id)["dealstage"] == "presentationscheduled"
    updated = [t for t in stack.linked("tasks", deal_id) if t["id"] != task["id"]]
    assert len(updated) == 1 and len(stack.linked("notes", deal_id)) == 2
    assert "Opportunity Updated by Microsoft" in updated[0]["properties"]["hs_task_subject"]
    assert "microsoft_substatus: Engaged" in updated[0]["properties"]["hs_task_body"]
    # It closes: the poll does not touch the deal any more.
    await stack.operator(f"/_sandbox/referrals/{incoming['id']}", {"status": "Closed", "substatus": "Won"})
    assert (await stack.sync.poll()).updated == 0
    assert stack.deal(deal_id)["microsoft_status"] == "Active"
    assert len(stack.hs.objects("tasks")) == 2  # a closed referral notifies nobody
    await stack.settle()
    patches = stack.ms.calls.get("PATCH /v1.0/engagements/referrals/{id}", 0)
    assert patches == 0  # our own HubSpot writes never echoed back to Microsoft
    assert await stack.rt.context.store.get_cursor(CURSOR)


async def test_redelivery_and_restart_do_nothing_twice(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, microsoft_emulator: MicrosoftEmulator
) -> None:
    hs, ms = hubspot_emulator, microsoft_emulator
    await ensure_properties(hs)
    ms.add_incoming_referral({"name": "Incoming A"})
    async with running(tmp_path, hs, ms) as s:
        deal_id = await s.rep.deal_with_customer("Tailspin #Microsoft")
        await wait_until(lambda: s.deal(deal_id).get("microsoft_sync_status") == "synced")
        await s.sync.poll()
        await s.settle()
        # Redelivery: the same events handled again by the real handlers.
        await s.sync.deal_created(deal_id)
        await s.sync.deal_changed(deal_id, "amount")
    assert (len(hs.objects("tasks")), len(hs.objects("notes"))) == (1, 1)  # "Incoming A", once
    before_deals, before_refs = len(hs.objects("deals")), len(ms.referrals())
    hs_writes = sum(v for k, v in hs.calls.items() if k.startswith(("POST", "PATCH")) and "search" not in k)
    async with running(tmp_path, hs, ms) as s:
        # Lost state is no excuse either: the externalReferenceId lookup finds the referral.
        await s.sync.deals.update(deal_id, lambda _: DealState())
        await s.sync.deal_created(deal_id)
        result = await s.sync.poll()
        assert (result.created, result.updated) == (0, 0)
        await s.settle()
    assert (len(hs.objects("deals")), len(ms.referrals())) == (before_deals, before_refs) == (2, 2)
    assert ms.calls.get("PATCH /v1.0/engagements/referrals/{id}", 0) == 0
    assert ms.calls.get("POST /v1.0/engagements/referrals", 0) == 1
    assert (len(hs.objects("tasks")), len(hs.objects("notes"))) == (1, 1)  # the restart's poll: nothing
    after = sum(v for k, v in hs.calls.items() if k.startswith(("POST", "PATCH")) and "search" not in k)
    assert after - hs_writes <= 2  # the adopt path re-writes the link once at most


def redelivery(deal_id: str) -> Event:
    """A deal.creation HubSpot sends (again, or late) with a new eventId (the dedupe key cannot catch it)."""
    return parse_hubspot_event(
        {"eventId": int(time.time() * 1e6), "subscriptionType": "deal.creation", "objectId": int(deal_id)}
    )


class LosingMicrosoft(MicrosoftEmulator):
    """Creates the next referral, then loses the answer: a 503, or the connection dropped; "unlisted": a 503,
    and every list of referrals fails from then on (a fault target) until the test clears the faults."""

    def __init__(self, lose: str) -> None:
        super().__init__()
        self.lose: str | None = lose

    async def _create(self, request: web.Request) -> web.Response:
        lose, self.lose = self.lose, None
        response = await super()._create(request)
        if lose == "dropped":
            assert request.transport is not None
            request.transport.close()
        elif lose in ("503", "unlisted"):
            if lose == "unlisted":
                self.faults.target("GET", API_PATH)
            return self.fault_response(request, Fault("error"))
        return response


@pytest.mark.parametrize("lose", ["503", "dropped"])
async def test_a_lost_answer_to_a_create_adopts_the_referral_instead_of_a_second(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, lose: str
) -> None:
    """A referral create takes no idempotency key: after its answer is lost it is looked up by
    externalReferenceId, never sent again."""
    await ensure_properties(hubspot_emulator)
    async with LosingMicrosoft(lose) as ms:
        assert isinstance(ms, LosingMicrosoft)
        async with running(tmp_path, hubspot_emulator, ms) as stack:
            deal_id = await stack.rep.deal_with_customer("Lost Reply #Microsoft")
            await wait_until(lambda: stack.deal(deal_id).get("microsoft_sync_status") == "synced")
            await stack.settle()
            [referral] = referrals_for(ms, deal_id)
            assert stack.deal(deal_id)["microsoft_referral_id"] == referral["id"]
            assert ms.calls["POST /v1.0/engagements/referrals"] == 1 and ms.lose is None


async def test_a_referral_adopted_after_a_lost_answer_gets_the_edits_made_since_it_was_created(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator
) -> None:
    """The referral holds the values of the attempt that created it. Adopted later (found by its
    externalReferenceId), its snapshot was the deal's values at adoption, so the rep's edit made in between
    (its event found no link) was never sent to Microsoft (issue 15, as Google's lead in 74fac1d)."""
    await ensure_properties(hubspot_emulator)
    async with LosingMicrosoft("unlisted") as ms:
        assert isinstance(ms, LosingMicrosoft)
        async with running(tmp_path, hubspot_emulator, ms) as stack:
            deal_id = await stack.rep.deal_with_customer("Late Listing #Microsoft", amount="5000")
            queue = stack.rt.context.queue

            async def dead_lettered() -> bool:
                return bool(await queue.list_dead_letters())

            # Created, its answer lost, and the lookup that would find it refused through every retry: the
            # creation is set aside (no attempt left in flight), the deal has no link yet.
            await wait_until(dead_lettered)
            [referral] = referrals_for(ms, deal_id)
            assert ms.faults.injected["error"] >= 1 and not stack.deal(deal_id).get("microsoft_referral_id")
            await stack.rep.update_deal(deal_id, {"amount": "7500", "description": "Two more sites"})
            ms.faults.clear()
            assert await queue.replay_dead_letters() == 1  # the creation, retried after the edit
            await wait_until(lambda: stack.deal(deal_id).get("microsoft_referral_id") == referral["id"])
            await wait_until(lambda: ms.referrals()[referral["id"]]["details"].get("dealValue") == 7500)
            assert ms.referrals()[referral["id"]]["details"]["notes"] == "Two more sites"
            await wait_until(lambda: stack.deal(deal_id).get("microsoft_sync_status") == "synced")
            assert referrals_for(ms, deal_id) == [ms.referrals()[referral["id"]]]
            assert ms.calls["POST /v1.0/engagements/referrals"] == 1


async def test_a_deal_naming_a_referral_sends_it_the_edits_made_before_its_creation_event(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator, microsoft_emulator: MicrosoftEmulator
) -> None:
    """A deal that carries microsoft_referral_id when its deal.creation is handled (the poll's deal whose
    state was not recorded, a deal linked by hand) is adopted, never created. The referral holds its own
    values: an edit the rep made before the event came (its event found no link) is sent at the adoption,
    not recorded as synced."""
    hs, ms = hubspot_emulator, microsoft_emulator
    await ensure_properties(hs)
    incoming = ms.add_incoming_referral(
        {"name": "Woodgrove expansion", "details": {"dealValue": 12000, "currency": "USD", "notes": "hi"}}
    )
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        rep = Rep(http, hs)
        # Before cosync listens: HubSpot holds the deal.creation until the rep's edit is made.
        deal_id = await rep.create(
            "deals",
            {"dealname": "Woodgrove expansion #Microsoft", "dealstage": "appointmentscheduled"}
            | {"amount": "12000", "description": "hi", "microsoft_referral_id": incoming["id"]},
        )
        await rep.update_deal(deal_id, {"amount": "15000"})
    async with running(tmp_path, hs, ms) as stack:
        await stack.rt.context.enqueue([redelivery(deal_id)])
        await wait_until(lambda: ms.referrals()[incoming["id"]]["details"].get("dealValue") == 15000)
        referral = ms.referrals()[incoming["id"]]
        # Only what differs was sent: the name keeps Microsoft's (no deal tag), the notes their value.
        assert (referral["name"], referral["details"]["notes"]) == ("Woodgrove expansion", "hi")
        assert ms.calls.get("PATCH /v1.0/engagements/referrals/{id}", 0) == 1

        # The link is recorded after the PATCH's answer (it carries the new eTag): waited for, not assumed.
        async def linked() -> bool:
            state = (await stack.sync.deals.read(deal_id)).value
            return (state.referral_id, state.adopted, state.etag) == (incoming["id"], False, referral["eTag"])

        await wait_until(linked)
    assert ms.calls.get("POST /v1.0/engagements/referrals", 0) == 0


async def test_a_poll_that_updates_a_deal_leaves_the_reps_waiting_edit_to_be_sent(stack: Stack) -> None:
    """The poll writes what Microsoft changed to the deal. What it records as last synced is the referral's
    values, not the deal's others: a rep's edit whose event comes after the poll is still sent."""
    deal_id = await stack.rep.deal_with_customer("Northwind #Microsoft", amount="5000")
    await wait_until(lambda: stack.deal(deal_id).get("microsoft_sync_status") == "synced")
    referral_id = stack.deal(deal_id)["microsoft_referral_id"]
    await stack.hs.drain_webhooks()
    # HubSpot holds its webhooks from here: the rep's edit is made, its event comes after the poll.
    subscriptions = list(stack.hs.webhooks.subscriptions)
    stack.hs.webhooks.subscriptions.clear()
    await stack.rep.update_deal(deal_id, {"amount": "7500"})
    await stack.operator(f"/_sandbox/referrals/{referral_id}", {"details": {"notes": "from the MS seller"}})
    assert (await stack.sync.poll()).updated == 1
    assert stack.deal(deal_id)["description"] == "from the MS seller"
    assert stack.deal(deal_id)["amount"] == "7500"  # the rep's edit is kept in HubSpot
    stack.hs.webhooks.subscriptions.extend(subscriptions)
    change = {"subscriptionType": "deal.propertyChange", "objectId": int(deal_id)}
    change |= {"eventId": int(time.time() * 1e6), "propertyName": "amount", "propertyValue": "7500"}
    await stack.rt.context.enqueue([parse_hubspot_event(change)])
    await wait_until(lambda: stack.ms.referrals()[referral_id]["details"].get("dealValue") == 7500)
    assert stack.ms.referrals()[referral_id]["details"]["notes"] == "from the MS seller"


class PollDuringPush(MicrosoftEmulator):
    """Once armed, the next PATCH of a referral is applied, then held unanswered until ``release`` is set:
    cosync's push is between Microsoft's change and recording it. ``listed`` is set by each list served."""

    def __init__(self) -> None:
        super().__init__()
        self.armed: asyncio.Event | None = None
        self.patched = asyncio.Event()
        self.listed = asyncio.Event()

    async def _patch(self, request: web.Request) -> web.Response:
        response = await super()._patch(request)
        release, self.armed = self.armed, None
        if release is not None:
            self.patched.set()
            await release.wait()
        return response

    async def _list(self, request: web.Request) -> web.Response:
        response = await super()._list(request)
        self.listed.set()
        return response


async def test_a_poll_during_a_push_does_not_write_the_pushed_stage_over_the_reps_newer_one(
    tmp_path: Path, hubspot_emulator: HubSpotEmulator
) -> None:
    """The SQS fault suite's reverted dealstage (issue 15): the poll listed a referral a push had just patched
    (Active/Engaged, the rep's decisionmakerboughtin) before the push recorded it, read that as Microsoft's
    change and wrote presentationscheduled over the rep's newer contractsent. The poll now decides under the
    deal's lease, on fresh reads. The order is driven: the push's PATCH is held unanswered while the rep edits
    again and the poll lists."""
    await ensure_properties(hubspot_emulator)
    async with PollDuringPush() as ms:
        assert isinstance(ms, PollDuringPush)
        async with running(tmp_path, hubspot_emulator, ms) as stack:
            deal_id = await stack.rep.deal_with_customer("Race #Microsoft")
            await wait_until(lambda: stack.deal(deal_id).get("microsoft_sync_status") == "synced")
            referral_id = stack.deal(deal_id)["microsoft_referral_id"]
            assert ms.referrals()[referral_id]["substatus"] == "Accepted"
            await stack.hs.drain_webhooks()
            release = asyncio.Event()
            ms.armed = release
            await stack.rep.update_deal(deal_id, {"dealstage": "decisionmakerboughtin"})
            await asyncio.wait_for(ms.patched.wait(), 20)  # applied: the referral is Active/Engaged
            await stack.rep.update_deal(deal_id, {"dealstage": "contractsent"})
            ms.listed.clear()
            poll = asyncio.ensure_future(stack.sync.poll())
            await asyncio.wait_for(ms.listed.wait(), 20)
            release.set()
            result = await asyncio.wait_for(poll, 30)
            assert result.updated == 0  # nothing was Microsoft's own change
            await stack.hs.drain_webhooks()
            await wait_until(lambda: ms.referrals()[referral_id]["substatus"] == "Engaged")
            await stack.settle()
            assert stack.deal(deal_id)["dealstage"] == "contractsent"


async def test_microsoft_moving_to_the_status_the_reps_new_stage_maps_to_keeps_that_stage(
    stack: Stack,
) -> None:
    """Microsoft engages the referral while the rep's contractsent (also Active/Engaged) is not yet sent: the
    poll must not write presentationscheduled, the first stage of that status, over it."""
    deal_id = await stack.rep.deal_with_customer("Same Status #Microsoft", dealstage="qualifiedtobuy")
    await wait_until(lambda: stack.deal(deal_id).get("microsoft_sync_status") == "synced")
    referral_id = stack.deal(deal_id)["microsoft_referral_id"]
    await stack.hs.drain_webhooks()
    subscriptions = list(stack.hs.webhooks.subscriptions)
    stack.hs.webhooks.subscriptions.clear()  # the rep's edit is made, its event comes after the poll
    await stack.rep.update_deal(deal_id, {"dealstage": "contractsent"})
    await stack.operator(f"/_sandbox/referrals/{referral_id}", {"status": "Active", "substatus": "Engaged"})
    await stack.sync.poll()
    assert stack.deal(deal_id)["dealstage"] == "contractsent"
    stack.hs.webhooks.subscriptions.extend(subscriptions)
