"""``GET /conflicts/pending``, ``POST /conflicts/resolve`` and ``POST /rollback`` (seed 002, Feature 5).

The routes only read the conflict book and queue work: applying a value or rolling back needs the owning
connector's clients and write budget, so each answers 202 with a job (``GET /jobs/{id}``) and enqueues a
``<connector>.resolve_conflict`` / ``<connector>.rollback`` event (``cosync_worker.conflicts.requests``).
What a connector's remote objects and their fields are called comes from its ``cosync_conflict_objects``
declaration (``Context.conflict_objects``); the models of the bodies and answers are built from them, so
``/openapi.json`` documents each connector's names.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, RootModel, create_model

from ..audit import ACTOR_KEY
from ..conflicts import AlreadyResolved, Conflict, ConflictBook, UnknownConflict, labels_of
from ..conflicts.announce import deal_of
from ..conflicts.requests import (
    REMOTE_RESOLUTION,
    resolve_event,
    resolve_event_type,
    rollback_event,
    rollback_event_type,
)
from ..hooks import ConflictObjectSpec, Context, RouteSpec, request_body, request_query
from .auth import request_identity, require_deal_owner
from .jobs import JobAccepted, create_job
from .problems import FieldError, ProblemError

__all__ = ["ROLLBACK_OBJECTS", "PendingQuery", "conflict_routes"]

# The caller's id is not quoted back (docs/relay.md): it is theirs, and may be anything up to 64 characters.
_NO_CONFLICT = "no conflict has this conflictId"
_CONNECTOR = r"^[a-z][a-z0-9_-]{0,63}$"
_BASE_RESOLUTIONS = ("USE_HUBSPOT_VALUE", REMOTE_RESOLUTION)

# (system, object type) of each connector's rollback object, as the last built routes saw them; the console
# reads it (it should read ``Context.conflict_objects``, which this mirrors).
ROLLBACK_OBJECTS: dict[str, tuple[str, str]] = {}


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


class PendingQuery(BaseModel):
    connector: str | None = Field(None, max_length=64, description="only this connector's conflicts")


def _literal(values: tuple[str, ...]) -> Any:
    return Literal.__getitem__(values)


def _pending_models(objects: Mapping[str, ConflictObjectSpec]) -> type[BaseModel]:
    """``{"conflicts": [PendingConflict]}``: the seed's shape, plus ``connector`` and ``objectKey`` (the key of
    ``GET /audit-trail``); the remote side under its connector's names."""
    remote: dict[str, Any] = {}
    for spec in [None, *objects.values()]:
        id_name, value_name, ts_name = labels_of(spec)
        remote[id_name] = (str | None, None)
        remote[value_name] = (Any, None)
        remote[ts_name] = (str | None, None)
    pending = create_model(
        "PendingConflict",
        id=(str, ...),
        connector=(str, ...),
        objectKey=(str, ...),
        dealId=(str, ...),
        field=(str, ...),
        hubspotValue=(Any, None),
        hubspotTimestamp=(str | None, None),
        detectedAt=(str | None, None),
        type=(str, ...),
        status=(str, ...),
        **remote,
    )
    return create_model("PendingConflicts", conflicts=(list[pending], ...))  # type: ignore[valid-type]


def _pending_out(c: Conflict, spec: ConflictObjectSpec | None) -> dict[str, Any]:
    id_name, value_name, ts_name = labels_of(spec)
    return {
        "id": c.id,
        "connector": c.connector,
        "objectKey": c.object_key,
        id_name: c.remote_id,
        "dealId": c.deal_id,
        "field": c.field,
        "hubspotValue": c.hubspot_value,
        value_name: c.remote_value,
        "hubspotTimestamp": _iso(c.hubspot_timestamp),
        ts_name: _iso(c.remote_timestamp),
        "detectedAt": _iso(c.detected_at),
        "type": c.kind,
        "status": c.status,
    }


