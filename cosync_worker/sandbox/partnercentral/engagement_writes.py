"""The partner's writes to engagements: create one, add and change its contexts, invite another partner,
turn a lead context into an opportunity; and the engagement ↔ resource associations.

* CreateEngagement "automatically adds the caller's AWS account as an active member"; its contexts are
  ``CustomerProject`` or ``Lead`` (``ProspectingResult`` contexts come from AWS's prospecting task)
  (https://docs.aws.amazon.com/partner-central/latest/APIReference/API_CreateEngagement.html).
* UpdateEngagementContext locks optimistically on ``EngagementLastModifiedAt``: a stale value is a
  ConflictException (https://docs.aws.amazon.com/partner-central/latest/APIReference/API_UpdateEngagementContext.html).
* StartOpportunityFromEngagementTask "creates an opportunity from an existing engagement context"; a
  CustomerProject context or a disqualified lead fails the task with the model's ReasonCodes
  ``CustomerProjectContextNotPermitted`` / ``DisqualifiedLeadNotPermitted``, an unknown context with
  ``ContextNotFound``
  (https://docs.aws.amazon.com/partner-central/latest/APIReference/API_StartOpportunityFromEngagementTask.html).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .engagements import complete_with_opportunity, list_tasks, new_task, pending_invitation
from .opportunities import new_opportunity
from .protocol import ApiError, FieldError, conflict, service_model, validation_error
from .records import (
    PARTNER_COMPANY,
    add_context,
    add_member,
    find_engagement,
    new_engagement,
)
from .state import CatalogState, page

if TYPE_CHECKING:
    from .app import PartnerCentralEmulator

__all__ = ["HANDLERS", "check_payload", "update_context"]

PARTNER_CONTEXT_TYPES = ("CustomerProject", "Lead")


def check_payload(kind: str, payload: dict[str, Any], field: str = "Payload") -> None:
    """The payload is a union: exactly the member named by the context's type."""
    members = sorted(k for k, v in payload.items() if v is not None)
    if members != [kind]:
        raise validation_error(
            f"{field} must hold exactly one member, {kind!r} (the context's Type); got {members or 'none'}",
            [FieldError(field, f"must be the {kind} member only", "INVALID_VALUE")],
        )


def _partner_context(kind: str, payload: dict[str, Any], field: str) -> None:
    if kind not in PARTNER_CONTEXT_TYPES:
        raise validation_error(
            f"A partner cannot create a {kind} context; use one of {', '.join(PARTNER_CONTEXT_TYPES)}",
            [FieldError(field, f"{kind} contexts are created by AWS", "INVALID_VALUE")],
        )
    check_payload(kind, payload, f"{field}.Payload")


def update_context(
    store: CatalogState, engagement: dict[str, Any], context_id: str, payload: dict[str, Any], by: str
) -> dict[str, Any]:
    """Apply an ``UpdateEngagementContextPayload`` (already checked against the context's type)."""
    context = next((c for c in engagement["Contexts"] if c["Id"] == context_id), None)
    if context is None:
        raise ApiError(
            "ResourceNotFoundException", f"Engagement {engagement['Id']} has no context {context_id!r}"
        )
    kind = context["Type"]
    check_payload(kind, payload)
    if kind == "Lead":
        update, lead = payload["Lead"], context["Payload"].setdefault("Lead", {})
        lead["Customer"] = copy.deepcopy(update["Customer"])
        for key in ("QualificationStatus", "Insights"):
            if update.get(key) is not None:
                lead[key] = copy.deepcopy(update[key])
        if update.get("Interaction"):  # an update adds one interaction; the list keeps the model's 10
            lead["Interactions"] = [*lead.get("Interactions", []), copy.deepcopy(update["Interaction"])][-10:]
    else:
        context["Payload"] = copy.deepcopy(payload)
    store.touch(engagement, "ModifiedAt")
    engagement["ModifiedBy"] = by
    return context


