"""Seed 002's audit trail for Google and Microsoft too: a deal the rep creates and edits in HubSpot reaches the
cloud through the relay and the queue, and ``GET /audit-trail/<remote id>`` lists each write cosync made there
(the lead and the opportunity patch; the referral's creation and update), once, whatever is redelivered."""

from __future__ import annotations

from typing import Any

from cosync_worker.sandbox.google import GoogleEmulator
from cosync_worker.sandbox.microsoft import MicrosoftEmulator
from cosync_worker.testing.conformance import StackStarter, redelivery
from cosync_worker.testing.waiting import wait_until

from .conftest import Rep, gcp_section, microsoft_section, trail

MS_PATCH = "PATCH /v1.0/engagements/referrals/{id}"


def _actions(body: dict[str, Any]) -> list[str]:
    return [e["action"] for e in body["entries"]]


async def test_google_lead_and_opportunity_writes_are_in_their_trails(
    cosync_stack: StackStarter, google_emulator: GoogleEmulator, rep: Rep
) -> None:
    async with cosync_stack(["cosync_gcp.plugin"], {"gcp": gcp_section(google_emulator)}) as stack:
        deal_id = await rep.deal("Warehouse #GCP", closedate="2030-06-30T00:00:00.000Z")
        await wait_until(lambda: rep.props(deal_id).get("gcp_sync_status") == "synced")
        lead_id = rep.props(deal_id)["gcp_lead_name"].rsplit("/", 1)[-1]
        opp_id = rep.props(deal_id)["gcp_opportunity_id"]

        lead = await trail(stack, lead_id)
        assert lead["objectKey"] == f"google:lead:{lead_id}" and _actions(lead) == ["create_lead"]
        [created] = lead["entries"]
        assert created["success"] and created["apiCalls"] == ["leads.create"]
        assert created["metadata"] == {"dealId": deal_id, "triggeredBy": "deal.creation"}
        assert created["source"] == "HUBSPOT" and created["user"] == "cosync"

        await stack.settle()  # the link's own push of the deal's stage (after "synced") is in ``before``
        before = (await trail(stack, opp_id))["total"]
        await rep.update(deal_id, {"amount": "150000"})
        opportunity = google_emulator.opportunities()
        await wait_until(lambda: any(o.get("dealSize") == 150000.0 for o in opportunity.values()))
        await stack.settle()
        opp = await trail(stack, opp_id)
        assert opp["objectKey"] == f"google:opportunity:{opp_id}" and opp["total"] == before + 1
        patched = opp["entries"][-1]
        assert patched["action"] == "update_opportunity" and patched["apiCalls"] == ["opportunities.patch"]
        assert patched["changes"] == {"amount": {"old": "5000", "new": "150000"}}
        assert patched["metadata"]["triggeredBy"] == "deal.propertyChange" and patched["success"]

        # Redelivered webhooks write nothing more to Google, so the trails gain nothing.
        for event in (redelivery("deal.creation", deal_id), redelivery("deal.propertyChange", deal_id)):
            await stack.rt.context.queue.send([(event.to_json(), event.ordering_key, event.dedupe_key)])
        await stack.settle()
        assert (await trail(stack, lead_id))["total"] == 1
        assert (await trail(stack, opp_id))["total"] == before + 1


async def test_microsoft_referral_creation_and_update_are_in_its_trail(
    cosync_stack: StackStarter, microsoft_emulator: MicrosoftEmulator, rep: Rep
) -> None:
    connectors = {"microsoft": microsoft_section(microsoft_emulator)}
    async with cosync_stack(
        ["cosync_microsoft.plugin"], connectors, schedules={"microsoft_poll": {"enabled": False}}
    ) as stack:
        deal_id = await rep.deal("Contoso rollout #Microsoft")
        await wait_until(lambda: rep.props(deal_id).get("microsoft_sync_status") == "synced")
        referral_id = rep.props(deal_id)["microsoft_referral_id"]

        body = await trail(stack, referral_id)
        assert body["objectKey"] == f"microsoft:referral:{referral_id}"
        assert _actions(body) == ["create_referral"]
        assert body["entries"][0]["metadata"] == {"dealId": deal_id, "triggeredBy": "deal.creation"}

        await rep.update(deal_id, {"amount": "7500"})
        await wait_until(lambda: microsoft_emulator.calls.get(MS_PATCH, 0) >= 1)
        await stack.settle()
        body = await trail(stack, referral_id)
        assert _actions(body) == ["create_referral", "update_referral"]
        updated = body["entries"][1]
        assert updated["apiCalls"] == ["referrals.update"] and updated["success"]
        assert updated["metadata"] == {"dealId": deal_id, "triggeredBy": "deal.propertyChange"}
        assert updated["changes"] == {"/details/dealValue": {"old": 5000, "new": 7500}}

        event = redelivery("deal.propertyChange", deal_id, propertyName="amount")
        await stack.rt.context.queue.send([(event.to_json(), event.ordering_key, event.dedupe_key)])
        await stack.settle()
        assert _actions(await trail(stack, referral_id)) == ["create_referral", "update_referral"]
