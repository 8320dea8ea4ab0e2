"""The example connector: keeps a change log of watched HubSpot deal properties and serves it over the relay.
It touches no remote system, so it runs anywhere; copy it as a starting point.

It is written only against the connector SDK (``cosync_worker.connector``); see docs/writing-a-connector.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from cosync_worker.connector import (
    Connector,
    Event,
    ObjectState,
    PermanentError,
    PropertySpec,
    Run,
    every,
    on,
    route,
)

__all__ = ["ChangeLog", "ExampleConfig", "ExampleConnector", "Heartbeat", "record_change"]


class ExampleConfig(BaseModel):
    """``connectors.example`` in config.yaml."""

    model_config = {"extra": "forbid"}

    watch_properties: list[str] = Field(default_factory=lambda: ["dealstage", "amount", "closedate"])
    max_history: int = Field(20, ge=1, le=1000)


class ChangeLog(BaseModel):
    """What the example keeps per deal (versioned state), and what its route answers."""

    deal_id: str = ""
    changes: list[dict[str, Any]] = Field(default_factory=list)


class Heartbeat(BaseModel):
    runs: int = 0
    last_since: str | None = None


def record_change(log: ChangeLog, event: Event, max_history: int) -> ChangeLog:
    """Pure: the change log after ``event`` (newest last, at most ``max_history`` entries)."""
    entry = {
        "property": event.payload.get("propertyName"),
        "value": event.payload.get("propertyValue"),
        "at": event.received_at.isoformat(),
    }
    return ChangeLog(deal_id=event.object.id, changes=[*log.changes, entry][-max_history:])


class ExampleConnector(Connector):
    name = "example"
    config_model = ExampleConfig
    description = "Keeps a change log of watched deal properties."
    properties = (
        PropertySpec(
            "deals", "example_last_change", "Example: last change", description="Set by the example"
        ),
    )

    deals = ObjectState(ChangeLog, "deal")
    heartbeats = ObjectState(Heartbeat, "heartbeat")

    @on("deal.propertyChange")
    async def property_changed(self, event: Event) -> None:
        config: ExampleConfig = self.config
        prop = event.payload.get("propertyName")
        if not isinstance(prop, str):
            raise PermanentError("deal.propertyChange without propertyName")
        if prop not in config.watch_properties:
            return
        # A compare-and-set update: two replicas recording changes of one deal never lose one.
        await self.deals.update(event.object.id, lambda log: record_change(log, event, config.max_history))

    @every("example_heartbeat", 3600, cursor="example:heartbeat", description="records a heartbeat")
    async def heartbeat(self, run: Run) -> datetime:
        since = None if run.since is None else run.since.isoformat()
        await self.heartbeats.update("loop", lambda h: Heartbeat(runs=h.runs + 1, last_since=since))
        # Nothing to read here, so everything up to the signpost is covered (the framework caps it there).
        return run.signpost

    @route(
        "GET",
        "/example/deals/{deal_id}",
        summary="Change log the example connector kept for a deal",
        response_model=ChangeLog,
        tags=("example",),
    )
    async def change_log(self, request: web.Request) -> web.Response:
        deal_id = request.match_info["deal_id"]
        found = await self.deals.read(deal_id)
        if found.version == 0:
            raise web.HTTPNotFound(text=f"no changes recorded for deal {deal_id}")
        return web.json_response(found.value.model_dump())


# The entry point ``cosync.connectors: example = cosync_example.plugin`` names this module.
cosync_plugin = ExampleConnector
