"""The example connector: HubSpot deals tagged ``#Example`` become tickets on the Example ticket desk, and what
the desk's agents do to them comes back onto the deal. Copy it as a starting point.

It shows the whole connector SDK (``cosync_worker.connector``) and imports nothing else of the core but its
public surface (docs/writing-a-connector.md):

* a config model, and ``configured()``: installed but idle until ``connectors.example`` names the desk;
* ``@client``: the desk's client (a ``RemoteClient``), opened at start-up and closed at shutdown;
* ``@on``: a deal change pushed to the desk under the deal's lease, diffed against versioned state;
* ``@every(..., cursor=True)``: the desk's changes read back since the framework-kept cursor;
* ``properties``: the HubSpot properties it writes; a notice kind; ``@route``: what it knows of a deal;
* ``cosync_emulators``: the desk's emulator, started by ``cosync sandbox`` and tests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from cosync_worker.config import SecretRef
from cosync_worker.connector import (
    DealConnector,
    Event,
    ObjectState,
    PropertySpec,
    Run,
    client,
    every,
    has_tag,
    on,
    route,
)
from cosync_worker.errors import ProblemError
from cosync_worker.notify import Notice

from . import declarations
from .client import DeskClient, DeskError, Ticket
from .mapping import DEAL_PROPERTIES, changed_fields, ticket_fields

__all__ = ["PROPERTIES", "ExampleConfig", "ExampleConnector", "TicketState"]

PROPERTIES = (
    PropertySpec("deals", "example_ticket_id", "Example: ticket", description="The desk's ticket id"),
    PropertySpec("deals", "example_ticket_status", "Example: ticket status", description="As the desk says"),
    PropertySpec("deals", "example_sync_status", "Example: sync status", description="synced or error"),
    PropertySpec(
        "deals", "example_sync_error", "Example: sync error", description="Why the last push failed"
    ),
)
OWN = frozenset(p.name for p in PROPERTIES)


class ExampleConfig(BaseModel):
    """``connectors.example`` in config.yaml."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field("", description="the desk's API; empty leaves the connector installed but idle")
    api_token: SecretRef | None = Field(None, description="the desk's bearer token (env:/file:/ssm: ref)")
    deal_tag: str = Field("#Example", min_length=1, description="deals whose name carries it get a ticket")
    requests_per_minute: int = Field(600, ge=1, description="the desk's rate limit, shared by every replica")

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self.api_token)


class TicketState(BaseModel):
    """What the example keeps per deal (versioned): its ticket, what it last pushed and the status it saw."""

    ticket_id: str | None = None
    pushed: dict[str, Any] = Field(default_factory=dict)
    status: str | None = None


