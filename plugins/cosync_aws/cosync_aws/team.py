"""Seed 002 §3, the opportunity team: people added to or removed from a deal's team, and what AWS can hold.

Partner Central carries a partner's people in two places only: ``OpportunityTeam`` at ``CreateOpportunity``
(``UpdateOpportunity`` has none: https://docs.aws.amazon.com/partner-central/latest/APIReference/API_UpdateOpportunity.html)
and the one assignee ``AssignOpportunity`` replaces
(https://docs.aws.amazon.com/partner-central/latest/APIReference/API_AssignOpportunity.html). Engagement
members and invitations are AWS accounts, not people. So a member with an assignee role reaches AWS as the
assignee; any other member is kept by cosync and on the deal, and the answer says so. After each change the
team AWS holds (``GetOpportunity``'s ``OpportunityTeam``) is read back and shown beside it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from cosync_worker.connector import BoundState
from cosync_worker.hooks import NoticeKindSpec
from cosync_worker.notify import Notice, Verdict
from cosync_worker.store import Store

from . import pushes
from .client import Priority
from .deps import Deps
from .hubspot_side import note_once

__all__ = [
    "ASSIGNEE_ROLES",
    "REASSIGNED_KINDS",
    "TeamAnswer",
    "TeamMember",
    "TeamState",
    "change_team",
    "owner_reassigned",
    "team_state",
]

# The seed's manual assignment role: the person AWS contacts on the partner's side.
ASSIGNEE_ROLES = frozenset({"Primary Contact", "Assignee", "Opportunity Owner"})
NOT_CARRIED = (
    "Partner Central keeps a partner's team only at creation and one assignee afterwards "
    "(UpdateOpportunity has no OpportunityTeam); this member is kept by cosync and on the deal"
)


class TeamMember(BaseModel):
    email: str
    name: str = ""
    role: str = ""
    source: str = "HubSpot"  # or "AWS": read back from the opportunity's OpportunityTeam


class TeamState(BaseModel):
    members: list[TeamMember] = Field(default_factory=list)


class TeamAnswer(BaseModel):
    dealId: str  # the seed's names
    memberEmail: str
    changed: bool
    reachedAws: bool
    awsOperation: str | None = None
    detail: str
    team: list[TeamMember]


def team_state(store: Store) -> BoundState[TeamState]:
    return BoundState(store, TeamState, "aws:team")


async def _name(deps: Deps, email: str) -> tuple[str, str, str]:
    """(display name, first, last) of a HubSpot owner with this email, else from the address."""
    found = await deps.hs.request(
        "GET", "/crm/v3/owners/", params={"email": email}, template="GET /crm/v3/owners/"
    )
    owner: dict[str, Any] = next(iter((found or {}).get("results") or []), {})
    first = str(owner.get("firstName") or email.split("@")[0])
    last = str(owner.get("lastName") or "-")
    return " ".join(p for p in (owner.get("firstName"), owner.get("lastName")) if p) or email, first, last


def _aws_team(record: dict[str, Any]) -> list[TeamMember]:
    return [
        TeamMember(
            email=str(c.get("Email") or ""),
            name=" ".join(p for p in (c.get("FirstName"), c.get("LastName")) if p),
            role=str(c.get("BusinessTitle") or ""),
            source="AWS",
        )
        for c in record.get("OpportunityTeam") or []
        if c.get("Email")
    ]


async def change_team(
    deps: Deps, deal_id: str, opp_id: str, email: str, role: str | None, *, add: bool
) -> TeamAnswer:
    """Add (``role`` given) or remove a member; returns what changed and what reached AWS."""
    email = email.strip().lower()
    states = team_state(deps.store)
    current = (await states.read(deal_id)).value
    present = any(m.email == email for m in current.members)
    name, first, last = await _name(deps, email)
    reached, operation, detail = False, None, NOT_CARRIED
    if add and role in ASSIGNEE_ROLES:
        assignee = {
            "Email": email,
            "FirstName": first,
            "LastName": last,
            "BusinessTitle": "PartnerAccountManager",
        }
        await deps.pc.call("AssignOpportunity", Priority.UPDATE, Identifier=opp_id, Assignee=assignee)
        reached, operation, detail = True, "AssignOpportunity", "assigned the opportunity to this member"
    elif not add:
        detail = "removed from cosync's team; Partner Central has no operation removing a team member"
    member = TeamMember(email=email, name=name, role=role or "")

    def changed(st: TeamState) -> TeamState:
        others = [m for m in st.members if m.email != email]
        return TeamState(members=[*others, member] if add else others)

    team = (await states.update(deal_id, changed)).value.members
    record = await deps.pc.call("GetOpportunity", Priority.BACKGROUND, Identifier=opp_id)
    shown = [*team, *(m for m in _aws_team(record) if m.email not in {t.email for t in team})]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    await pushes.update_deal(
        deps,
        deal_id,
        {"aws_opportunity_team": json.dumps([m.model_dump() for m in shown]), "aws_team_last_sync": now},
    )
    if add != present:
        verb = "joined" if add else "left"
        # Keyed by the team's version: one note per change, a redelivered request adds none.
        version = (await states.read(deal_id)).version
        await note_once(
            deps,
            "team",
            f"{deal_id}:{email}:{verb}:{version}",
            deal_id,
            f"👥 {name} {verb} the opportunity team",
        )
    return TeamAnswer(
        dealId=deal_id,
        memberEmail=email,
        changed=add != present,
        reachedAws=reached,
        awsOperation=operation,
        detail=detail,
        team=shown,
    )


def _reassigned_rule(name: str, notice: Any, settings: Any) -> Verdict:
    """``aws.opportunity_reassigned``: facts ``assignee_name``, ``assignee_email``, ``opportunity_id``."""
    who = notice.facts.get("assignee_name") or notice.facts.get("assignee_email") or "you"
    opp = notice.facts.get("opportunity_id")
    return Verdict(
        "MEDIUM",
        "🔄",
        f"{name} Opportunity Reassigned to {who}",
        (f"You are now the partner contact {name} sees for this opportunity.",)
        + ((f"Opportunity: {opp}",) if opp else ()),
        ("Review the opportunity", f"Introduce yourself to the {name} team"),
    )


# Seed 002 §3 step 7, "optionally notifies new assignee": a kind of the notification service, so its SNS
# channel (notify.channels.sns) carries it with the owner's id; off unless connectors.aws.notify_reassignment.
REASSIGNED_KINDS = NoticeKindSpec(
    "aws", "AWS", suffixes=(), rules={"opportunity_reassigned": _reassigned_rule}
)


async def owner_reassigned(deps: Deps, deal_id: str, owner_id: str | None, change: str) -> bool:
    """The deal's owner changed (seed 002 §3 step 5): "Opportunity reassigned to [Name]" once per change
    (``change``: the webhook's occurrence), and the notice to the new assignee when configured."""
    opp_id = (await deps.deals.read(deal_id)).value.opportunity_id
    owner = await deps.hs.owner(owner_id) if owner_id and opp_id else None
    if owner is None:
        return False  # no opportunity to reassign, or the owner was cleared or is gone
    email = str(owner.get("email") or "")
    name = " ".join(str(p) for p in (owner.get("firstName"), owner.get("lastName")) if p) or email or owner_id
    await note_once(
        deps, "reassigned", f"{deal_id}:{owner_id}:{change}", deal_id, f"🔄 Opportunity reassigned to {name}"
    )
    if deps.config.notify_reassignment and deps.notifier is not None:
        facts = {"assignee_name": name, "assignee_email": email, "opportunity_id": opp_id}
        await deps.notifier.notify(
            Notice("aws.opportunity_reassigned", deal_id, f"{owner_id}:{change}", facts)
        )
    return True
