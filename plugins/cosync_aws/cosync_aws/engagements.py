"""Seed 002 §2, the engagement lifecycle: Partner Central's engagements onto the deals of their opportunities.

Triggered by ``Engagement Member Joined``/``Added`` (the events AWS publishes for engagements,
https://docs.aws.amazon.com/partner-central/latest/APIReference/selling-api-events.html) and by the
``aws_engagements`` loop. The loop lists engagements once (``ListEngagements``, 100 a page) and reads only
those whose ``ModifiedAt`` is past its cursor: ``GetEngagement`` (with ``Contexts``), ``ListEngagementMembers``
and ``ListEngagementResourceAssociations`` (which opportunities the engagement is about:
https://docs.aws.amazon.com/partner-central/latest/APIReference/API_ListEngagementResourceAssociations.html).
The seed's design spends those three calls per opportunity every run instead.

What was last written is kept per opportunity (``aws:lifecycle:<opportunity id>``): a re-read engagement
writes nothing to HubSpot, and each timeline entry is claimed once in the store, so neither a redelivered event
nor a restart repeats a note.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cosync_worker.connector import BoundState
from cosync_worker.logs import get_logger
from cosync_worker.store import Store

from . import pushes
from .client import Priority
from .deps import Deps
from .engagement_mapping import EngagementView, engagement_properties, engagement_view, status_of, timeline
from .hubspot_side import deal_for, note_once

__all__ = [
    "ENGAGEMENTS_LOOP",
    "Lifecycle",
    "lifecycle_state",
    "opportunities_of",
    "refresh_status",
    "sync_changed",
    "sync_engagement",
]

log = get_logger("cosync.aws")

ENGAGEMENTS_LOOP = "aws_engagements"


class Lifecycle(BaseModel):
    """The engagement of one opportunity as last written to its deal."""

    model_config = ConfigDict(extra="allow")

    deal_id: str | None = None
    engagement: EngagementView | None = None
    written: dict[str, str] = Field(default_factory=dict)
    synced_at: str = ""


def lifecycle_state(store: Store) -> BoundState[Lifecycle]:
    return BoundState(store, Lifecycle, "aws:lifecycle")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def opportunities_of(deps: Deps, engagement_id: str) -> list[str]:
    items = await deps.pc.paginate(
        "ListEngagementResourceAssociations",
        "EngagementResourceAssociationSummaries",
        EngagementIdentifier=engagement_id,
        ResourceType="Opportunity",
    )
    return sorted({str(i["ResourceId"]) for i in items if i.get("ResourceId")})


async def sync_engagement(deps: Deps, engagement_id: str) -> int:
    """Read one engagement and write it to the deal of each of its opportunities; returns the deals written."""
    targets: list[tuple[str, str]] = []
    for opp_id in await opportunities_of(deps, engagement_id):
        deal_id = await deal_for(deps, opp_id)
        if deal_id is not None:
            targets.append((opp_id, deal_id))
    if not targets:
        return 0  # an engagement of no deal of ours (another partner's, or an opportunity not linked yet)
    engagement = await deps.pc.call("GetEngagement", Priority.BACKGROUND, Identifier=engagement_id)
    members = await deps.pc.paginate(
        "ListEngagementMembers", "EngagementMemberList", Identifier=engagement_id
    )
    written = 0
    for opp_id, deal_id in targets:
        written += await _apply(deps, opp_id, deal_id, engagement, members)
    return written


async def _apply(
    deps: Deps, opp_id: str, deal_id: str, engagement: dict[str, Any], members: list[dict[str, Any]]
) -> int:
    owned = (await deps.deals.read(deal_id)).value.owned
    view = engagement_view(
        engagement, members, owned.get("LifeCycle.Stage"), owned.get("LifeCycle.ClosedLostReason")
    )
    return await _write(deps, opp_id, deal_id, view)


async def _write(deps: Deps, opp_id: str, deal_id: str, view: EngagementView) -> int:
    states = lifecycle_state(deps.store)
    current = (await states.read(opp_id)).value
    for key, text in timeline(current.engagement, view):
        await note_once(deps, "engagement", f"{deal_id}:{key}", deal_id, text)
    props = engagement_properties(view)
    changed = {k: v for k, v in props.items() if current.written.get(k) != v}
    now = _now() if changed else current.synced_at
    # The view is recorded before the deal is written: whoever sees the deal's new properties finds the same
    # engagement at GET /engagements/{opportunityId}. ``written`` follows the write, so a failed write is
    # written again on the retry.
    await states.update(
        opp_id,
        lambda s: s.model_copy(update={"deal_id": deal_id, "engagement": view, "synced_at": now}),
    )
    if changed:
        await pushes.update_deal(deps, deal_id, {**changed, "aws_last_engagement_sync": now})
        await states.update(opp_id, lambda s: s.model_copy(update={"written": {**s.written, **props}}))
        log.info("aws_engagement_synced", deal_id=deal_id, engagement_id=view.engagement_id)
    return 1 if changed else 0


async def refresh_status(deps: Deps, opp_id: str) -> int:
    """The opportunity's stage moved (its reverse sync ran): the derived engagement status follows, without a
    Partner Central call."""
    current = (await lifecycle_state(deps.store).read(opp_id)).value
    if current.engagement is None or current.deal_id is None:
        return 0
    owned = (await deps.deals.read(current.deal_id)).value.owned
    status = status_of(owned.get("LifeCycle.Stage"))
    if status == current.engagement.status:
        return 0
    reason = str(owned.get("LifeCycle.ClosedLostReason") or "") if status == "Cancelled" else ""
    view = current.engagement.model_copy(update={"status": status, "cancel_reason": reason})
    return await _write(deps, opp_id, current.deal_id, view)


def _modified(summary: dict[str, Any]) -> datetime | None:
    value = summary.get("ModifiedAt")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


async def sync_changed(deps: Deps, since: datetime | None) -> dict[str, int]:
    """The loop's run: the engagements modified after ``since`` (every one on the first run)."""
    summaries = await deps.pc.paginate("ListEngagements", "EngagementSummaryList", MaxResults=100)
    changed = [s for s in summaries if since is None or (m := _modified(s)) is None or m > since]
    written = 0
    for summary in changed:
        written += await sync_engagement(deps, str(summary["Id"]))
    counts = {"engagements": len(summaries), "read": len(changed), "written": written}
    log.info("aws_engagement_sync", **counts)
    return counts