class ExampleConnector(DealConnector):
    name = "example"
    config_model = ExampleConfig
    description = "HubSpot #Example deals ↔ tickets on the Example ticket desk."
    properties = PROPERTIES

    tickets = ObjectState(TicketState, "deal")  # store keys example:deal:<deal id>

    # What the connector brings besides its handlers (the desk's emulator, its notice kind).
    cosync_emulators = staticmethod(declarations.cosync_emulators)
    cosync_notice_kinds = staticmethod(declarations.cosync_notice_kinds)

    @client
    def desk(self) -> DeskClient:
        config: ExampleConfig = self.config
        assert config.api_token is not None  # configured() holds before a client is built
        return DeskClient(
            config.base_url,
            config.api_token.get(),
            store=self.store,
            requests_per_minute=config.requests_per_minute,
        )

    def sandbox_config(self, sandbox: dict[str, Any]) -> dict[str, Any] | None:
        desk = sandbox.get("example")
        return declarations.sandbox_section(desk) if isinstance(desk, dict) else None

    # -- HubSpot -> desk -----------------------------------------------------------------------------
    @on("deal.creation", "deal.propertyChange")
    async def deal_changed(self, event: Event) -> None:
        if event.payload.get("propertyName") in OWN:
            return  # cosync's own write-back: nothing for the desk
        deal_id = event.object.id
        async with self.deal_lock(deal_id):
            deal = (await self.hubspot.get("deals", deal_id, properties=DEAL_PROPERTIES))["properties"]
            if not has_tag(deal.get("dealname"), self.config.deal_tag):
                return
            try:
                await self._push(deal_id, ticket_fields(deal))
            except DeskError as exc:
                await self.set_error(deal_id, str(exc))  # the rep sees why on the deal
                raise

    async def _push(self, deal_id: str, wanted: dict[str, Any]) -> None:
        desk: DeskClient = self.clients["desk"]
        found = await self.tickets.read(deal_id)
        state = found.value
        if state.ticket_id is None:
            # Keyed by the deal: a retry after a lost answer gets the same ticket, not a second one.
            ticket = await desk.open_ticket({**wanted, "deal_id": deal_id}, idempotency_key=f"deal-{deal_id}")
        else:
            changes = changed_fields(state.pushed, wanted)
            if not changes:
                return  # the desk already holds all of it: a redelivery or an edit of something else
            ticket = await desk.update_ticket(state.ticket_id, changes)
        # Compare-and-set under the lease: a ConflictError here means the lease was lost, and the retry re-reads.
        pushed = TicketState(ticket_id=ticket.id, pushed=wanted, status=ticket.status)
        await self.tickets.write(deal_id, pushed, found.version)
        await self.hubspot.update(
            "deals",
            deal_id,
            {
                "example_ticket_id": ticket.id,
                "example_ticket_status": ticket.status,
                "example_sync_status": "synced",
                "example_sync_error": "",
            },
        )

    # -- desk -> HubSpot -----------------------------------------------------------------------------
    @every("example_desk_poll", 300, cursor=True, jitter_seconds=15, description="reads back ticket changes")
    async def read_back(self, run: Run) -> datetime | None:
        desk: DeskClient = self.clients["desk"]
        newest: datetime | None = None
        async for ticket in desk.changed_since(run.since):
            newest = ticket.updated_at if newest is None else max(newest, ticket.updated_at)
            if ticket.deal_id:
                await self._status_seen(ticket.deal_id, ticket)
        return newest  # the framework keeps it, capped at run.signpost, once this run succeeded

    async def _status_seen(self, deal_id: str, ticket: Ticket) -> None:
        async with self.deal_lock(deal_id):
            found = await self.tickets.read(deal_id)
            if found.value.ticket_id != ticket.id or found.value.status == ticket.status:
                return  # not a ticket cosync opened for this deal, or nothing new
            if ticket.status == "resolved" and self.notifier is not None:
                # Before the state is saved: a crash in between repeats the notice, which the ledger dedupes.
                notice = Notice(
                    "example.ticket_resolved", deal_id, f"{ticket.id}:resolved", {"ticket_id": ticket.id}
                )
                await self.notifier.notify(notice)
            seen = found.value.model_copy(update={"status": ticket.status})
            await self.tickets.write(deal_id, seen, found.version)
            await self.hubspot.update("deals", deal_id, {"example_ticket_status": ticket.status})

    # -- the relay -----------------------------------------------------------------------------------
    @route(
        "GET",
        "/example/deals/{deal_id}",
        summary="The desk ticket the example connector keeps for a deal",
        response_model=TicketState,
        tags=("example",),
        error_statuses=(404,),
        error_descriptions={404: "no ticket is kept for this deal"},
    )
    async def show(self, request: web.Request) -> web.Response:
        found = await self.tickets.read(request.match_info["deal_id"])
        if found.version == 0:
            raise ProblemError(404, "the example connector keeps no ticket for this deal")
        return web.json_response(found.value.model_dump(mode="json"))


# The entry point ``cosync.connectors: example = cosync_example.plugin`` names this module.
cosync_plugin = ExampleConnector
