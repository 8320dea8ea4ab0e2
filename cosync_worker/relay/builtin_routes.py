"""The core's own REST routes, served through the same ``cosync_routes`` hook a third-party plugin uses."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from ..hooks import Context, RouteSpec, hookimpl
from .conflict_routes import conflict_routes
from .deal_routes import deal_routes
from .jobs import Job, get_job
from .problems import ProblemError

__all__ = ["AUDIT_TRAIL_LIMIT", "AuditRecord", "AuditTrail", "cosync_routes"]

AUDIT_TRAIL_LIMIT = 1000


class AuditRecord(BaseModel):
    seq: int
    object_key: str
    system: str
    action: str
    detail: dict[str, Any] = Field(default_factory=dict)
    actor: str
    at: float


class AuditTrail(BaseModel):
    objectKey: str
    entries: list[AuditRecord]


def _routes(context: Context) -> list[RouteSpec]:
    async def job(request: web.Request) -> web.Response:
        job_id = request.match_info["id"]
        found = await get_job(context.store, job_id)
        if found is None:
            raise ProblemError(404, "no job has this id", kind="not-found")
        return web.json_response(found.model_dump(mode="json"))

    async def audit_trail(request: web.Request) -> web.Response:
        key = request.match_info["objectKey"]
        entries = await context.store.audit_trail(key, limit=AUDIT_TRAIL_LIMIT)
        trail = AuditTrail(
            objectKey=key,
            entries=[
                AuditRecord(
                    seq=e.seq,
                    object_key=e.object_key,
                    system=e.system,
                    action=e.action,
                    detail=dict(e.detail),
                    actor=e.actor,
                    at=e.at,
                )
                for e in entries
            ],
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
            summary=f"What cosync did to one object (oldest first, up to {AUDIT_TRAIL_LIMIT} entries)",
            response_model=AuditTrail,
            tags=("audit",),
        ),
    ]


@hookimpl
def cosync_routes(context: Context) -> list[RouteSpec]:
    return _routes(context) + conflict_routes(context) + deal_routes(context)
