"""``GET /conflicts/pending``, ``POST /conflicts/resolve`` and ``POST /rollback`` (seed 002, Feature 5).

The routes only read the conflict book and queue work: applying a value or rolling back needs the owning
connector's clients and write budget, so each answers 202 with a job (``GET /jobs/{id}``) and enqueues a
``<connector>.resolve_conflict`` / ``<connector>.rollback`` event (``cosync_worker.conflicts.requests``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, RootModel

from ..conflicts import AlreadyResolved, Conflict, ConflictBook, UnknownConflict
from ..conflicts.requests import (
    resolve_event,
    resolve_event_type,
    rollback_event,
    rollback_event_type,
)
from ..hooks import Context, RouteSpec, request_body
from .jobs import JobAccepted, create_job
from .problems import ProblemError

__all__ = [
    "DocumentedRoute",
    "PendingConflict",
    "PendingConflicts",
    "ResolveIn",
    "RollbackIn",
    "conflict_routes",
]

# The caller's id is not quoted back (docs/relay.md): it is theirs, and may be anything up to 64 characters.
_NO_CONFLICT = "no conflict has this conflictId"

# Which remote object a rollback names, per connector (the seed's ``opportunityId`` is Partner Central's).
ROLLBACK_OBJECTS: dict[str, tuple[str, str]] = {"aws": ("partnercentral", "opportunity")}


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


class PendingConflict(BaseModel):
    """The seed's shape, plus ``connector`` and ``objectKey`` (the key of ``GET /audit-trail``)."""

    id: str
    connector: str
    objectKey: str
    opportunityId: str
    dealId: str
    field: str
    hubspotValue: Any = None
    partnerCentralValue: Any = None
    hubspotTimestamp: str | None = None
    partnerCentralTimestamp: str | None = None
    detectedAt: str | None = None
    type: str
    status: str


class PendingConflicts(BaseModel):
    conflicts: list[PendingConflict]


class _ResolveSide(BaseModel):
    model_config = ConfigDict(extra="forbid", title="ResolveWithASide")

    conflictId: str = Field(min_length=1, max_length=64)
    resolution: Literal["USE_HUBSPOT_VALUE", "USE_PARTNER_CENTRAL_VALUE"]
    reason: str | None = Field(None, max_length=1000)


class _ResolveCustom(BaseModel):
    model_config = ConfigDict(extra="forbid", title="ResolveWithAValue")

    conflictId: str = Field(min_length=1, max_length=64)
    resolution: Literal["USE_CUSTOM_VALUE"]
    value: str = Field(
        min_length=1, max_length=1000, description="the value for both sides, as HubSpot holds it"
    )
    reason: str | None = Field(None, max_length=1000)


class ResolveIn(RootModel[Annotated[_ResolveSide | _ResolveCustom, Field(discriminator="resolution")]]):
    """One side's value, or (``USE_CUSTOM_VALUE``) a value of one's own; the schema says which needs ``value``."""

    @property
    def body(self) -> _ResolveSide | _ResolveCustom:
        return self.root


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opportunityId: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    targetTimestamp: datetime = Field(description="ISO 8601; without an offset it is read as UTC")
    connector: Literal["aws"] = "aws"


@dataclass(frozen=True)
class DocumentedRoute(RouteSpec):
    """A route whose 404/409 answers are part of its contract, so ``/openapi.json`` lists them."""

    error_statuses: tuple[int, ...] = ()
    error_descriptions: dict[int, str] = field(default_factory=dict)


def _pending_out(c: Conflict) -> PendingConflict:
    return PendingConflict(
        id=c.id,
        connector=c.connector,
        objectKey=c.object_key,
        opportunityId=c.remote_id,
        dealId=c.deal_id,
        field=c.field,
        hubspotValue=c.hubspot_value,
        partnerCentralValue=c.remote_value,
        hubspotTimestamp=_iso(c.hubspot_timestamp),
        partnerCentralTimestamp=_iso(c.remote_timestamp),
        detectedAt=_iso(c.detected_at),
        type=c.kind,
        status=c.status,
    )


