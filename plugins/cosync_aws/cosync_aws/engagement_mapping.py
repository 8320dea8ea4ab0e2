"""Pure mapping of an engagement (seed 002 §2) onto its deal: properties and timeline entries, no I/O.

What the Selling API gives (botocore's ``partnercentral-selling`` model, and
https://docs.aws.amazon.com/partner-central/latest/APIReference/API_GetEngagement.html,
https://docs.aws.amazon.com/partner-central/latest/APIReference/API_ListEngagementMembers.html):
an engagement has a title, ``CreatedAt``/``ModifiedAt`` and ``Contexts`` (``CustomerProject`` with the project's
``TargetCompletionDate``, ``Lead``, ``ProspectingResult``); its members are AWS accounts (``AccountId``,
``CompanyName``), not people. It has no status and no milestones, so the seed's Active/Completed/Cancelled is
derived from the stage of the opportunity it is about, its kickoff is ``CreatedAt`` and its close date the
project's target completion date.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "ENGAGEMENT_PROPERTIES",
    "EngagementView",
    "Member",
    "engagement_properties",
    "engagement_view",
    "status_of",
    "timeline",
]

ENGAGEMENT_PROPERTIES = (
    "aws_engagement_id",
    "aws_engagement_status",
    "aws_engagement_team",
    "aws_engagement_kickoff_date",
    "aws_engagement_close_date",
    "aws_engagement_context",
)
AWS_COMPANY = "Amazon Web Services"
MAX_CONTEXT = 5000


class Member(BaseModel):
    account_id: str = ""
    company_name: str = ""
    website_url: str = ""


class EngagementView(BaseModel):
    """What cosync keeps of an engagement, and what ``GET /engagements/{opportunityId}`` answers."""

    engagement_id: str = ""
    title: str = ""
    status: str = "Active"
    cancel_reason: str = ""
    members: list[Member] = Field(default_factory=list)
    kickoff_date: str = ""
    close_date: str = ""
    context: str = ""
    modified_at: str = ""


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value or "")[:10]


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value or "")


def status_of(stage: str | None) -> str:
    """Partner Central has no engagement status: a launched opportunity completed it, a lost one cancelled it."""
    if stage == "Launched":
        return "Completed"
    if stage == "Closed Lost":
        return "Cancelled"
    return "Active"


def _context_text(contexts: list[dict[str, Any]]) -> tuple[str, str]:
    """The contexts as one readable text, and the project's target completion date."""
    lines: list[str] = []
    target = ""
    for ctx in contexts:
        payload = ctx.get("Payload") or {}
        project = (payload.get("CustomerProject") or {}).get("Project") or {}
        if project:
            target = target or str(project.get("TargetCompletionDate") or "")
            parts = [str(project.get(k)) for k in ("Title", "BusinessProblem") if project.get(k)]
            lines.append("Customer project: " + " - ".join(parts))
        elif payload:
            lines.append(f"{ctx.get('Type') or next(iter(payload))} context")
    return "\n".join(lines)[:MAX_CONTEXT], target


def engagement_view(
    engagement: dict[str, Any],
    members: list[dict[str, Any]],
    stage: str | None = None,
    cancel_reason: str | None = None,
) -> EngagementView:
    """Pure: the view of a ``GetEngagement`` answer and its ``ListEngagementMembers`` list."""
    context, target = _context_text(engagement.get("Contexts") or [])
    status = status_of(stage)
    return EngagementView(
        engagement_id=str(engagement.get("Id") or ""),
        title=str(engagement.get("Title") or ""),
        status=status,
        cancel_reason=str(cancel_reason or "") if status == "Cancelled" else "",
        members=[
            Member(
                account_id=str(m.get("AccountId") or ""),
                company_name=str(m.get("CompanyName") or ""),
                website_url=str(m.get("WebsiteUrl") or ""),
            )
            for m in members
        ],
        kickoff_date=_date(engagement.get("CreatedAt")),
        close_date=target[:10],
        context=context,
        modified_at=_iso(engagement.get("ModifiedAt")),
    )


def _member_label(m: Member) -> str:
    return f"{m.company_name or 'Unnamed member'} ({m.account_id})" if m.account_id else m.company_name


def engagement_properties(view: EngagementView) -> dict[str, str]:
    """Pure: the deal's ``aws_engagement_*`` properties (team: the member accounts, both sides)."""
    return {
        "aws_engagement_id": view.engagement_id,
        "aws_engagement_status": view.status,
        "aws_engagement_team": ", ".join(_member_label(m) for m in view.members),
        "aws_engagement_kickoff_date": view.kickoff_date,
        "aws_engagement_close_date": view.close_date,
        "aws_engagement_context": view.context,
    }


def timeline(old: EngagementView | None, new: EngagementView) -> list[tuple[str, str]]:
    """Pure: ``(change key, note text)`` for each entry the change puts on the deal's timeline (seed 002 §2).
    The key names the change itself, so a redelivered event or a re-read engagement maps to the same entry."""
    eid = new.engagement_id
    entries: list[tuple[str, str]] = []
    if old is None or old.engagement_id != eid:
        entries.append((f"{eid}:started", f"🚀 AWS Engagement Started: {new.title or eid}"))
    known = {m.account_id for m in old.members} if old is not None and old.engagement_id == eid else set()
    for m in new.members:
        if m.account_id and m.account_id not in known:
            name = "AWS" if m.company_name == AWS_COMPANY else m.company_name or m.account_id
            entries.append((f"{eid}:member:{m.account_id}", f"👤 {name} joined the engagement team"))
    if old is not None and old.engagement_id == eid and new.close_date and old.close_date != new.close_date:
        entries.append(
            (
                f"{eid}:close:{new.close_date}",
                f"🎯 Engagement milestone: target completion {new.close_date}",
            )
        )
    if (old is None or old.status != new.status) and new.status != "Active":
        if new.status == "Completed":
            entries.append((f"{eid}:status:Completed", "✅ AWS Engagement Completed"))
        else:
            reason = f": {new.cancel_reason}" if new.cancel_reason else ""
            entries.append((f"{eid}:status:Cancelled", f"❌ AWS Engagement Cancelled{reason}"))
    return entries
