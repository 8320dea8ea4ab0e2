"""What the ``aws`` connector brings besides its handlers: its notice kinds, the Partner Central emulator for the
sandbox, its part in ``cosync demo``, Partner Central's EventBridge events and the opportunities whose conflicts
the core's routes list, resolve and roll back. Registered with the connector (``plugin.py`` exposes these
hooks)."""

from __future__ import annotations

from typing import Any

from cosync_worker.hooks import (
    ConflictObjectSpec,
    Context,
    DemoCloudSpec,
    EmulatorSpec,
    EventSourceSpec,
    LinkerSpec,
    NoticeKindSpec,
    hookimpl,
)
from cosync_worker.sandbox import eventbridge_sink

from .demo import DEMO, EMULATOR

__all__ = [
    "CONFLICT_OBJECTS",
    "EVENT_SOURCE",
    "cosync_conflict_objects",
    "cosync_demo",
    "cosync_emulators",
    "cosync_event_sources",
    "cosync_linkers",
    "cosync_notice_kinds",
]

# https://docs.aws.amazon.com/partner-central/latest/selling-api/selling-api-events.html : a detail-type names
# what the event is about; the detail key holds its identifier. The catalog scopes the ordering key.
EVENT_SOURCE = EventSourceSpec(
    source="aws.partnercentral-selling",
    system="partnercentral",
    objects={
        "Opportunity": ("opportunity", ("opportunity",)),
        "Engagement Invitation": ("engagement_invitation", ("engagementInvitation", "invitation")),
        "Engagement Member": ("engagement", ("engagement",)),
        "Resource Snapshot": ("resource_snapshot", ("resourceSnapshot", "opportunity")),
        "Engagement Resource Snapshot": ("engagement", ("engagement", "resourceSnapshot")),
    },
    detail_types=(
        "Opportunity Created",
        "Opportunity Updated",
        "Opportunity Accepted",
        "Opportunity Rejected",
        "Engagement Invitation Created",
        "Engagement Invitation Accepted",
        "Engagement Invitation Rejected",
        "Engagement Invitation Expired",
        "Engagement Member Joined",
        "Engagement Member Added",
        "Resource Snapshot Created",
        "Engagement Resource Snapshot Created",
    ),
    scope_key="catalog",
    scope_default="AWS",
    label="Partner Central",
)

# The seed's names: ``opportunityId``, ``partnerCentralValue``, ``USE_PARTNER_CENTRAL_VALUE``.
CONFLICT_OBJECTS = [
    ConflictObjectSpec(
        connector="aws",
        system="partnercentral",
        object_type="opportunity",
        id_field="opportunityId",
        remote_label="partnerCentral",
        remote_resolution="USE_PARTNER_CENTRAL_VALUE",
        description="a Partner Central opportunity",
    )
]


def _emulator(host: str, time_scale: float) -> Any:
    from cosync_worker.sandbox.clouds import PartnerCentralEmulator

    return PartnerCentralEmulator(host=host, time_scale=time_scale)


def _connection(emulator: Any) -> dict[str, Any]:
    return {
        "endpoint_url": emulator.base_url,
        "region": "us-east-1",
        "aws_access_key_id": "sandbox",
        "aws_secret_access_key": "sandbox",
        "catalog": "Sandbox",
    }


def _connect_queue(emulator: Any, queue: Any) -> None:
    # In production Partner Central's events reach the queue through an EventBridge rule.
    emulator.set_event_sink(eventbridge_sink(queue))


@hookimpl
def cosync_notice_kinds() -> list[NoticeKindSpec]:
    from .notices import NOTICE_KINDS  # the seed 004 entries plus AWS's own (engagement levels, sync errors)
    from .team import REASSIGNED_KINDS  # seed 002 §3 step 7

    return [NOTICE_KINDS, REASSIGNED_KINDS]


@hookimpl
def cosync_emulators() -> list[EmulatorSpec]:
    return [
        EmulatorSpec(
            EMULATOR,
            _emulator,
            _connection,
            _connect_queue,
            "AWS Partner Central Selling API (botocore model)",
        )
    ]


@hookimpl
def cosync_demo() -> DemoCloudSpec:
    return DEMO


@hookimpl
def cosync_event_sources() -> list[EventSourceSpec]:
    return [EVENT_SOURCE]


@hookimpl
def cosync_conflict_objects() -> list[ConflictObjectSpec]:
    return CONFLICT_OBJECTS


@hookimpl
def cosync_linkers(context: Context) -> list[LinkerSpec]:
    from .linking import aws_linker

    found = aws_linker(context)
    return [found] if found is not None else []
