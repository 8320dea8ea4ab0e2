"""Flow 5: the deal's owner in HubSpot becomes the opportunity's partner assignee (``AssignOpportunity``,
https://docs.aws.amazon.com/partner-central/latest/APIReference/API_AssignOpportunity.html), and
``aws_assigned_partner_user`` on the deal says who it is."""

from __future__ import annotations

from typing import Any

from cosync_worker.logs import get_logger

from . import audit, pushes
from .client import PartnerCentralError, Priority
from .deal_jobs import run_deal_job
from .deps import Deps
from .state import setting

__all__ = ["OWNER_TITLE", "assign_job", "assign_owner"]

# botocore's ``AssigneeContact.BusinessTitle`` for the opportunity's owner (what AssignOpportunity changes).
OWNER_TITLE = "PartnerAccountManager"
_JOB_ERRORS = {
    "no-opportunity": "the deal has no AWS opportunity yet",
    "no-owner": "the HubSpot owner is gone or has no email",
    "error": "AWS refused the assignment (the deal's aws_sync_error says why)",
}

log = get_logger("cosync.aws")


async def assign_owner(
    deps: Deps, deal_id: str, owner_id: str | None, business_title: str = OWNER_TITLE
) -> str:
    """Returns ``"assigned"``, ``"unchanged"``, ``"no-opportunity"``, ``"no-owner"`` or ``"error"``."""
    state = (await deps.deals.read(deal_id)).value
    opp_id = state.opportunity_id
    if not opp_id:
        return "no-opportunity"
    owner = await deps.hs.owner(owner_id) if owner_id else None
    if owner is None or not owner.get("email"):
        return "no-owner"
    email = str(owner["email"])
    if state.assignee == email:
        if not state.assignee_shown:  # assigned, and the deal's write failed: the retry finishes it
            await _show(deps, deal_id, email)
        return "unchanged"
    assignee = {
        "Email": email,
        "FirstName": str(owner.get("firstName") or email.split("@")[0]),
        "LastName": str(owner.get("lastName") or "-"),
        "BusinessTitle": business_title,
    }
    try:
        await deps.pc.call("AssignOpportunity", Priority.UPDATE, Identifier=opp_id, Assignee=assignee)
    except PartnerCentralError as exc:
        if exc.code in ("ValidationException", "ResourceNotFoundException", "AccessDeniedException"):
            await pushes.update_deal(
                deps,
                deal_id,
                {"aws_sync_status": "error", "aws_sync_error": f"AssignOpportunity: {exc.message}"},
            )
            return "error"
        raise
    # The state and the trail first: whoever sees the deal's new assignee finds the entry on the audit trail,
    # and a deal write that fails is finished by the retry (``assignee_shown``) without a second assignment.
    await deps.deals.update(deal_id, setting(assignee=email, assignee_shown=False))
    await audit.record(
        deps.store,
        str(opp_id),
        "assign_opportunity",
        audit.SYSTEM_PC,
        deal_id,
        ["hubspot.owners.get", "AssignOpportunity", "hubspot.deals.update"],
        assignee=email,
        business_title=business_title,
        changes={"aws_assigned_partner_user": {"old": state.assignee, "new": email}},
    )
    await _show(deps, deal_id, email)
    log.info("aws_assigned", deal_id=deal_id, opportunity_id=opp_id)
    return "assigned"


async def _show(deps: Deps, deal_id: str, email: str) -> None:
    await pushes.update_deal(deps, deal_id, {"aws_assigned_partner_user": email})
    await deps.deals.update(deal_id, setting(assignee_shown=True))


async def assign_job(deps: Deps, payload: dict[str, Any]) -> str:
    """``POST /assign-opportunity``'s job: assign, and report how it went at ``GET /jobs/{id}``."""
    title = str(payload.get("business_title") or OWNER_TITLE)
    return await run_deal_job(
        deps.store,
        payload,
        lambda deal_id: assign_owner(deps, deal_id, payload.get("owner_id"), title),
        _JOB_ERRORS,
    )