def _resolve_model(objects: Mapping[str, ConflictObjectSpec]) -> type[RootModel[Any]]:
    """One side's value, or (``USE_CUSTOM_VALUE``) a value of one's own; the schema says which needs ``value``."""
    own = tuple(dict.fromkeys(s.remote_resolution for s in objects.values()))
    sides = tuple(dict.fromkeys((*_BASE_RESOLUTIONS, *own)))
    side = create_model(
        "ResolveWithASide",
        __config__=ConfigDict(extra="forbid", title="ResolveWithASide"),
        conflictId=(str, Field(min_length=1, max_length=64)),
        resolution=(_literal(sides), ...),
        reason=(str | None, Field(None, max_length=1000)),
    )
    custom = create_model(
        "ResolveWithAValue",
        __config__=ConfigDict(extra="forbid", title="ResolveWithAValue"),
        conflictId=(str, Field(min_length=1, max_length=64)),
        resolution=(_literal(("USE_CUSTOM_VALUE",)), ...),
        value=(
            str,
            Field(min_length=1, max_length=1000, description="the value for both sides, as HubSpot holds it"),
        ),
        reason=(str | None, Field(None, max_length=1000)),
    )
    body = Annotated[side | custom, Field(discriminator="resolution")]  # type: ignore[valid-type]
    return type("ResolveIn", (RootModel[body],), {"__module__": __name__})  # type: ignore[valid-type]


