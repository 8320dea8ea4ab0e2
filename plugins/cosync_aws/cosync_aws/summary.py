"""Flow 9: AWS's side of each opportunity (``GetAwsOpportunitySummary``) onto its deal, on a schedule.

The HubSpot side is batched: one search for every deal with an opportunity, one batch update per 100 deals,
the notices in batches of 100 too (the notification service batches its HubSpot calls).
``EngagementScore`` is ``High``/``Medium``/``Low``
(https://docs.aws.amazon.com/partner-central/latest/APIReference/API_GetAwsOpportunitySummary.html), so the
seeds' "score changed by ±10" is a change of level here (``aws.engagement_level``, see :mod:`.notices`); a new
AWS seller in ``OpportunityTeam`` is ``aws.seller_assigned``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cosync_worker.logs import get_logger
from cosync_worker.notify import Notice

from . import notices
from .client import PartnerCentralError, Priority
from .config import AwsConfig
from .deps import Deps

__all__ = ["SUMMARY_PROPERTIES", "score_note", "summary_properties", "sync_summaries"]

log = get_logger("cosync.aws")

SUMMARY_PROPERTIES = (
    "aws_engagement_score",
    "aws_involvement_type",
    "aws_next_steps",
    "aws_seller_name",
)
_LEVELS = {"Low": 1, "Medium": 2, "High": 3}


def summary_properties(summary: dict[str, Any]) -> dict[str, str]:
    """Pure: HubSpot properties from an AWS opportunity summary (absent values omitted)."""
    props: dict[str, str] = {}
    score = (summary.get("Insights") or {}).get("EngagementScore")
    if score:
        props["aws_engagement_score"] = str(score)
    life = summary.get("LifeCycle") or {}
    if life.get("NextSteps"):
        props["aws_next_steps"] = str(life["NextSteps"])
    if summary.get("InvolvementType"):
        props["aws_involvement_type"] = str(summary["InvolvementType"])
    team = summary.get("OpportunityTeam") or []
    if team:
        seller = team[0]
        name = " ".join(p for p in (seller.get("FirstName"), seller.get("LastName")) if p) or seller.get(
            "Email"
        )
        if name:
            props["aws_seller_name"] = str(name)
    return props


def score_note(old: str | None, new: str | None, config: AwsConfig) -> str | None:
    """Pure: the note text for a change of engagement level, or None if the config says not to notify."""
    if not new or old == new or config.notify_score_changes == "none":
        return None
    rising = _LEVELS.get(new, 0) > _LEVELS.get(old or "", 0)
    if (config.notify_score_changes == "up" and not rising) or (
        config.notify_score_changes == "down" and rising
    ):
        return None
    direction = "rose" if rising else "fell"
    return f"AWS engagement score {direction}: {old or '(none)'} -> {new}"


async def sync_summaries(deps: Deps) -> dict[str, int]:
    """One run over every deal with an opportunity; returns counts for logs and tests."""
    deals = await deps.hs.search_all(
        "deals",
        filter_groups=[{"filters": [{"propertyName": "aws_opportunity_id", "operator": "HAS_PROPERTY"}]}],
        properties=["aws_opportunity_id", *SUMMARY_PROPERTIES],
        limit=100,
    )
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    updates: list[dict[str, Any]] = []
    told_now: list[tuple[notices.Told, dict[str, Any]]] = []
    found: list[Notice] = []
    for deal in deals:
        props = deal.get("properties") or {}
        opp_id = props.get("aws_opportunity_id")
        if not opp_id:
            continue
        try:
            summary = await deps.pc.call(
                "GetAwsOpportunitySummary", Priority.BACKGROUND, RelatedOpportunityIdentifier=opp_id
            )
        except PartnerCentralError as exc:
            if exc.code == "ResourceNotFoundException":
                continue  # not submitted yet: AWS has no summary
            raise
        fresh = summary_properties(summary)
        changed = {k: v for k, v in fresh.items() if (props.get(k) or "") != v}
        updates.append({"id": str(deal["id"]), "properties": {**changed, "aws_last_summary_sync": now}})
        deal_id = str(deal["id"])
        told = notices.Told(deps.told, str(opp_id))
        before = await told.read()
        level, after = notices.level_notice(
            deal_id,
            str(opp_id),
            props.get("aws_engagement_score"),
            fresh.get("aws_engagement_score"),
            before,
            deps.config.notify_score_changes,
        )
        seller, after = notices.seller_notice(deal_id, str(opp_id), summary, after)
        found.extend(n for n in (level, seller) if n is not None)
        if after != before:
            told_now.append((told, after))
    if updates:
        await deps.hs.batch_update("deals", updates)
    for i in range(0, len(found), 100):
        await notices.send(deps.notifier, found[i : i + 100], deps.hs)
    for told, after in told_now:  # only once the notifier answered: a crash before re-sends the same keys
        await told.write(after)
    counts = {"deals": len(deals), "updated": len(updates), "notes": len(found)}
    log.info("aws_summary_sync", **counts)
    return counts
