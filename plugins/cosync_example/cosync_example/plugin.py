"""The example connector: records every watched HubSpot deal property change in the state store and serves
the change log over the relay. It touches no remote system, so it runs anywhere; copy it as a starting point.

Everything a connector does goes through the hooks of ``cosync_worker.hooks``; see docs/writing-a-connector.md.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from cosync_worker.errors import PermanentError
from cosync_worker.events import Event
from cosync_worker.hooks import ConnectorSpec, Context, PropertySpec, RouteSpec, ScheduleSpec, hookimpl
from cosync_worker.store import AuditEntry

NAME = "example"


class ExampleConfig(BaseModel):
    """``connectors.example`` in config.yaml."""

    model_config = {"extra": "forbid"}

    watch_properties: list[str] = Field(default_factory=lambda: ["dealstage", "amount", "closedate"])
    max_history: int = Field(20, ge=1, le=1000)


class ChangeLog(BaseModel):
    deal_id: str
    changes: list[dict[str, Any]]


def record_change(log: list[dict[str, Any]], event: Event, max_history: int) -> list[dict[str, Any]]:
    """Pure: the change log after ``event`` (newest last, at most ``max_history`` entries)."""
    entry = {
        "property": event.payload.get("propertyName"),
        "value": event.payload.get("propertyValue"),
        "at": event.received_at.isoformat(),
    }
    return [*log, entry][-max_history:]


@hookimpl
def cosync_connector() -> ConnectorSpec:
    return ConnectorSpec(
        name=NAME,
        event_types=("deal.propertyChange",),
        config_model=ExampleConfig,
        schedules=(
            ScheduleSpec("example_heartbeat", interval_seconds=3600, description="records a heartbeat"),
        ),
        description="Keeps a change log of watched deal properties.",
    )


@hookimpl
async def cosync_handle_event(event: Event, context: Context) -> None:
    config: ExampleConfig = context.config(NAME)
    if event.type == "schedule.example_heartbeat":
        await context.store.set_cursor("example:heartbeat", event.received_at.isoformat())
        return
    prop = event.payload.get("propertyName")
    if not isinstance(prop, str):
        raise PermanentError("deal.propertyChange without propertyName")
    if prop not in config.watch_properties:
        return
    key = f"example:deal:{event.object.id}"
    state = await context.store.get_state(key) or {"changes": []}
    state["changes"] = record_change(state["changes"], event, config.max_history)
    await context.store.put_state(key, state)
    await context.store.append_audit(
        AuditEntry(
            object_key=event.object.key, system="cosync", action="example.recorded", detail={"property": prop}
        )
    )


@hookimpl
def cosync_hubspot_properties() -> list[PropertySpec]:
    return [
        PropertySpec("deals", "example_last_change", "Example: last change", description="Set by the example")
    ]


@hookimpl
def cosync_routes(context: Context) -> list[RouteSpec]:
    async def change_log(request: web.Request) -> web.Response:
        deal_id = request.match_info["deal_id"]
        state = await context.store.get_state(f"example:deal:{deal_id}")
        if state is None:
            raise web.HTTPNotFound(text=f"no changes recorded for deal {deal_id}")
        return web.json_response(ChangeLog(deal_id=deal_id, changes=state["changes"]).model_dump())

    return [
        RouteSpec(
            "GET",
            "/example/deals/{deal_id}",
            change_log,
            summary="Change log the example connector kept for a deal",
            response_model=ChangeLog,
            tags=("example",),
        )
    ]
