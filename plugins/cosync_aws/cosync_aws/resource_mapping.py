"""Pure mapping of resources (seed 001 §3, seed 002 §4) onto a deal: which of an engagement's snapshots and
associations are AWS's resources, the notes' text and the deal's properties, no I/O.

What Partner Central calls a resource is an opportunity, shared into an engagement as *snapshots* (a revision
of the opportunity in a template: ``OpportunitySummaryView`` from a partner, ``AwsOpportunitySummaryFullView``
from AWS) and listed as *engagement resource associations*
(https://docs.aws.amazon.com/partner-central/latest/APIReference/API_ListResourceSnapshots.html,
https://docs.aws.amazon.com/partner-central/latest/APIReference/API_ListEngagementResourceAssociations.html).
There are no files, titles or URLs: a resource's title is made of its template, opportunity and customer, and
its link points into the Partner Central console (``resources.console_url``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "AWS_ACCOUNT",
    "Candidate",
    "DealResources",
    "Resource",
    "aws_candidates",
    "aws_resource",
    "note_text",
    "resource_id",
    "resource_properties",
]

AWS_ACCOUNT = "aws"  # how Partner Central names AWS itself among members and creators (``\w{1,12}``)
PARTNER_TEMPLATE = "OpportunitySummaryView"  # the template a partner shares its own opportunity in
_TEMPLATE_TYPES = {
    "OpportunitySummaryView": "Opportunity Summary",
    "AwsOpportunitySummaryFullView": "AWS Opportunity Summary",
}
_ICONS = {"Case Study": "📄", "Whitepaper": "📃", "Solution Brief": "📋", "Presentation": "📊", "Video": "🎥"}


class Resource(BaseModel):
    """One resource as cosync keeps it and ``GET /resources/{opportunityId}`` answers it (the seed's names)."""

    id: str
    type: str
    title: str
    source: Literal["Partner", "AWS"]
    uploadDate: str
    url: str = ""
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    fileType: str = ""
    sizeBytes: int | None = None
    # Partner Central's side: where it is (AWS resources), or the snapshot that shared the opportunity.
    engagementId: str = ""
    sharedBy: str = ""
    snapshotArn: str = ""


class DealResources(BaseModel):
    """The resources attached to one deal; ``removed`` are AWS resources a person took off the deal, which the
    sync does not bring back."""

    opportunity_id: str = ""
    resources: list[Resource] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    written: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True)
class Candidate:
    """An AWS resource seen in an engagement: the latest revision of a snapshot, or a bare association."""

    key: str
    engagement_id: str
    resource_type: str
    resource_id: str
    template: str = ""
    revision: int = 0
    created_by: str = ""


def resource_id(key: str) -> str:
    """A stable id (the seed's ``res-...``): the same resource seen again, or uploaded again, is one."""
    return "res-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def aws_candidates(
    opp_id: str, snapshots: list[dict[str, Any]], associations: list[dict[str, Any]]
) -> list[Candidate]:
    """Pure: the engagement's resources that came from AWS or another member, one per resource.

    The deal's own opportunity shared by the partner (its own snapshots, its own association) is the partner's
    side, not a resource from AWS; a revision of a known snapshot is the same resource."""
    latest: dict[str, Candidate] = {}
    for s in snapshots:
        by, rid = str(s.get("CreatedBy") or ""), str(s.get("ResourceId") or "")
        if rid == opp_id and by != AWS_ACCOUNT:
            continue
        eng = str(s.get("EngagementId") or _engagement_of(str(s.get("Arn") or "")))
        template = str(s.get("ResourceSnapshotTemplateName") or "")
        rtype = str(s.get("ResourceType") or "Opportunity")
        key = f"{eng}/{rtype}/{rid}/{template}"
        found = Candidate(key, eng, rtype, rid, template, int(s.get("Revision") or 0), by)
        if key not in latest or latest[key].revision < found.revision:
            latest[key] = found
    shown = {(c.engagement_id, c.resource_type, c.resource_id) for c in latest.values()}
    for a in associations:
        eng, rtype, rid = str(a.get("EngagementId")), str(a.get("ResourceType")), str(a.get("ResourceId"))
        if rid == opp_id or (eng, rtype, rid) in shown:
            continue
        key = f"{eng}/{rtype}/{rid}"
        latest.setdefault(key, Candidate(key, eng, rtype, rid, created_by=str(a.get("CreatedBy") or "")))
    return sorted(latest.values(), key=lambda c: c.key)


def _engagement_of(arn: str) -> str:
    # ``...:catalog/Sandbox/engagement/eng-.../resource/...``
    parts = arn.split("/")
    return parts[parts.index("engagement") + 1] if "engagement" in parts[:-1] else ""


def _who(account: str) -> str:
    return "AWS" if account == AWS_ACCOUNT else f"partner account {account}" if account else "a member"


def aws_resource(c: Candidate, snapshot: dict[str, Any] | None, console_url: str, now: str) -> Resource:
    """Pure: the resource a candidate is, from its ``GetResourceSnapshot`` answer when it is a snapshot."""
    payload = (snapshot or {}).get("Payload") or {}
    view = payload.get("AwsOpportunitySummaryFullView") or payload.get("OpportunitySummary") or {}
    company = ((view.get("Customer") or {}).get("Account") or {}).get("CompanyName")
    use_case = (view.get("Project") or {}).get("CustomerUseCase")
    kind = _TEMPLATE_TYPES.get(c.template, c.template or c.resource_type)
    title = f"{kind}: {c.resource_id}" + (f" ({company})" if company else "")
    what = f"revision {c.revision} of a snapshot" if c.template else "a resource associated"
    description = f"{what} shared by {_who(c.created_by)} in engagement {c.engagement_id}"
    created = (snapshot or {}).get("CreatedAt")
    return Resource(
        id=resource_id(c.key),
        type=kind,
        title=title,
        source="AWS",
        uploadDate=created.isoformat() if isinstance(created, datetime) else str(created or now),
        url=f"{console_url.rstrip('/')}/engagements/{c.engagement_id}/resources/{c.resource_type}/{c.resource_id}",
        description=description + (f". Use case: {use_case}" if use_case else ""),
        engagementId=c.engagement_id,
        sharedBy=c.created_by,
        snapshotArn=str((snapshot or {}).get("Arn") or ""),
    )


def note_text(r: Resource, headline: str, when: str) -> str:
    """The seed's note format (seed 001 §3): headline with the title, type, description, link, when."""
    lines = [f"{headline}: {r.title}", "", f"**Type:** {r.type}"]
    if r.description:
        lines += ["", f"**Description:** {r.description}"]
    lines += ["", f"**Link:** {r.url}", "", f"*{when}*"]
    return "\n".join(lines)


def icon(r: Resource) -> str:
    return _ICONS.get(r.type, "📄")


def resource_properties(state: DealResources) -> dict[str, str]:
    """Pure: ``aws_synced_resources`` (AWS resource ids), ``aws_partner_resources`` (JSON of the partner's),
    ``aws_total_resources`` (both)."""
    aws = [r for r in state.resources if r.source == "AWS"]
    partner = [
        r.model_dump(include={"id", "type", "title", "url", "uploadDate", "tags"})
        for r in state.resources
        if r.source == "Partner"
    ]
    return {
        "aws_synced_resources": ",".join(r.id for r in aws),
        "aws_partner_resources": json.dumps(partner) if partner else "",
        "aws_total_resources": str(len(state.resources)),
    }
