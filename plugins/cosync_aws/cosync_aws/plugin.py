"""The ``aws`` connector's hook implementations: declaration, start-up/shutdown, event routing, properties,
REST routes and the sandbox config."""

from __future__ import annotations

from typing import Any

from cosync_worker.conflicts import resolve_event_type, rollback_event_type
from cosync_worker.errors import PermanentError
from cosync_worker.events import Event
from cosync_worker.hooks import ConnectorSpec, Context, PropertySpec, RouteSpec, ScheduleSpec, hookimpl

from . import assignment, audit, inbound, outbound, resolution, submission, summary
from .client import PartnerCentralClient
from .config import AwsConfig
from .declarations import (  # noqa: F401 (hooks)
    cosync_conflict_objects,
    cosync_demo,
    cosync_emulators,
    cosync_event_sources,
    cosync_linkers,
    cosync_notice_kinds,
)
from .deps import Deps
from .hubspot_side import build_hubspot_client
from .properties import PROPERTIES
from .routes import ASSIGN_EVENT, SUBMIT_EVENT, build_routes
from .solutions import SolutionCache

__all__ = ["NAME", "SERVICE", "SOLUTIONS", "deps_of"]

NAME = "aws"
SERVICE = "aws.partnercentral"
SOLUTIONS = "aws.solutions"
_OWNED_HUBSPOT = "aws._owned_hubspot"
RESOLVE_EVENT = resolve_event_type(NAME)
ROLLBACK_EVENT = rollback_event_type(NAME)

SCHEDULES = (
    ScheduleSpec("aws_reconcile", 300, 10, "ListOpportunities changed since the last run -> HubSpot"),
    ScheduleSpec("aws_invitations", 300, 10, "Pending engagement invitations (safety net under the event)"),
    ScheduleSpec("aws_summary", 3600, 60, "GetAwsOpportunitySummary -> deals (batched HubSpot writes)"),
    ScheduleSpec(
        "aws_submission_rules", 3600, 60, "Submit opportunities pending longer than the configured days"
    ),
)


@hookimpl
def cosync_connector() -> ConnectorSpec:
    return ConnectorSpec(
        name=NAME,
        event_types=(
            "deal.*",
            "company.*",
            "contact.*",
            # All 12 Partner Central event types: the EventBridge rule sends them all, and the ones no flow uses
            # yet (engagement members, snapshots, invitation outcomes) are acked, not dead-lettered as unknown.
            "partnercentral.*",
            SUBMIT_EVENT,
            ASSIGN_EVENT,
            RESOLVE_EVENT,
            ROLLBACK_EVENT,
        ),
        config_model=AwsConfig,
        schedules=SCHEDULES,
        description="AWS Partner Central opportunities <-> HubSpot deals",
    )


@hookimpl
async def cosync_startup(context: Context) -> None:
    config: AwsConfig = context.config(NAME)
    if not config.configured:
        return
    if "hubspot" not in context.services:
        hs = build_hubspot_client(context)
        await hs.open()
        context.services["hubspot"] = hs
        context.services[_OWNED_HUBSPOT] = hs
    pc = PartnerCentralClient(config, context.store)
    await pc.open()
    context.services[SERVICE] = pc
    context.services[SOLUTIONS] = SolutionCache(pc, config.solution_cache_seconds)


@hookimpl
async def cosync_shutdown(context: Context) -> None:
    pc = context.services.pop(SERVICE, None)
    if pc is not None:
        await pc.close()
    hs = context.services.pop(_OWNED_HUBSPOT, None)
    if hs is not None:
        context.services.pop("hubspot", None)
        await hs.close()


def deps_of(context: Context) -> Deps:
    return Deps(
        context.config(NAME),
        context.service(SERVICE),
        context.service("hubspot"),
        context.store,
        context.services.get(SOLUTIONS),
        context.services.get("notify"),
    )


def _own_change(event: Event, context: Context) -> bool:
    """A change this app made itself (HubSpot marks it ``INTEGRATION`` with our app id): never echoed."""
    app_id = context.settings.hubspot.app_id
    payload = event.payload
    return (
        app_id is not None
        and payload.get("changeSource") == "INTEGRATION"
        and str(payload.get("sourceId")) == str(app_id)
    )