# -- operations ---------------------------------------------------------------------------------------
async def create_engagement(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    store = em.catalog(p["Catalog"])
    token_key = ("CreateEngagement", p["ClientToken"])
    if token_key in store.client_tokens:
        return store.engagements[store.client_tokens[token_key]]
    # The model leaves Title and Description optional; the API reference requires both (Description may be
    # empty: its minimum length is 0, Title's is 1).
    missing = [k for k in ("Title", "Description") if p.get(k) is None or (k == "Title" and not p[k])]
    if missing:
        raise validation_error(
            f"Missing required field(s): {', '.join(missing)}",
            [FieldError(k, "is required", "REQUIRED_FIELD_MISSING") for k in missing],
            reason="REQUEST_VALIDATION_FAILED",
        )
    contexts = p.get("Contexts") or []
    for i, context in enumerate(contexts):
        _partner_context(context["Type"], context.get("Payload") or {}, f"Contexts[{i}]")
    record = new_engagement(
        em,
        store,
        p["Title"],
        p["Description"],
        em.account_id,
        [{"Type": c["Type"], "Payload": copy.deepcopy(c["Payload"])} for c in contexts],
    )
    add_member(store, record, em.account_id, *PARTNER_COMPANY)
    store.client_tokens[token_key] = record["Id"]
    return record


def _context_answer(engagement: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    return {
        "EngagementId": engagement["Id"],
        "EngagementArn": engagement["Arn"],
        "EngagementLastModifiedAt": engagement["ModifiedAt"],
        "ContextId": context["Id"],
    }


async def create_engagement_context(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    store = em.catalog(p["Catalog"])
    engagement = find_engagement(em, store.name, p["EngagementIdentifier"])
    token_key = ("CreateEngagementContext", p["ClientToken"])
    if token_key in store.client_tokens:
        context_id = store.client_tokens[token_key]
        return _context_answer(engagement, next(c for c in engagement["Contexts"] if c["Id"] == context_id))
    _partner_context(p["Type"], p["Payload"], "Type")
    context = add_context(store, engagement, p["Type"], copy.deepcopy(p["Payload"]), em.account_id)
    store.client_tokens[token_key] = context["Id"]
    return _context_answer(engagement, context)


async def update_engagement_context(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    store = em.catalog(p["Catalog"])
    engagement = find_engagement(em, store.name, p["EngagementIdentifier"])
    if p["EngagementLastModifiedAt"] != engagement["ModifiedAt"]:
        raise conflict(
            f"Engagement {engagement['Id']} was modified at {engagement['ModifiedAt'].isoformat()}; "
            "read it again with GetEngagement and retry with its ModifiedAt"
        )
    context = next((c for c in engagement["Contexts"] if c["Id"] == p["ContextIdentifier"]), None)
    if context is not None and context["Type"] != p["Type"]:
        raise validation_error(
            f"Context {context['Id']} is a {context['Type']} context, not {p['Type']}",
            [FieldError("Type", f"must be {context['Type']}", "INVALID_VALUE")],
        )
    context = update_context(store, engagement, p["ContextIdentifier"], p["Payload"], em.account_id)
    return _context_answer(engagement, context)


async def create_engagement_invitation(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    store = em.catalog(p["Catalog"])
    token_key = ("CreateEngagementInvitation", p["ClientToken"])
    if token_key in store.client_tokens:
        return store.invitations[store.client_tokens[token_key]]
    engagement = find_engagement(em, store.name, p["EngagementIdentifier"])
    invitation_in = p["Invitation"]
    payload = invitation_in["Payload"]
    kinds = sorted(k for k, v in payload.items() if v is not None)
    if len(kinds) != 1:
        raise validation_error(
            "Invitation.Payload must hold exactly one of OpportunityInvitation, LeadInvitation",
            [FieldError("Invitation.Payload", "exactly one member", "INVALID_VALUE")],
        )
    receiver = (invitation_in["Receiver"].get("Account") or {}).get("AwsAccountId")
    if not receiver:
        raise validation_error(
            "Invitation.Receiver.Account.AwsAccountId is required",
            [FieldError("Invitation.Receiver.Account.AwsAccountId", "is required", "REQUIRED_FIELD_MISSING")],
        )
    if any(m["AccountId"] == receiver for m in engagement["Members"]):
        raise conflict(f"Account {receiver} is already a member of engagement {engagement['Id']}")
    for other in store.invitations.values():
        if (other["EngagementId"], other["Status"], other["ParticipantType"]) == (
            engagement["Id"],
            "PENDING",
            "SENDER",
        ) and other["Receiver"]["Account"]["AwsAccountId"] == receiver:
            raise conflict(f"Invitation {other['Id']} to {receiver} for {engagement['Id']} is still PENDING")
    invitation = pending_invitation(
        em,
        store,
        engagement,
        PayloadType=kinds[0],
        SenderAwsAccountId=em.account_id,
        SenderCompanyName=PARTNER_COMPANY[0],
        Receiver=copy.deepcopy(invitation_in["Receiver"]),
        ParticipantType="SENDER",
        InvitationMessage=invitation_in["Message"],
        ExistingMembers=[
            {"CompanyName": m["CompanyName"], "WebsiteUrl": m["WebsiteUrl"]} for m in engagement["Members"]
        ],
        Payload=copy.deepcopy(payload),
    )
    store.client_tokens[token_key] = invitation["Id"]
    return invitation


async def list_engagement_resource_associations(
    em: PartnerCentralEmulator, p: dict[str, Any]
) -> dict[str, Any]:
    store = em.catalog(p["Catalog"])
    if p.get("EngagementIdentifier"):
        find_engagement(em, store.name, p["EngagementIdentifier"])
    items = store.associations
    for key, field in (
        ("EngagementIdentifier", "EngagementId"),
        ("ResourceType", "ResourceType"),
        ("ResourceIdentifier", "ResourceId"),
        ("CreatedBy", "CreatedBy"),
    ):
        if p.get(key):
            items = [a for a in items if a[field] == p[key]]
    chunk, token = page(list(items), p)
    return {"EngagementResourceAssociationSummaries": chunk, "NextToken": token}


def _lead_opportunity(engagement: dict[str, Any], lead: dict[str, Any]) -> dict[str, Any]:
    """CreateOpportunity-shaped input from a lead context (the lead's free-text industry kept if AWS's)."""
    customer = lead.get("Customer") or {}
    interactions = lead.get("Interactions") or []
    problem = next((i["BusinessProblem"] for i in reversed(interactions) if i.get("BusinessProblem")), None)
    industries = service_model().shape_for("Industry").enum  # type: ignore[attr-defined]
    address = customer.get("Address") or {}
    contacts = [i["Contact"] for i in interactions if i.get("Contact")][-1:]
    return {
        "Origin": "Partner Referral",
        "Customer": {
            "Account": {
                "CompanyName": customer.get("CompanyName"),
                "Industry": customer.get("Industry") if customer.get("Industry") in industries else "Other",
                "WebsiteUrl": customer.get("WebsiteUrl"),
                "Address": {k: v for k, v in address.items() if k in ("City", "CountryCode", "PostalCode")},
            },
            "Contacts": [
                {k: c[k] for k in ("Email", "FirstName", "LastName", "BusinessTitle", "Phone") if c.get(k)}
                for c in contacts
            ],
        },
        "Project": {
            "Title": engagement["Title"],
            "CustomerBusinessProblem": problem or engagement["Description"],
        },
        "LifeCycle": {"Stage": "Prospect"},
    }


async def start_opportunity_from_engagement_task(
    em: PartnerCentralEmulator, p: dict[str, Any]
) -> dict[str, Any]:
    store = em.catalog(p["Catalog"])
    token_key = ("StartOpportunityFromEngagementTask", p["ClientToken"])
    if token_key in store.client_tokens:
        return store.from_engagement_tasks[store.client_tokens[token_key]]
    engagement = find_engagement(em, store.name, p["Identifier"])
    context_id = p["ContextIdentifier"]
    for other in store.from_engagement_tasks.values():
        if (other["EngagementId"], other["ContextId"]) == (engagement["Id"], context_id) and other[
            "TaskStatus"
        ] != "FAILED":
            raise conflict(
                f"Context {context_id} of {engagement['Id']} already has an opportunity task ({other['TaskId']})"
            )
    task = new_task(
        em,
        store.name,
        "opportunity-from-engagement-task",
        EngagementId=engagement["Id"],
        ContextId=context_id,
    )
    store.from_engagement_tasks[task["TaskId"]] = task
    store.client_tokens[token_key] = task["TaskId"]

    def fail(reason: str, message: str) -> None:
        task.update(TaskStatus="FAILED", ReasonCode=reason, Message=message)

    async def finish() -> None:
        context = next((c for c in engagement["Contexts"] if c["Id"] == context_id), None)
        if context is None:
            return fail("ContextNotFound", f"Engagement {engagement['Id']} has no context {context_id}")
        if context["Type"] != "Lead":
            return fail(
                "CustomerProjectContextNotPermitted",
                f"Context {context_id} is a {context['Type']} context; only a Lead context makes an opportunity",
            )
        lead = context["Payload"].get("Lead") or {}
        if str(lead.get("QualificationStatus", "")).lower() == "disqualified":
            return fail("DisqualifiedLeadNotPermitted", f"The lead of context {context_id} is disqualified")
        record = new_opportunity(em, store, _lead_opportunity(engagement, lead))
        await complete_with_opportunity(em, engagement, record, task)

    em.run_later(finish, task)
    return task


async def list_opportunity_from_engagement_tasks(
    em: PartnerCentralEmulator, p: dict[str, Any]
) -> dict[str, Any]:
    filters = {
        "TaskIdentifier": "TaskId",
        "OpportunityIdentifier": "OpportunityId",
        "EngagementIdentifier": "EngagementId",
        "ContextIdentifier": "ContextId",
    }
    # These filters take ARNs as well as bare ids.
    bare = {k: [i.rsplit("/", 1)[-1] for i in p[k]] for k in filters if p.get(k)}
    return list_tasks(em.catalog(p["Catalog"]).from_engagement_tasks, {**p, **bare}, filters)


HANDLERS = {
    "CreateEngagement": create_engagement,
    "CreateEngagementContext": create_engagement_context,
    "UpdateEngagementContext": update_engagement_context,
    "CreateEngagementInvitation": create_engagement_invitation,
    "ListEngagementResourceAssociations": list_engagement_resource_associations,
    "StartOpportunityFromEngagementTask": start_opportunity_from_engagement_task,
    "ListOpportunityFromEngagementTasks": list_opportunity_from_engagement_tasks,
}