def _rollback_model(objects: Mapping[str, ConflictObjectSpec]) -> type[BaseModel]:
    """``{"<id field>", "targetTimestamp", "connector"}``; ``connector`` may be left out when only one
    connector offers rollback (the seed's body names none)."""
    specs = [s for s in objects.values() if s.rollback]
    fields: dict[str, Any] = {
        "targetTimestamp": (datetime, Field(description="ISO 8601; without an offset it is read as UTC"))
    }
    if not specs:
        fields["connector"] = (str, Field(pattern=_CONNECTOR))
        fields["remoteId"] = (str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"))
    else:
        names = _literal(tuple(s.connector for s in specs))
        fields["connector"] = (names, specs[0].connector) if len(specs) == 1 else (names, ...)
        for spec in specs:
            rules: dict[str, Any] = {"min_length": 1, "max_length": 64, "pattern": spec.id_pattern}
            # With several connectors each body carries only its own id; the handler checks which.
            fields.setdefault(
                spec.id_field,
                (str, Field(**rules)) if len(specs) == 1 else (str | None, Field(None, **rules)),
            )
    return create_model("RollbackIn", __config__=ConfigDict(extra="forbid", title="RollbackIn"), **fields)


def _accepted(job_id: str) -> web.Response:
    body = JobAccepted(job_id=job_id, location=f"/jobs/{job_id}")
    return web.json_response(body.model_dump(), status=202)


def _refused(field: str, message: str) -> ProblemError:
    return ProblemError(
        422,
        "the body does not match its schema",
        kind="validation-error",
        errors=[FieldError(field=field, message=message)],
    )


def conflict_routes(context: Context) -> list[RouteSpec]:
    book = ConflictBook(context.store)
    objects = dict(context.conflict_objects)
    ROLLBACK_OBJECTS.clear()
    ROLLBACK_OBJECTS.update({n: (s.system, s.object_type) for n, s in objects.items() if s.rollback})
    pending_model = _pending_models(objects)
    resolve_model = _resolve_model(objects)
    rollback_model = _rollback_model(objects)

    def hubspot() -> Any:
        try:
            return context.service("hubspot")
        except LookupError:
            # Only an owner check needs HubSpot; an admin's call is answered without it.
            raise ProblemError(
                503, "cannot check who owns the deal: HubSpot is not configured in this process"
            ) from None

    def require_connector(name: str) -> None:
        # A job nobody will run would stay "pending" for ever: refuse before queueing it.
        if name not in context.connector_configs:
            raise ProblemError(409, f"connector {name!r} is not running in this deployment", kind="conflict")

    async def pending(request: web.Request) -> web.Response:
        connector = request_query(request, PendingQuery).connector or None
        found = await book.pending(connector)
        return web.json_response({"conflicts": [_pending_out(c, objects.get(c.connector)) for c in found]})

    async def resolve(request: web.Request) -> web.Response:
        body: Any = request_body(request, resolve_model).root
        value = getattr(body, "value", None)
        known = await book.get(body.conflictId)
        if known is None:
            raise ProblemError(404, _NO_CONFLICT, kind="not-found")
        spec = objects.get(known.connector)
        resolution = str(body.resolution)
        own = spec.remote_resolution if spec is not None else REMOTE_RESOLUTION
        if resolution in (REMOTE_RESOLUTION, own):
            resolution = own  # the connector's handler receives its own name for the remote side
        elif resolution != "USE_HUBSPOT_VALUE" and resolution != "USE_CUSTOM_VALUE":
            raise _refused("resolution", f"is not a resolution of a {known.connector} conflict")
        require_connector(known.connector)
        identity = request_identity(request)
        if not identity.can_act:
            await require_deal_owner(identity, known.deal_id, hubspot())
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
                        resolution,
                        value,
                        body.reason,
                        actor=identity.user,
                    )
                ]
            )
        except Exception:
            await book.release(conflict.id)
            raise
        return _accepted(job_id)

    async def rollback(request: web.Request) -> web.Response:
        body = request_body(request, rollback_model)
        data = body.model_dump()
        connector = str(data["connector"])
        spec = objects.get(connector)
        id_field = spec.id_field if spec is not None else "remoteId"
        remote_id = data.get(id_field)
        if not remote_id:
            raise _refused(id_field, f"is required for connector {connector}")
        given = {k for k, v in data.items() if v is not None} - {"connector", "targetTimestamp", id_field}
        if given:
            raise _refused(sorted(given)[0], f"is not a field of connector {connector}'s rollback")
        require_connector(connector)
        if spec is None or not spec.rollback:
            raise ProblemError(409, f"connector {connector!r} offers no rollback", kind="conflict")
        target: datetime = data["targetTimestamp"]
        if target.tzinfo is None:
            target = target.replace(tzinfo=UTC)
        if target > datetime.now(UTC):
            raise ProblemError(422, "targetTimestamp is in the future", kind="validation-error")
        identity = request_identity(request)
        if not identity.can_act:
            # The deal its trail names last: whose owner may roll it back.
            deal_id = await deal_of(context.store, spec.audit_key(remote_id))
            if deal_id is None:
                raise ProblemError(
                    403,
                    "only an admin may roll back an object cosync has no deal for",
                    kind="forbidden",
                )
            await require_deal_owner(identity, deal_id, hubspot())
        job_id = await create_job(
            context.store,
            rollback_event_type(connector),
            {id_field: remote_id, "targetTimestamp": target.isoformat(), ACTOR_KEY: identity.user},
        )
        await context.enqueue(
            [
                rollback_event(
                    connector, job_id, spec.system, spec.object_type, remote_id, target, actor=identity.user
                )
            ]
        )
        return _accepted(job_id)

    return [
        RouteSpec(
            "GET",
            "/conflicts/pending",
            pending,
            summary="Conflicts waiting for a person (filter: connector)",
            response_model=pending_model,
            tags=("conflicts",),
            query_model=PendingQuery,
        ),
        RouteSpec(
            "POST",
            "/conflicts/resolve",
            resolve,
            summary="Resolve a pending conflict (queued; 404 unknown id, 409 already resolved)",
            body_model=resolve_model,
            response_model=JobAccepted,
            tags=("conflicts",),
            error_statuses=(403, 404, 409),
            error_descriptions={
                403: "The token's user is neither an admin nor the deal's HubSpot owner",
                404: "No conflict has this id",
                409: "Already resolved, being resolved, or its connector does not run here",
            },
        ),
        RouteSpec(
            "POST",
            "/rollback",
            rollback,
            summary="Restore a remote object's cosync-owned fields to their values at a time (queued)",
            body_model=rollback_model,
            response_model=JobAccepted,
            tags=("conflicts",),
            error_statuses=(403, 409),
            error_descriptions={
                403: "The token's user is neither an admin nor the owner of the object's deal",
                409: "The connector does not run in this deployment, or offers no rollback",
            },
        ),
    ]