@hookimpl
async def cosync_handle_event(event: Event, context: Context) -> None:
    if SERVICE not in context.services:
        return  # installed but not enabled (see AwsConfig.configured): events and ticks are not ours
    token = audit.TRIGGER.set(event.type)
    try:
        await _handle(event, context, deps_of(context))
    finally:
        audit.TRIGGER.reset(token)


async def _handle(event: Event, context: Context, deps: Deps) -> None:
    if event.type == RESOLVE_EVENT:
        await resolution.resolve_conflict(deps, event.payload)
        return
    if event.type == ROLLBACK_EVENT:
        await resolution.rollback(deps, event.object.id, event.payload)
        return
    if event.type.startswith("partnercentral."):
        catalog = (event.payload.get("detail") or {}).get("catalog", "AWS")
        if catalog != deps.config.catalog:
            return  # the rule sees both catalogs; each deployment syncs one
        if event.type == "partnercentral.engagement_invitation_created":
            await inbound.accept_invitation(deps, event.object.id)
        elif event.type.startswith("partnercentral.opportunity_"):
            await inbound.reverse_sync(deps, event.object.id)
        return
    if event.type == "schedule.aws_reconcile":
        await inbound.reconcile(deps)
        return
    if event.type == "schedule.aws_invitations":
        await inbound.poll_invitations(deps)
        return
    if event.type == "schedule.aws_summary":
        await summary.sync_summaries(deps)
        return
    if event.type == "schedule.aws_submission_rules":
        await submission.submit_pending(deps)
        return
    if event.type == ASSIGN_EVENT:
        await assignment.assign_owner(deps, event.object.id, event.payload.get("owner_id"))
        return
    if event.type == SUBMIT_EVENT:
        await submission.submit_deal(deps, event.object.id)
        return
    if event.type in ("company.propertyChange", "contact.propertyChange"):
        prop = event.payload.get("propertyName")
        watched = (
            outbound.COMPANY_PROPERTIES_SYNCED
            if event.type.startswith("company")
            else outbound.CONTACT_PROPERTIES_SYNCED
        )
        if prop in watched and not _own_change(event, context):
            kind = "companies" if event.type.startswith("company") else "contacts"
            await outbound.push_related(deps, kind, event.object.id, _occurred_ms(event))
        return
    deal_id = event.object.id
    if event.type == "deal.creation":
        await outbound.ensure_opportunity(deps, deal_id)
        return
    if event.type == "deal.propertyChange":
        prop = event.payload.get("propertyName")
        if not isinstance(prop, str):
            raise PermanentError("deal.propertyChange without propertyName")
        if _own_change(event, context):
            return
        if prop == "hubspot_owner_id":
            value = event.payload.get("propertyValue")
            await assignment.assign_owner(deps, deal_id, str(value) if value else None)
            return
        if prop not in outbound.UPDATE_PROPERTIES:
            return
        value = event.payload.get("propertyValue")
        await outbound.sync_change(
            deps, deal_id, prop, str(value) if value is not None else None, _occurred_ms(event)
        )
        if prop == "dealstage" and value in deps.config.submission.on_stages:
            # Even when an earlier event of the burst already pushed the stage ("covered"): submitting is a
            # separate step, and submit_deal costs one read when the opportunity is already under review.
            await submission.submit_deal(deps, deal_id)


def _occurred_ms(event: Event) -> int | None:
    occurred = event.payload.get("occurredAt")
    return int(occurred) if isinstance(occurred, int | float) else None


@hookimpl
def cosync_hubspot_properties() -> list[PropertySpec]:
    return list(PROPERTIES)


@hookimpl
def cosync_routes(context: Context) -> list[RouteSpec]:
    if not context.config(NAME).configured:
        return []  # a route that queues work nobody will do would lose it
    return build_routes(context, lambda: context.services.get(SOLUTIONS))


@hookimpl
def cosync_sandbox_config(sandbox: dict[str, Any]) -> dict[str, Any]:
    pc = sandbox.get("partnercentral") or {}
    return {
        NAME: {
            "endpoint_url": pc.get("endpoint_url"),
            "region": pc.get("region", "us-east-1"),
            "catalog": "Sandbox",
            "aws_access_key_id": pc.get("aws_access_key_id", "sandbox"),
            "aws_secret_access_key": pc.get("aws_secret_access_key", "sandbox"),
        }
    }
