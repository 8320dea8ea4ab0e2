"""Engagement records shared by the operation modules and the operator API.

An engagement holds up to 5 contexts and 10 members (the model's ``EngagementContexts`` and
``EngagementMembers`` maxima); context ids are small integers as strings, which fit both the
``EngagementContextIdentifier`` pattern ``.{1,3}`` and StartOpportunityFromEngagementTask's
``ContextIdentifier`` pattern ``[1-9][0-9]*``
(https://docs.aws.amazon.com/partner-central/latest/APIReference/API_StartOpportunityFromEngagementTask.html).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .protocol import ApiError, not_found, now_ms
from .state import CatalogState, new_suffix

if TYPE_CHECKING:
    from .app import PartnerCentralEmulator

__all__ = [
    "AWS_ACCOUNT",
    "AWS_MEMBER",
    "MAX_CONTEXTS",
    "MAX_MEMBERS",
    "PARTNER_COMPANY",
    "add_context",
    "add_member",
    "associate",
    "find_engagement",
    "find_job",
    "invitation_arn",
    "new_engagement",
    "quota_exceeded",
]

AWS_ACCOUNT = "aws"  # how the emulator names AWS as an engagement member and sender (fits ``\w{1,12}``)
AWS_MEMBER = (AWS_ACCOUNT, "Amazon Web Services", "https://aws.amazon.com")
PARTNER_COMPANY = ("Sandbox Partner", "https://partner.example.com")  # the caller's own company
MAX_CONTEXTS = 5
MAX_MEMBERS = 10


def quota_exceeded(message: str) -> ApiError:
    return ApiError("ServiceQuotaExceededException", message)


def find_engagement(em: PartnerCentralEmulator, catalog: str, ident: str) -> dict[str, Any]:
    """By id or ARN (the ARN ends in the id)."""
    store = em.catalog(catalog)
    record = store.engagements.get(ident.rsplit("/", 1)[-1])
    if record is None:
        raise not_found("Engagement", ident, store.name)
    return record


def find_job(em: PartnerCentralEmulator, catalog: str, ident: str) -> dict[str, Any]:
    store = em.catalog(catalog)
    job = store.snapshot_jobs.get(ident)
    if job is None:
        raise not_found("Resource snapshot job", ident, store.name)
    return job


def invitation_arn(em: PartnerCentralEmulator, catalog: str, ident: str) -> str:
    # The model's EngagementInvitationArn pattern has no region and no "catalog/" segment.
    return f"arn:aws:partnercentral::{em.account_id}:{catalog}/engagement-invitation/{ident}"


def _touch(store: CatalogState, record: dict[str, Any], by: str) -> None:
    store.touch(record, "ModifiedAt")
    record["ModifiedBy"] = by


def add_context(
    store: CatalogState, record: dict[str, Any], kind: str, payload: dict[str, Any], by: str
) -> dict[str, Any]:
    if len(record["Contexts"]) >= MAX_CONTEXTS:
        raise quota_exceeded(f"Engagement {record['Id']} already has {MAX_CONTEXTS} contexts, the maximum")
    ident = str(1 + max((int(c["Id"]) for c in record["Contexts"]), default=0))
    context = {"Id": ident, "Type": kind, "Payload": payload}
    record["Contexts"].append(context)
    record["ContextTypes"] = sorted({c["Type"] for c in record["Contexts"]})
    _touch(store, record, by)
    return context


def new_engagement(
    em: PartnerCentralEmulator,
    store: CatalogState,
    title: str,
    description: str,
    created_by: str,
    contexts: list[dict[str, Any]],
) -> dict[str, Any]:
    """A stored engagement; ``contexts`` are ``{"Type", "Payload"}`` items, numbered from 1."""
    eng_id = f"eng-{new_suffix(14)}"
    now = now_ms()
    record: dict[str, Any] = {
        "Id": eng_id,
        "Arn": em.arn(store.name, "engagement", eng_id),
        "Title": title[:40],
        "Description": description[:255],
        "CreatedAt": now,
        "CreatedBy": created_by,
        "ModifiedAt": now,
        "ModifiedBy": created_by,
        "ContextTypes": [],
        "Contexts": [],
        "Members": [],
        "MemberCount": 0,
        "Opportunities": [],
    }
    for context in contexts:
        add_context(store, record, context["Type"], context["Payload"], created_by)
    record["ModifiedAt"] = now
    store.engagements[eng_id] = record
    return record


def add_member(store: CatalogState, record: dict[str, Any], account: str, company: str, website: str) -> bool:
    """Add a member once; False when the account already is one."""
    if any(m["AccountId"] == account for m in record["Members"]):
        return False
    if len(record["Members"]) >= MAX_MEMBERS:
        raise quota_exceeded(f"Engagement {record['Id']} already has {MAX_MEMBERS} members, the maximum")
    record["Members"].append({"AccountId": account, "CompanyName": company, "WebsiteUrl": website})
    record["MemberCount"] = len(record["Members"])
    _touch(store, record, account)
    return True


def associate(store: CatalogState, record: dict[str, Any], opportunity_id: str, by: str) -> None:
    """An engagement resource association (what ListEngagementResourceAssociations answers)."""
    if opportunity_id in record["Opportunities"]:
        return
    record["Opportunities"].append(opportunity_id)
    store.associations.append(
        {
            "Catalog": store.name,
            "EngagementId": record["Id"],
            "ResourceType": "Opportunity",
            "ResourceId": opportunity_id,
            "CreatedBy": by,
            "CreatedAt": now_ms(),
        }
    )
