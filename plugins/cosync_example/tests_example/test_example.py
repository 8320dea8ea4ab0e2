"""The example connector through the public interface: the rep's edits in the HubSpot emulator reach the relay
as signed webhooks, go through the queue to the connector, which opens and updates tickets on the desk's
emulator; what the desk's agent does comes back through the poll loop, whose cursor the framework keeps; the
relay serves what the connector knows of a deal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from cosync_example.desk import TicketDeskEmulator
from cosync_example.plugin import ExampleConnector

from cosync_worker.testing.conformance import connector_of
from cosync_worker.testing.waiting import wait_until

from .conftest import Rep, desk_section

pytestmark = pytest.mark.timeout(90)

API = {"Authorization": "Bearer test-api-token"}
PLUGIN = ["cosync_example.plugin"]
T = [datetime(2030, 1, 1, hour, tzinfo=UTC) for hour in range(6)]


def _only_ticket(desk: TicketDeskEmulator) -> dict[str, Any]:
    assert len(desk.tickets) == 1, desk.tickets
    return next(iter(desk.tickets.values()))


async def test_a_tagged_deal_opens_a_ticket_and_its_edits_update_it(
    cosync_stack: Any, desk: TicketDeskEmulator, rep: Rep
) -> None:
    async with (
        cosync_stack(PLUGIN, {"example": desk_section(desk)}) as stack,
        aiohttp.ClientSession() as http,
    ):
        untagged = await rep.create_deal(dealname="Globex renewal", amount="10")
        deal = await rep.create_deal(
            dealname="Acme onboarding #Example", amount="1200", dealstage="qualifiedtobuy"
        )
        await wait_until(lambda: rep.deal(deal).get("example_sync_status") == "synced")
        ticket = _only_ticket(desk)
        assert (ticket["subject"], ticket["stage"], ticket["amount"]) == (
            "Acme onboarding #Example",
            "qualifiedtobuy",
            1200.0,
        )
        assert rep.deal(deal)["example_ticket_id"] == ticket["id"]
        assert rep.deal(deal)["example_ticket_status"] == "open"
        assert "example_ticket_id" not in rep.deal(untagged)

        await rep.edit_deal(deal, description="not on the ticket")
        await rep.edit_deal(deal, amount="1500")
        await wait_until(lambda: _only_ticket(desk)["amount"] == 1500.0)
        await stack.settle()
        # one opening and one change: the edit of the description and cosync's own write-backs wrote nothing
        assert (desk.calls["POST /v1/tickets"], desk.calls["PATCH /v1/tickets/{id}"]) == (1, 1)
        assert desk.calls["PATCH /v1/tickets/{id}"] == 1

        async with http.get(f"{stack.url}/example/deals/{deal}", headers=API) as r:
            assert r.status == 200, await r.text()
            shown = await r.json()
        assert shown["ticket_id"] == ticket["id"] and shown["pushed"]["amount"] == 1500.0
        # versioned state: written once per push
        assert (await stack.rt.context.store.read_versioned(f"example:deal:{deal}")).version == 2
        async with http.get(f"{stack.url}/example/deals/{untagged}", headers=API) as r:
            assert r.status == 404
            assert r.content_type == "application/problem+json"


async def test_the_poll_reads_the_desks_changes_back_and_the_framework_keeps_its_cursor(
    cosync_stack: Any,
    desk: TicketDeskEmulator,
    rep: Rep,
    hubspot_emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signposts = iter([T[3], T[5]])
    monkeypatch.setattr(ExampleConnector, "now", lambda self: next(signposts))
    desk.clock = lambda: T[1]
    async with (
        cosync_stack(PLUGIN, {"example": desk_section(desk)}) as stack,
        aiohttp.ClientSession() as http,
    ):
        example = connector_of(stack.rt, ExampleConnector)
        deal = await rep.create_deal(dealname="Initech rollout #Example")
        await wait_until(lambda: rep.deal(deal).get("example_sync_status") == "synced")
        ticket_id = _only_ticket(desk)["id"]

        desk.clock = lambda: T[2]  # the desk's agent resolves it
        async with http.post(
            f"{desk.base_url}/_sandbox/tickets/{ticket_id}/status", json={"status": "resolved"}
        ) as r:
            assert r.status == 200
        await example.tick("example_desk_poll")
        store = stack.rt.context.store
        assert await store.get_cursor("example:example_desk_poll") == T[2].isoformat()
        assert rep.deal(deal)["example_ticket_status"] == "resolved"
        # the notice reached the rep: a note on the deal (it has no owner to give a task to)
        notes = [n["properties"]["hs_note_body"] for n in hubspot_emulator.objects("notes").values()]
        assert len(notes) == 1 and f"resolved ticket {ticket_id}" in notes[0]

        # A change stamped after the run's start (the signpost) caps the cursor there; seen again next run.
        desk.clock = lambda: T[4]
        async with http.post(
            f"{desk.base_url}/_sandbox/tickets/{ticket_id}/status", json={"status": "open"}
        ) as r:
            assert r.status == 200
        await example.tick("example_desk_poll")
        assert await store.get_cursor("example:example_desk_poll") == T[4].isoformat()
        assert rep.deal(deal)["example_ticket_status"] == "open"
        assert desk.calls["GET /v1/tickets"] == 2


async def test_a_refused_push_tells_the_rep_and_is_dead_lettered_for_the_example_alone(
    cosync_stack: Any, desk: TicketDeskEmulator, rep: Rep
) -> None:
    async with cosync_stack(PLUGIN, {"example": desk_section(desk)}) as stack:
        deal = await rep.create_deal(dealname="Bad amount #Example", amount="-5")
        await wait_until(lambda: rep.deal(deal).get("example_sync_status") == "error")
        assert (
            rep.deal(deal)["example_sync_error"]
            == "Example desk open_ticket: HTTP 422: amount: amount must be a number, not negative"
        )
        await stack.settle()
        dead = await stack.rt.context.queue.list_dead_letters()
        assert [d.reason for d in dead] and all("HTTP 422" in d.reason for d in dead)
        assert desk.tickets == {}
        assert desk.token not in rep.deal(deal)["example_sync_error"]


async def test_installed_without_a_desk_it_stays_idle(
    cosync_stack: Any, desk: TicketDeskEmulator, rep: Rep
) -> None:
    async with cosync_stack(PLUGIN, {}) as stack:
        example = connector_of(stack.rt, ExampleConnector)
        assert not example.configured() and example.clients == {}
        deal = await rep.create_deal(dealname="Idle #Example")
        await stack.settle()
        await example.tick("example_desk_poll")
        assert "example_sync_status" not in rep.deal(deal)
        assert sum(desk.calls.values()) == 0
