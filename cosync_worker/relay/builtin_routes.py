"""The core's own REST routes, served through the same ``cosync_routes`` hook a third-party plugin uses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..audit import alias_key, entry_view
from ..hooks import Context, RouteSpec, hookimpl, request_query
from .conflict_routes import conflict_routes
from .deal_routes import deal_routes
from .jobs import Job, get_job
from .problems import ProblemError

__all__ = ["AUDIT_PAGE_MAX", "AuditQuery", "AuditRecord", "AuditTrail", "cosync_routes"]

AUDIT_PAGE_MAX = 1000


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(100, ge=1, le=AUDIT_PAGE_MAX, description="entries per page")
    startDate: datetime | None = Field(
        None,
        description="only entries at or after this ISO 8601 time or date (2026-02-01: its midnight; UTC "
        "without an offset)",
    )
    nextToken: str | None = Field(
        None,
        pattern=r"^[0-9]{1,20}$",
        description="the previous page's nextToken (the entries after the last one it listed)",
    )


class AuditRecord(BaseModel):
    """Seed 002's entry, then cosync's record as stored (``cosync_worker.audit.entry_view``)."""

    timestamp: str
    action: str
    source: str
    user: str
    changes: dict[str, Any] = Field(default_factory=dict)
    success: bool
    syncDurationMs: int | None = None
    apiCalls: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    seq: int
    object_key: str
    system: str
    actor: str
    at: float
    detail: dict[str, Any] = Field(default_factory=dict)


class AuditTrail(BaseModel):
    id: str
    objectKey: str
    entries: list[AuditRecord]
    total: int
    nextToken: str | None = None


def _since(start: datetime | None) -> float | None:
    if start is None:
        return None
    return (start if start.tzinfo else start.replace(tzinfo=UTC)).timestamp()


async def _trail_key(context: Context, ident: str) -> str:
    """The trail ``ident`` names: a full key, a bare remote id a connector recorded (its alias), or an id of a
    connector's declared object kinds (trails recorded before aliases existed)."""
    alias = await context.store.get_state(alias_key(ident))
    if alias and isinstance(alias.get("key"), str):
        return str(alias["key"])
    for spec in context.conflict_objects.values():
        candidate = spec.audit_key(ident)
        if await context.store.audit_trail(candidate, limit=1):
            return candidate
    return ident


def _routes(context: Context) -> list[RouteSpec]:
    async def job(request: web.Request) -> web.Response:
        job_id = request.match_info["id"]
        found = await get_job(context.store, job_id)
        if found is None:
            raise ProblemError(404, "no job has this id", kind="not-found")
        return web.json_response(found.model_dump(mode="json"))

    async def audit_trail(request: web.Request) -> web.Response:
        ident = request.match_info["objectKey"]
        query = request_query(request, AuditQuery)
        key = await _trail_key(context, ident)
        since = _since(query.startDate)
        # A page's last sequence number: any number is a valid place to go on from, so no token is refused.
        after = int(query.nextToken or 0)
        # One more than the page says whether another page follows.
        found = await context.store.audit_trail(key, limit=query.limit + 1, after_seq=after, since=since)
        page = found[: query.limit]
        more = len(found) > query.limit
        trail = AuditTrail(
            id=ident,
            objectKey=key,
            entries=[AuditRecord.model_validate(entry_view(e)) for e in page],
            total=await context.store.audit_count(key, since=since),
            nextToken=str(page[-1].seq) if more else None,
        )
        return web.json_response(trail.model_dump(mode="json"))

    return [
        RouteSpec(
            "GET",
            "/jobs/{id}",
            job,
            summary="Status and outcome of an API job",
            response_model=Job,
            tags=("jobs",),
        ),
        RouteSpec(
            "GET",
            # ``.+`` lets object keys hold any character; keys such as ``hubspot:deal:1`` need no escaping.
            "/audit-trail/{objectKey:.+}",
            audit_trail,
            summary="What cosync did to one remote object (its id, e.g. an opportunity id, or its full key "
            "<system>:<type>:<id>), oldest first, paged by nextToken",
            response_model=AuditTrail,
            tags=("audit",),
            query_model=AuditQuery,
        ),
    ]


@hookimpl
def cosync_routes(context: Context) -> list[RouteSpec]:
    return _routes(context) + conflict_routes(context) + deal_routes(context)
