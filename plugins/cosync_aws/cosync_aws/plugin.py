"""The ``aws`` connector (entry point ``cosync.connectors: aws``): which event runs which flow.

Built on the connector SDK: handlers are declared with ``@on``/``@every`` (the dispatcher's glob is the only
routing), the framework opens and closes the Partner Central client, keeps the reconcile's cursor and leaves the
connector idle while its section names no credentials (``AwsConfig.configured``). A deal is worked on under the
SDK's cross-replica lease (``deal_lock``). The flows are in the modules this one imports; they receive a
:class:`~cosync_aws.deps.Deps` (what ``cosync link`` uses too, through :func:`deps_of`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cosync_worker.conflicts import resolve_event_type, rollback_event_type
from cosync_worker.connector import (
    Context,
    DealConnector,
    Event,
    HeldWrites,
    PermanentError,
    Run,
    audit_trigger,
    client,
    every,
    on,
)
from cosync_worker.hooks import RouteSpec, hookimpl

from . import assignment, declarations, engagements, inbound, outbound, resolution, submission, summary
from .client import PartnerCentralClient
from .config import AwsConfig
from .deps import Deps
from .lifecycle_routes import CONNECTOR_SERVICE, LifecycleRoutes
from .properties import PROPERTIES
from .resources import RESOURCES_LOOP, sync_all, sync_engagement, sync_opportunity
from .routes import ASSIGN_EVENT, SUBMIT_EVENT, JobRoutes
from .solution_routes import SOLUTIONS_SERVICE, SolutionRoutes
from .solutions import REMATCH_PROPERTIES, SolutionCache, rematch
from .state import (
    RECONCILE_CURSOR,
    deal_state,
    invitation_state,
    opportunity_link,
    related_mark,
    told_state,
)
from .team import owner_reassigned

__all__ = ["NAME", "SERVICE", "SOLUTIONS", "AwsConnector", "deps_of"]

NAME = "aws"
SERVICE = "aws.partnercentral"
SOLUTIONS = SOLUTIONS_SERVICE
CONNECTOR = CONNECTOR_SERVICE
RESOLVE_EVENT = resolve_event_type(NAME)
ROLLBACK_EVENT = rollback_event_type(NAME)
LOCK_SECONDS = 30.0  # longer than a push or a reverse sync takes; how long a killed holder blocks the deal


def deps_of(context: Context) -> Deps:
    """What every flow needs, from the running connector (``SERVICE in context.services`` once it started)."""
    connector: AwsConnector = context.service(CONNECTOR)
    return connector.deps()


def _own_change(event: Event, context: Context) -> bool:
    """A change this app made itself (HubSpot marks it ``INTEGRATION`` with our app id): never echoed."""
    app_id = context.settings.hubspot.app_id
    payload = event.payload
    return (
        app_id is not None
        and payload.get("changeSource") == "INTEGRATION"
        and str(payload.get("sourceId")) == str(app_id)
    )


def _occurred_ms(event: Event) -> int | None:
    occurred = event.payload.get("occurredAt")
    return int(occurred) if isinstance(occurred, int | float) else None


# The routes are the SDK's ``@route`` declarations of the three bases (routes.py, solution_routes.py,
# lifecycle_routes.py); the relay registers them in this order (the job routes first, ``/solutions/search``
# before ``/solutions/{id}``), which is the reverse of the bases' order here.
class AwsConnector(LifecycleRoutes, SolutionRoutes, JobRoutes, DealConnector):
    name = NAME
    config_model = AwsConfig
    description = "AWS Partner Central opportunities <-> HubSpot deals"
    properties = tuple(PROPERTIES)
    deals = deal_state
    opportunities = opportunity_link
    invitations = invitation_state
    related = related_mark
    told = told_state

    # What the connector brings besides its handlers (declarations.py).
    cosync_conflict_objects = staticmethod(declarations.cosync_conflict_objects)
    cosync_demo = staticmethod(declarations.cosync_demo)
    cosync_emulators = staticmethod(declarations.cosync_emulators)
    cosync_event_sources = staticmethod(declarations.cosync_event_sources)
    cosync_linkers = staticmethod(declarations.cosync_linkers)
    cosync_notice_kinds = staticmethod(declarations.cosync_notice_kinds)

    _held: HeldWrites | None = None

    @property
    def settings(self) -> AwsConfig:
        config: AwsConfig = self.config
        return config

    @client
    def partnercentral(self) -> PartnerCentralClient:
        return PartnerCentralClient(self.settings, self.store)

    def deps(self) -> Deps:
        return Deps(
            self.settings,
            self.clients["partnercentral"],
            self.hubspot,
            self.store,
            self.context.services.get(SOLUTIONS),
            self.notifier,
            lambda deal_id: self.deal_lock(deal_id, ttl_seconds=LOCK_SECONDS),
            self.deals,
            self.lock,
            self.opportunities,
            self.invitations,
            self.related,
            self.told,
            self._held,
        )

    # -- lifecycle: the framework opens the client; the linker and the routes reach it by service name --
    @hookimpl
    async def cosync_startup(self, context: Context) -> None:
        await super().cosync_startup(context)
        if self.configured():
            pc = self.clients["partnercentral"]
            context.services[CONNECTOR] = self
            context.services[SERVICE] = pc
            context.services[SOLUTIONS] = SolutionCache(pc, self.settings.solution_cache_seconds)
            self._held = HeldWrites(
                self.store,
                pc.budget_name,
                self._push_held,
                self._hand_off_held,
                interval_seconds=1.0 / self.settings.write_rate_per_second,
                turn=pc.scheduler.turn,
            )
            context.worker_starts.append(self._held.start)  # drained beside the worker, not by a relay

    @hookimpl
    async def cosync_shutdown(self, context: Context) -> None:
        if self._held is not None:
            await self._held.close()  # what is still held stays in the store for the next start
            self._held = None
        for key in (SOLUTIONS, SERVICE, CONNECTOR):
            context.services.pop(key, None)
        await super().cosync_shutdown(context)

    @hookimpl
    def cosync_routes(self, context: Context) -> list[RouteSpec]:
        self._context = self._context or context
        if not self.configured():
            return []  # a route that queues work nobody will do would lose it
        return super().cosync_routes(context) or []

    def sandbox_config(self, sandbox: dict[str, Any]) -> dict[str, Any] | None:
        pc = sandbox.get("partnercentral") or {}
        return {
            "endpoint_url": pc.get("endpoint_url"),
            "region": pc.get("region", "us-east-1"),
            "catalog": "Sandbox",
            "aws_access_key_id": pc.get("aws_access_key_id", "sandbox"),
            "aws_secret_access_key": pc.get("aws_secret_access_key", "sandbox"),
        }

    # -- HubSpot ------------------------------------------------------------------------------------
    @on("deal.*", "company.*", "contact.*", "partnercentral.*")
    async def acknowledged(self, event: Event) -> None:
        """Every event of these families is ours: one no flow uses (yet) is acknowledged, not dead-lettered
        as unknown. The EventBridge rule sends all 12 Partner Central event types."""

    @on("deal.creation")
    async def deal_created(self, event: Event) -> None:
        await outbound.ensure_opportunity(self.deps(), event.object.id)

    @on("deal.propertyChange")
    async def deal_changed(self, event: Event) -> None:
        prop = event.payload.get("propertyName")
        if not isinstance(prop, str):
            raise PermanentError("deal.propertyChange without propertyName")
        deps, deal_id, value = self.deps(), event.object.id, event.payload.get("propertyValue")
        if _own_change(event, self.context):
            if prop in outbound.UPDATE_PROPERTIES:
                # Not pushed back (it came from AWS or a rollback), but the deal's copy no longer says what the
                # deal holds: the next push reads it.
                await outbound.forget_copy(deps, deal_id)
            return
        if prop == "hubspot_owner_id":
            await assignment.assign_owner(deps, deal_id, str(value) if value else None)
            return
        if prop == "aws_opportunity_id" and not value:
            # Cleared on a deal that named another deal's opportunity: it gets its own (a deal that has an
            # opportunity keeps it: ensure_opportunity finds it in the state and does nothing).
            await outbound.ensure_opportunity(deps, deal_id)
            return
        if prop in REMATCH_PROPERTIES:
            await rematch(deps, deal_id)  # seed 000 §5 after creation: associate new, drop removed
            return
        if prop not in outbound.UPDATE_PROPERTIES:
            return
        submits = prop == "dealstage" and value in deps.config.submission.on_stages
        await outbound.sync_change(
            deps,
            deal_id,
            prop,
            str(value) if value is not None else None,
            _occurred_ms(event),
            may_hold=not submits,  # the submission goes after the stage's push, so that one is not held
        )
        if submits:
            # Even when an earlier event of the burst already pushed the stage ("covered"): submitting is a
            # separate step, and submit_deal costs one read when the opportunity is already under review.
            await submission.submit_deal(deps, deal_id)

    @on(outbound.HELD_PUSH_EVENT)
    async def held_push(self, event: Event) -> None:
        """A held edit whose write failed in the drain: pushed here, with the queue's retries and dead letter."""
        changed = event.payload.get("changed_ms")
        if not isinstance(changed, int):
            raise PermanentError(f"{outbound.HELD_PUSH_EVENT} without an integer changed_ms")
        await self._push_held(event.object.id, changed)

    async def _push_held(self, deal_id: str, changed_ms: int) -> None:
        # Outside the rep's event (in the drain, or its queued retry): the audit entries name what the rep did.
        with audit_trigger("deal.propertyChange"):
            await outbound.push_update(self.deps(), deal_id, occurred_ms=changed_ms, customer_cache=True)

    async def _hand_off_held(self, deal_id: str, changed_ms: int) -> None:
        await self.context.enqueue([outbound.held_event(deal_id, changed_ms)])

    @on("deal.associationChange")
    async def deal_associations_changed(self, event: Event) -> None:
        """Another company or contact on the deal: its copy of them is no longer its customer, so the next
        push reads the deal and them (a push taken from an event would otherwise send the old ones)."""
        await outbound.forget_copy(self.deps(), event.object.id)

    @on("company.propertyChange")
    async def company_changed(self, event: Event) -> None:
        await self._related_changed(event, "companies", outbound.COMPANY_PROPERTIES_SYNCED)

    @on("contact.propertyChange")
    async def contact_changed(self, event: Event) -> None:
        await self._related_changed(event, "contacts", outbound.CONTACT_PROPERTIES_SYNCED)

    async def _related_changed(self, event: Event, kind: str, watched: frozenset[str]) -> None:
        if event.payload.get("propertyName") in watched and not _own_change(event, self.context):
            await outbound.push_related(self.deps(), kind, event.object.id, _occurred_ms(event))

    # -- Partner Central ----------------------------------------------------------------------------
    def _our_catalog(self, event: Event) -> bool:
        # The rule sees both catalogs; each deployment syncs one.
        return bool((event.payload.get("detail") or {}).get("catalog", "AWS") == self.settings.catalog)

    @on("partnercentral.engagement_invitation_created")
    async def invitation_created(self, event: Event) -> None:
        if self._our_catalog(event):
            await inbound.accept_invitation(self.deps(), event.object.id)

    @on("partnercentral.opportunity_*")
    async def opportunity_changed(self, event: Event) -> None:
        if self._our_catalog(event):
            created = event.type == "partnercentral.opportunity_created"  # seed 000 §3: may become a deal
            at = event.payload.get("time")  # AWS's clock: the echo of cosync's own write costs no read
            await inbound.reverse_sync(self.deps(), event.object.id, created=created, at=at)

    @on("partnercentral.opportunity_*")
    async def engagement_status(self, event: Event) -> None:
        """After the reverse sync above (declared later, runs later): the stage decides the engagement's status."""
        if self._our_catalog(event):
            await engagements.refresh_status(self.deps(), event.object.id)

    @on("partnercentral.engagement_member_*")
    async def engagement_changed(self, event: Event) -> None:
        if self._our_catalog(event):
            await engagements.sync_engagement(self.deps(), event.object.id)

    @on("deal.propertyChange")
    async def engagement_stage(self, event: Event) -> None:
        """After the push above: a deal won or lost in HubSpot completes or cancels its engagement."""
        if event.payload.get("propertyName") == "dealstage":
            opp_id = (await self.deals.read(event.object.id)).value.opportunity_id
            if opp_id:
                await engagements.refresh_status(self.deps(), opp_id)

    @on("deal.propertyChange")
    async def owner_changed(self, event: Event) -> None:
        """After the assignment above: seed 002 §3's "Opportunity reassigned to [Name]" (team.py)."""
        if event.payload.get("propertyName") == "hubspot_owner_id" and not _own_change(event, self.context):
            value = event.payload.get("propertyValue")
            change = str(event.payload.get("occurredAt") or event.payload.get("eventId") or event.id)
            await owner_reassigned(self.deps(), event.object.id, str(value) if value else None, change)

    @on("partnercentral.resource_snapshot_created")
    async def snapshot_created(self, event: Event) -> None:
        """About an opportunity (seed 001 §3): its engagement's resources onto its deal (resources.py)."""
        if self._our_catalog(event):
            engagement = ((event.payload.get("detail") or {}).get("engagement") or {}).get("id")
            await sync_opportunity(self.deps(), event.object.id, [str(engagement)] if engagement else None)

    @on("partnercentral.engagement_resource_snapshot_created")
    async def engagement_snapshot_created(self, event: Event) -> None:
        """About an engagement: the resources of every deal whose opportunity is in it."""
        if self._our_catalog(event):
            await sync_engagement(self.deps(), event.object.id)

    # -- API jobs (queued by the routes and the conflict API) -----------------------------------------
    @on(SUBMIT_EVENT)
    async def submit_requested(self, event: Event) -> None:
        if event.payload.get("job_id"):
            await submission.submit_job(self.deps(), event.payload)
        else:  # queued before submissions were jobs
            await submission.submit_deal(self.deps(), event.object.id)

    @on(ASSIGN_EVENT)
    async def assign_requested(self, event: Event) -> None:
        if event.payload.get("job_id"):
            await assignment.assign_job(self.deps(), event.payload)
        else:  # queued before assignments were jobs
            await assignment.assign_owner(self.deps(), event.object.id, event.payload.get("owner_id"))

    @on(RESOLVE_EVENT)
    async def resolve_requested(self, event: Event) -> None:
        await resolution.resolve_conflict(self.deps(), event.payload)

    @on(ROLLBACK_EVENT)
    async def rollback_requested(self, event: Event) -> None:
        await resolution.rollback(self.deps(), event.object.id, event.payload)

    # -- loops --------------------------------------------------------------------------------------
    @every(
        "aws_reconcile",
        300,
        cursor=RECONCILE_CURSOR,
        jitter_seconds=10,
        # AWS's clock and ours differ; a re-read record writes nothing.
        lookback_seconds=inbound.RECONCILE_OVERLAP.total_seconds(),
        description="ListOpportunities changed since the last run -> HubSpot",
    )
    async def reconcile_tick(self, run: Run) -> datetime:
        await inbound.reconcile(self.deps(), run.since)
        return run.signpost

    @every(
        "aws_invitations",
        300,
        jitter_seconds=10,
        description="Pending engagement invitations (safety net under the event)",
    )
    async def invitations_tick(self, run: Run) -> None:
        await inbound.poll_invitations(self.deps())

    @every(
        "aws_summary",
        3600,
        jitter_seconds=60,
        description="GetAwsOpportunitySummary -> deals (batched HubSpot writes)",
    )
    async def summary_tick(self, run: Run) -> None:
        await summary.sync_summaries(self.deps())

    @every(
        "aws_submission_rules",
        3600,
        jitter_seconds=60,
        description="Submit opportunities pending longer than the configured days",
    )
    async def submission_tick(self, run: Run) -> None:
        await submission.submit_pending(self.deps())

    @every(
        engagements.ENGAGEMENTS_LOOP,
        1800,
        cursor=True,
        jitter_seconds=30,
        lookback_seconds=120,  # AWS's ModifiedAt and our clock differ; a re-read engagement writes nothing
        description="ListEngagements modified since the last run -> deals (seed 002 §2)",
    )
    async def engagements_tick(self, run: Run) -> datetime:
        await engagements.sync_changed(self.deps(), run.since)
        return run.signpost

    @every(
        RESOURCES_LOOP,
        14400,  # seed 001 §3's ResourceSyncInterval, 240 minutes
        cursor=True,
        jitter_seconds=120,
        description="Snapshots and associations of the engagements of our deals -> notes (seed 001 §3)",
    )
    async def resources_tick(self, run: Run) -> datetime:
        await sync_all(self.deps(), run.since)
        return run.signpost


cosync_plugin = AwsConnector
