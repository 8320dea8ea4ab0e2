"""The contract between the core's routes and a connector: the events ``POST /conflicts/resolve`` and
``POST /rollback`` enqueue, typed ``<connector>.resolve_conflict`` and ``<connector>.rollback`` so the
dispatcher routes them to the owning connector (which lists them in its ``ConnectorSpec.event_types``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from ..audit import ACTOR_KEY
from ..events import Event, ObjectRef

__all__ = [
    "REMOTE_RESOLUTION",
    "RESOLUTIONS",
    "RESOLVE_SUFFIX",
    "ROLLBACK_SUFFIX",
    "Resolution",
    "resolve_event",
    "resolve_event_type",
    "rollback_event",
    "rollback_event_type",
]

RESOLVE_SUFFIX = "resolve_conflict"
ROLLBACK_SUFFIX = "rollback"
# Every connector's conflicts take these; a connector may name the remote side's value its own way too
# (``ConflictObjectSpec.remote_resolution``), which its handler receives for either name.
Resolution = Literal["USE_HUBSPOT_VALUE", "USE_REMOTE_VALUE", "USE_CUSTOM_VALUE"]
RESOLUTIONS: tuple[str, ...] = ("USE_HUBSPOT_VALUE", "USE_REMOTE_VALUE", "USE_CUSTOM_VALUE")
REMOTE_RESOLUTION = "USE_REMOTE_VALUE"


def resolve_event_type(connector: str) -> str:
    return f"{connector}.{RESOLVE_SUFFIX}"


def rollback_event_type(connector: str) -> str:
    return f"{connector}.{ROLLBACK_SUFFIX}"


def resolve_event(
    connector: str,
    job_id: str,
    conflict_id: str,
    deal_id: str,
    resolution: str,
    value: Any,
    reason: str | None,
    *,
    actor: str | None = None,
) -> Event:
    # Ordered with the deal's own webhooks, so a rep's edit and the resolution never interleave.
    ref = ObjectRef(system="hubspot", type="deal", id=deal_id)
    return Event(
        id=uuid.uuid4().hex,
        source="api",
        type=resolve_event_type(connector),
        object=ref,
        ordering_key=ref.key,
        dedupe_key=f"{RESOLVE_SUFFIX}:{job_id}",
        payload={
            "job_id": job_id,
            "conflict_id": conflict_id,
            "resolution": resolution,
            "value": value,
            "reason": reason,
            # Who asked (a token's user): the connector's audit entries name them (``cosync_worker.audit``).
            ACTOR_KEY: actor,
        },
    )


def rollback_event(
    connector: str,
    job_id: str,
    system: str,
    object_type: str,
    remote_id: str,
    target: datetime,
    *,
    actor: str | None = None,
) -> Event:
    ref = ObjectRef(system=system, type=object_type, id=remote_id)
    return Event(
        id=uuid.uuid4().hex,
        source="api",
        type=rollback_event_type(connector),
        object=ref,
        ordering_key=ref.key,
        dedupe_key=f"{ROLLBACK_SUFFIX}:{job_id}",
        payload={"job_id": job_id, "target_timestamp": target.timestamp(), ACTOR_KEY: actor},
    )
