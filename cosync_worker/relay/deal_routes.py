"""``POST /deals/{id}/sync``: push one deal now (what the console's "sync now" and ``cosync sync deal`` do),
answering 202 once its events are on the queue."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from ..hooks import Context, RouteSpec, request_query
from .deal_sync import deal_syncing, queue_deal_sync
from .keys import INTAKE, PLUGINS
from .problems import ProblemError

__all__ = ["DealSyncQuery", "DealSyncQueued", "deal_routes"]


class DealSyncQuery(BaseModel):
    connector: str | None = Field(None, description="Only this connector (default: every connector)")


class DealSyncQueued(BaseModel):
    dealId: str
    connectors: list[str]
    events: list[str]


async def _deal_name(context: Context, deal_id: str) -> str:
    from ..hubspot.errors import NotFound

    hubspot = context.services.get("hubspot")
    if hubspot is None:
        raise ProblemError(503, "HubSpot is not configured (hubspot.access_token)", kind="unavailable")
    try:
        record = await hubspot.get("deals", deal_id, properties=["dealname"])
    except NotFound:
        raise ProblemError(404, "no deal has this id", kind="not-found") from None
    return str((record.get("properties") or {}).get("dealname") or "")


def deal_routes(context: Context) -> list[RouteSpec]:
    if context.settings.hubspot.access_token is None:
        return []  # no deal can be read, and no connector would run the events

    async def sync(request: web.Request) -> web.Response:
        deal_id = request.match_info["id"]
        if not deal_id.isdigit() or len(deal_id) > 18:
            raise ProblemError(400, "path.id: a HubSpot deal id is a number", kind="invalid")
        query = request_query(request, DealSyncQuery)
        names = deal_syncing(c.spec for c in request.app[PLUGINS].connectors())
        chosen = [query.connector] if query.connector else []
        if query.connector and query.connector not in names:
            raise ProblemError(
                404,
                f"query.connector: no installed connector has this name; known: {', '.join(names)}",
                kind="not-found",
            )
        name = await _deal_name(context, deal_id)
        events = await queue_deal_sync(
            request.app[INTAKE], deal_id, name, connectors=chosen, source="COSYNC_API"
        )
        body = DealSyncQueued(dealId=deal_id, connectors=chosen or names, events=[e.id for e in events])
        return web.json_response(body.model_dump(), status=202)

    return [
        RouteSpec(
            "POST",
            "/deals/{id}/sync",
            sync,
            summary="Push one deal now: created where it is tagged and missing, changes sent elsewhere (queued)",
            response_model=DealSyncQueued,
            tags=("deals",),
            query_model=DealSyncQuery,
            error_statuses=(404, 503),
            error_descriptions={404: "no such deal, or no such connector", 503: "HubSpot is not configured"},
        )
    ]