def _accepted(job_id: str) -> web.Response:
    body = JobAccepted(job_id=job_id, location=f"/jobs/{job_id}")
    return web.json_response(body.model_dump(), status=202)


def conflict_routes(context: Context) -> list[RouteSpec]:
    book = ConflictBook(context.store)

    def require_connector(name: str) -> None:
        # A job nobody will run would stay "pending" for ever: refuse before queueing it.
        if name not in context.connector_configs:
            raise ProblemError(409, f"connector {name!r} is not running in this deployment", kind="conflict")

    async def pending(request: web.Request) -> web.Response:
        connector = request.query.get("connector") or None
        found = await book.pending(connector)
        return web.json_response(
            PendingConflicts(conflicts=[_pending_out(c) for c in found]).model_dump(mode="json")
        )

    async def resolve(request: web.Request) -> web.Response:
        body = request_body(request, ResolveIn).body
        value = body.value if isinstance(body, _ResolveCustom) else None
        known = await book.get(body.conflictId)
        if known is None:
            raise ProblemError(404, _NO_CONFLICT, kind="not-found")
        require_connector(known.connector)
        try:
            conflict = await book.claim(body.conflictId)
        except UnknownConflict:
            raise ProblemError(404, _NO_CONFLICT, kind="not-found") from None
        except AlreadyResolved:
            raise ProblemError(
                409, "this conflict is already resolved or being resolved", kind="conflict"
            ) from None
        params = body.model_dump(mode="json")
        job_id = await create_job(context.store, resolve_event_type(conflict.connector), params)
        try:
            await context.enqueue(
                [
                    resolve_event(
                        conflict.connector,
                        job_id,
                        conflict.id,
                        conflict.deal_id,
                        body.resolution,
                        value,
                        body.reason,
                    )
                ]
            )
        except Exception:
            await book.release(conflict.id)
            raise
        return _accepted(job_id)

    async def rollback(request: web.Request) -> web.Response:
        body = request_body(request, RollbackIn)
        require_connector(body.connector)
        target = body.targetTimestamp
        if target.tzinfo is None:
            target = target.replace(tzinfo=UTC)
        if target > datetime.now(UTC):
            raise ProblemError(422, "targetTimestamp is in the future", kind="validation-error")
        system, object_type = ROLLBACK_OBJECTS[body.connector]
        job_id = await create_job(
            context.store,
            rollback_event_type(body.connector),
            {"opportunityId": body.opportunityId, "targetTimestamp": target.isoformat()},
        )
        await context.enqueue(
            [rollback_event(body.connector, job_id, system, object_type, body.opportunityId, target)]
        )
        return _accepted(job_id)

    return [
        RouteSpec(
            "GET",
            "/conflicts/pending",
            pending,
            summary="Conflicts waiting for a person (filter: connector)",
            response_model=PendingConflicts,
            tags=("conflicts",),
        ),
        DocumentedRoute(
            "POST",
            "/conflicts/resolve",
            resolve,
            summary="Resolve a pending conflict (queued; 404 unknown id, 409 already resolved)",
            body_model=ResolveIn,
            response_model=JobAccepted,
            tags=("conflicts",),
            error_statuses=(404, 409),
            error_descriptions={
                404: "No conflict has this id",
                409: "Already resolved, being resolved, or its connector does not run here",
            },
        ),
        DocumentedRoute(
            "POST",
            "/rollback",
            rollback,
            summary="Restore an opportunity's cosync-owned fields to their values at a time (queued)",
            body_model=RollbackIn,
            response_model=JobAccepted,
            tags=("conflicts",),
            error_statuses=(409,),
            error_descriptions={409: "The connector does not run in this deployment"},
        ),
    ]
