"""Seed 001 §3 and seed 002 §4, resources both ways.

From AWS: on ``Resource Snapshot Created`` / ``Engagement Resource Snapshot Created``
(https://docs.aws.amazon.com/partner-central/latest/APIReference/selling-api-events.html) and on the
``aws_resources`` loop, the snapshots (``ListResourceSnapshots``) and associations
(``ListEngagementResourceAssociations``) of each engagement of a deal's opportunity that AWS or another member
shared become resources of the deal: one note each (claimed once in the store), ``aws_synced_resources``,
``aws_total_resources`` and ``aws_last_resource_sync``. A snapshot unseen is read once (``GetResourceSnapshot``,
for its customer and use case); one seen before costs nothing but its line in the listing. Partner Central has
no time filter on snapshots, so the loop lists each engagement's (one call per 100) and its cursor marks the last
complete run.

From the partner: an upload or association is recorded by cosync (``aws:resources:<deal>`` and the registry
``aws:resource:<id>``), noted on the deal with its link, and kept in ``aws_partner_resources`` /
``aws_last_resource_upload``. No Selling API operation carries a file, a link or a title
(``AssociateOpportunity`` takes solutions, AWS products and Marketplace offers:
https://docs.aws.amazon.com/partner-central/latest/APIReference/API_AssociateOpportunity.html). What can reach
AWS is a snapshot of the opportunity, shared into its engagement in the partner's template
``OpportunitySummaryView`` (``CreateResourceSnapshot``:
https://docs.aws.amazon.com/partner-central/latest/APIReference/API_CreateResourceSnapshot.html), once per
resource (its id is the client token); the answer says what reached AWS and what stayed in HubSpot.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from cosync_worker.connector import BoundState
from cosync_worker.logs import get_logger
from cosync_worker.store import Store

from . import pushes
from .client import Priority
from .deps import Deps
from .hubspot_side import deal_for, mapped_deal, note_once
from .resource_mapping import (
    PARTNER_TEMPLATE,
    Candidate,
    DealResources,
    Resource,
    aws_candidates,
    aws_resource,
    icon,
    note_text,
    resource_id,
    resource_properties,
)

__all__ = [
    "RESOURCES_LOOP",
    "STAYS_IN_HUBSPOT",
    "ResourceAnswer",
    "UnknownResource",
    "associate",
    "disassociate",
    "registry",
    "resources_state",
    "sync_all",
    "sync_engagement",
    "sync_opportunity",
    "upload",
]

log = get_logger("cosync.aws")

RESOURCES_LOOP = "aws_resources"
STAYS_IN_HUBSPOT = ["file", "url", "title", "description", "tags"]
_NO_FILES = "no Selling API operation carries a file, link or title: the resource stays in HubSpot (a note with its link)"


class UnknownResource(LookupError):
    """No resource with this id was recorded (not uploaded, not synced from AWS)."""


class Shared(BaseModel):
    operation: str
    engagementId: str
    snapshotArn: str
    revision: int | None = None
    template: str = PARTNER_TEMPLATE


class ResourceAnswer(BaseModel):
    """What the resource routes answer: the resource, whether the deal changed, what reached AWS."""

    dealId: str  # the seed's names
    resource: Resource
    changed: bool
    reachedAws: bool
    aws: Shared | None = None
    stayedInHubSpot: list[str] = Field(default_factory=list)
    detail: str


def resources_state(store: Store) -> BoundState[DealResources]:
    return BoundState(store, DealResources, "aws:resources")


class _Entry(BaseModel):
    resource: Resource | None = None


def registry(store: Store) -> BoundState[_Entry]:
    return BoundState(store, _Entry, "aws:resource")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _when() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


# -- from AWS ---------------------------------------------------------------------------------------------
class _Listings:
    """One run's listings of each engagement: an engagement seen for two opportunities is listed once."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._seen: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}

    async def associations(self, engagement_id: str) -> list[dict[str, Any]]:
        return (await self.of(engagement_id))[1]

    async def of(self, engagement_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if engagement_id not in self._seen:
            pc = self.deps.pc
            associations = await pc.paginate(
                "ListEngagementResourceAssociations",
                "EngagementResourceAssociationSummaries",
                EngagementIdentifier=engagement_id,
            )
            snapshots = await pc.paginate(
                "ListResourceSnapshots", "ResourceSnapshotSummaries", EngagementIdentifier=engagement_id
            )
            self._seen[engagement_id] = (snapshots, associations)
        return self._seen[engagement_id]


async def _engagements_of(deps: Deps, opp_id: str) -> list[str]:
    items = await deps.pc.paginate(
        "ListEngagementResourceAssociations",
        "EngagementResourceAssociationSummaries",
        ResourceType="Opportunity",
        ResourceIdentifier=opp_id,
    )
    return sorted({str(i["EngagementId"]) for i in items if i.get("EngagementId")})


async def sync_opportunity(
    deps: Deps, opp_id: str, engagement_ids: list[str] | None = None, listings: _Listings | None = None
) -> int:
    """The AWS resources of one opportunity's engagements onto its deal; returns the resources added."""
    deal_id = await deal_for(deps, opp_id)
    if deal_id is None:
        return 0
    listings = listings or _Listings(deps)
    found: list[Candidate] = []
    for eng in engagement_ids if engagement_ids is not None else await _engagements_of(deps, opp_id):
        snapshots, associations = await listings.of(eng)
        found += aws_candidates(opp_id, snapshots, associations)
    return await _add_aws(deps, deal_id, opp_id, found)


async def sync_engagement(deps: Deps, engagement_id: str, listings: _Listings | None = None) -> int:
    """Every deal whose opportunity is in the engagement (the event names the engagement only)."""
    listings = listings or _Listings(deps)
    ours = sorted(
        {
            str(a["ResourceId"])
            for a in await listings.associations(engagement_id)
            if a.get("ResourceType") == "Opportunity" and a.get("ResourceId")
        }
    )
    added = 0
    for opp_id in ours:
        if await mapped_deal(deps, opp_id):  # another partner's opportunity has no deal
            added += await sync_opportunity(deps, opp_id, [engagement_id], listings)
    return added


async def sync_all(deps: Deps, since: datetime | None) -> dict[str, int]:
    """The loop's run: every engagement (``ListEngagements``, 100 a page) with a deal of ours."""
    summaries = await deps.pc.paginate("ListEngagements", "EngagementSummaryList", MaxResults=100)
    listings = _Listings(deps)
    added = 0
    for summary in summaries:
        added += await sync_engagement(deps, str(summary["Id"]), listings)
    counts = {"engagements": len(summaries), "added": added}
    log.info("aws_resource_sync", first_run=since is None, **counts)
    return counts


async def _add_aws(deps: Deps, deal_id: str, opp_id: str, found: list[Candidate]) -> int:
    states = resources_state(deps.store)
    async with deps.deal_lock(deal_id):
        current = (await states.read(deal_id)).value
        known = {r.id for r in current.resources} | set(current.removed)
        new: list[Resource] = []
        for c in found:
            if resource_id(c.key) in known:
                continue
            snapshot = None
            if c.template:
                snapshot = await deps.pc.call(
                    "GetResourceSnapshot",
                    Priority.BACKGROUND,
                    EngagementIdentifier=c.engagement_id,
                    ResourceType=c.resource_type,
                    ResourceIdentifier=c.resource_id,
                    ResourceSnapshotTemplateIdentifier=c.template,
                    Revision=c.revision,
                )
            new.append(aws_resource(c, snapshot, deps.config.resources.console_url, _now()))
        when = f"Synced from AWS Partner Central on {_when()}"
        for r in new:
            await _remember(deps, r, keep=True)
            await note_once(
                deps, "resource", f"{deal_id}:{r.id}", deal_id, note_text(r, f"{icon(r)} AWS Resource", when)
            )

        def added(s: DealResources) -> DealResources:
            have = {x.id for x in s.resources}
            fresh = [r for r in new if r.id not in have]
            return s.model_copy(update={"opportunity_id": opp_id, "resources": [*s.resources, *fresh]})

        await _write(deps, deal_id, (await states.update(deal_id, added)).value, "aws_last_resource_sync")
    if new:
        log.info("aws_resources_synced", deal_id=deal_id, added=len(new))
    return len(new)


async def _write(deps: Deps, deal_id: str, state: DealResources, stamp: str) -> bool:
    """The deal's resource properties, when they differ from what was last written."""
    props = resource_properties(state)
    # A deal never given a resource is written nothing: its unset properties already say "none".
    blank = resource_properties(DealResources())
    changed = {k: v for k, v in props.items() if state.written.get(k, blank[k]) != v}
    if not changed:
        return False
    await pushes.update_deal(deps, deal_id, {**changed, stamp: _now()})
    await resources_state(deps.store).update(
        deal_id, lambda s: s.model_copy(update={"written": {**s.written, **props}})
    )
    return True


# -- from the partner -------------------------------------------------------------------------------------
async def _share(deps: Deps, opp_id: str, resource: Resource) -> Shared | None:
    """A snapshot of the opportunity into its engagement, once per resource (the id is the client token)."""
    engagements = await _engagements_of(deps, opp_id)
    if not engagements:
        return None
    answer = await deps.pc.call(
        "CreateResourceSnapshot",
        Priority.UPDATE,
        EngagementIdentifier=engagements[0],
        ResourceType="Opportunity",
        ResourceIdentifier=opp_id,
        ResourceSnapshotTemplateIdentifier=PARTNER_TEMPLATE,
        ClientToken=resource.id,
    )
    return Shared(
        operation="CreateResourceSnapshot",
        engagementId=engagements[0],
        snapshotArn=str(answer.get("Arn") or ""),
        revision=answer.get("Revision"),
    )


def _detail(shared: Shared | None, already: bool) -> str:
    if shared is not None:
        return (
            f"{_NO_FILES}; a snapshot of the opportunity ({PARTNER_TEMPLATE}, revision {shared.revision}) "
            f"was shared with the members of {shared.engagementId}"
        )
    if already:
        return f"{_NO_FILES}; the opportunity's snapshot was shared when the resource was first recorded"
    return f"{_NO_FILES}; the opportunity is in no engagement yet, so no snapshot could be shared"


async def _attach(
    deps: Deps, deal_id: str, opp_id: str, resource: Resource, headline: str, stamp: str
) -> ResourceAnswer:
    states = resources_state(deps.store)
    async with deps.deal_lock(deal_id):
        before = (await states.read(deal_id)).value
        changed = all(r.id != resource.id for r in before.resources)

        def attached(s: DealResources) -> DealResources:
            others = [r for r in s.resources if r.id != resource.id]
            return s.model_copy(
                update={
                    "opportunity_id": opp_id,
                    "resources": [*others, resource],
                    "removed": [x for x in s.removed if x != resource.id],
                }
            )

        snap = await states.update(deal_id, attached)
        if changed:
            when = f"Recorded by cosync on {_when()}"
            key = (
                f"{deal_id}:{resource.id}:{snap.version}"  # one note per change; a repeated request adds none
            )
            await note_once(deps, "resource", key, deal_id, note_text(resource, headline, when))
        await _write(deps, deal_id, snap.value, stamp)
    shared = None
    if resource.source == "Partner" and not resource.snapshotArn:
        shared = await _share(deps, opp_id, resource)
        if shared is not None:
            resource = resource.model_copy(update={"snapshotArn": shared.snapshotArn})
            await _remember(deps, resource)
            await states.update(
                deal_id,
                lambda s: s.model_copy(
                    update={"resources": [resource if r.id == resource.id else r for r in s.resources]}
                ),
            )
    return ResourceAnswer(
        dealId=deal_id,
        resource=resource,
        changed=changed,
        reachedAws=shared is not None,
        aws=shared,
        stayedInHubSpot=STAYS_IN_HUBSPOT if resource.source == "Partner" else [],
        detail=_detail(shared, bool(resource.snapshotArn) and shared is None)
        if resource.source == "Partner"
        else "an AWS resource: it is in Partner Central already; attached to the deal in HubSpot",
    )


async def _remember(deps: Deps, resource: Resource, *, keep: bool = False) -> None:
    """Into the registry (what associate finds); ``keep``: a resource already there stays as it is."""

    def put(entry: _Entry) -> _Entry:
        return entry if keep and entry.resource is not None else _Entry(resource=resource)

    await registry(deps.store).update(resource.id, put)


async def upload(
    deps: Deps,
    deal_id: str,
    opp_id: str,
    *,
    resource_type: str,
    title: str,
    description: str,
    url: str,
    tags: list[str],
    file_type: str,
    size_bytes: int | None,
) -> ResourceAnswer:
    """``POST /resources/upload`` after validation: the same URL uploaded again to the deal is one resource."""
    rid = resource_id(f"partner/{deal_id}/{url}")
    known = (await registry(deps.store).read(rid)).value.resource
    resource = Resource(
        id=rid,
        type=resource_type,
        title=title,
        source="Partner",
        uploadDate=known.uploadDate if known else _now(),
        url=url,
        description=description,
        tags=tags,
        fileType=file_type,
        sizeBytes=size_bytes,
        snapshotArn=known.snapshotArn if known else "",
    )
    await _remember(deps, resource)
    return await _attach(deps, deal_id, opp_id, resource, "📤 Resource Uploaded", "aws_last_resource_upload")


async def associate(deps: Deps, deal_id: str, opp_id: str, res_id: str) -> ResourceAnswer:
    """``POST /resources/associate``: a recorded resource (uploaded to another deal, or AWS's) onto this deal."""
    resource = (await registry(deps.store).read(res_id)).value.resource
    if resource is None:
        raise UnknownResource(res_id)
    stamp = "aws_last_resource_upload" if resource.source == "Partner" else "aws_last_resource_sync"
    return await _attach(deps, deal_id, opp_id, resource, "📎 Resource Associated", stamp)


async def disassociate(deps: Deps, deal_id: str, res_id: str) -> ResourceAnswer:
    """``DELETE /resources/disassociate``: off the deal in HubSpot. Partner Central has no operation deleting a
    snapshot or an engagement association, so what was shared stays shared."""
    resource = (await registry(deps.store).read(res_id)).value.resource
    if resource is None:
        raise UnknownResource(res_id)
    states = resources_state(deps.store)
    async with deps.deal_lock(deal_id):
        changed = any(r.id == res_id for r in (await states.read(deal_id)).value.resources)

        def removed(s: DealResources) -> DealResources:
            gone = [*s.removed, res_id] if resource.source == "AWS" and res_id not in s.removed else s.removed
            return s.model_copy(
                update={"resources": [r for r in s.resources if r.id != res_id], "removed": gone}
            )

        snap = await states.update(deal_id, removed)
        if changed:
            key = f"{deal_id}:{res_id}:removed:{snap.version}"
            await note_once(deps, "resource", key, deal_id, f"🗑️ Resource Removed: {resource.title}")
        await _write(deps, deal_id, snap.value, "aws_last_resource_sync")
    return ResourceAnswer(
        dealId=deal_id,
        resource=resource,
        changed=changed,
        reachedAws=False,
        stayedInHubSpot=["the removal"],
        detail="removed from the deal; Partner Central has no operation deleting a snapshot or an "
        "association, so a snapshot already shared stays with the engagement's members",
    )
