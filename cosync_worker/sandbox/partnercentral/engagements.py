"""Engagements, engagement invitations (AWS referrals), the asynchronous engagement tasks and resource
snapshots.

Tasks answer ``IN_PROGRESS`` at once and finish ``task_seconds`` later with the ids they produced, as
StartEngagementByAcceptingInvitationTask and StartEngagementFromOpportunityTask do
(https://docs.aws.amazon.com/partner-central/latest/APIReference/API_StartEngagementByAcceptingInvitationTask.html,
https://docs.aws.amazon.com/partner-central/latest/APIReference/API_StartEngagementFromOpportunityTask.html).
Snapshots: https://docs.aws.amazon.com/partner-central/latest/APIReference/API_CreateResourceSnapshot.html
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .opportunities import apply_submission, check_submittable, find_opportunity, new_opportunity
from .protocol import ApiError, FieldError, conflict, not_found, now_ms, validation_error
from .state import CatalogState, new_suffix, page, sort_records

if TYPE_CHECKING:
    from .app import PartnerCentralEmulator

__all__ = ["HANDLERS", "SNAPSHOT_TEMPLATES", "create_invitation", "expire_invitation"]

AWS_SENDER = "aws"
INVITATION_TTL = timedelta(days=15)
SNAPSHOT_TEMPLATES = ("OpportunitySummaryView", "AwsOpportunitySummaryFullView")


def _invitation(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    store = em.catalog(p["Catalog"])
    ident = p["Identifier"].rsplit("/", 1)[-1]  # the ARN or the bare id
    record = store.invitations.get(ident)
    if record is None:
        raise not_found("Engagement invitation", p["Identifier"], store.name)
    return record


def _engagement(em: PartnerCentralEmulator, catalog: str, ident: str) -> dict[str, Any]:
    store = em.catalog(catalog)
    record = store.engagements.get(ident.rsplit("/", 1)[-1])
    if record is None:
        raise not_found("Engagement", ident, store.name)
    return record


def _new_engagement(
    em: PartnerCentralEmulator,
    store: CatalogState,
    title: str,
    description: str,
    created_by: str,
    customer: dict[str, Any],
    project: dict[str, Any],
) -> dict[str, Any]:
    eng_id = f"eng-{new_suffix(14)}"
    now = now_ms()
    record: dict[str, Any] = {
        "Id": eng_id,
        "Arn": em.arn(store.name, "engagement", eng_id),
        "Title": title[:40],
        "Description": description,
        "CreatedAt": now,
        "CreatedBy": created_by,
        "ModifiedAt": now,
        "ModifiedBy": created_by,
        "ContextTypes": ["CustomerProject"],
        "Contexts": [
            {
                "Id": "c-1",
                "Type": "CustomerProject",
                "Payload": {"CustomerProject": {"Customer": customer, "Project": project}},
            }
        ],
        "Members": [],
        "MemberCount": 0,
        "Opportunities": [],
    }
    store.engagements[eng_id] = record
    return record


def _add_member(record: dict[str, Any], account: str, company: str, website: str) -> None:
    record["Members"].append({"AccountId": account, "CompanyName": company, "WebsiteUrl": website})
    record["MemberCount"] = len(record["Members"])
    record["ModifiedAt"] = now_ms()
    record["ModifiedBy"] = account


async def create_invitation(
    em: PartnerCentralEmulator, catalog: str, customer: dict[str, Any], project: dict[str, Any]
) -> dict[str, Any]:
    """An AWS referral arriving (operator API): a new engagement and a PENDING invitation to it."""
    store = em.catalog(catalog)
    title = project.get("Title") or "AWS referral"
    eng_customer: dict[str, Any] = {
        k: customer[k] for k in ("Industry", "CompanyName", "WebsiteUrl", "CountryCode") if k in customer
    }
    target = (now_ms() + timedelta(days=90)).date().isoformat()
    engagement = _new_engagement(
        em,
        store,
        title,
        project.get("CustomerBusinessProblem", ""),
        AWS_SENDER,
        eng_customer,
        {
            "Title": title,
            "BusinessProblem": project.get("CustomerBusinessProblem", ""),
            "TargetCompletionDate": target,
        },
    )
    _add_member(engagement, AWS_SENDER, "Amazon Web Services", "https://aws.amazon.com")
    inv_id = f"engi-{new_suffix(13)}"
    now = now_ms()
    invitation = {
        "Catalog": store.name,
        "Id": inv_id,
        "Arn": em.arn(store.name, "engagement-invitation", inv_id),
        "PayloadType": "OpportunityInvitation",
        "EngagementId": engagement["Id"],
        "EngagementTitle": engagement["Title"],
        "EngagementDescription": engagement["Description"] or None,
        "Status": "PENDING",
        "InvitationDate": now,
        "ExpirationDate": now + INVITATION_TTL,
        "SenderAwsAccountId": AWS_SENDER,
        "SenderCompanyName": "Amazon Web Services",
        "Receiver": {"Account": {"AwsAccountId": em.account_id}},
        "ParticipantType": "RECEIVER",
        "InvitationMessage": f"AWS invites you to co-sell: {title}",
        "ExistingMembers": [{"CompanyName": "Amazon Web Services", "WebsiteUrl": "https://aws.amazon.com"}],
        "Payload": {
            "OpportunityInvitation": {
                "ReceiverResponsibilities": ["Co-Sell Facilitator"],
                "SenderContacts": [
                    {"Email": "aws-referrals@amazon.com", "FirstName": "AWS", "LastName": "Seller"}
                ],
                "Customer": eng_customer,
                "Project": {
                    "Title": title,
                    "BusinessProblem": project.get("CustomerBusinessProblem", ""),
                    "TargetCompletionDate": target,
                    "ExpectedCustomerSpend": copy.deepcopy(project.get("ExpectedCustomerSpend") or []),
                },
            }
        },
    }
    store.invitations[inv_id] = invitation
    await em.invitation_event("Engagement Invitation Created", invitation)
    return invitation


async def expire_invitation(em: PartnerCentralEmulator, catalog: str, ident: str) -> dict[str, Any]:
    invitation = _invitation(em, {"Catalog": catalog, "Identifier": ident})
    _require_pending(invitation)
    invitation["Status"] = "EXPIRED"
    await em.invitation_event("Engagement Invitation Expired", invitation)
    return invitation


def _require_pending(invitation: dict[str, Any]) -> None:
    if invitation["Status"] != "PENDING":
        raise conflict(f"Engagement invitation {invitation['Id']} is {invitation['Status']}, not PENDING")


async def _accept(em: PartnerCentralEmulator, invitation: dict[str, Any]) -> dict[str, Any]:
    invitation["Status"] = "ACCEPTED"
    engagement = em.catalog(invitation["Catalog"]).engagements[invitation["EngagementId"]]
    _add_member(engagement, em.account_id, "Sandbox Partner", "https://partner.example.com")
    await em.invitation_event("Engagement Invitation Accepted", invitation)
    await em.engagement_event("Engagement Member Joined", engagement, memberAccountId=em.account_id)
    return engagement


# -- operations ---------------------------------------------------------------------------------------
async def list_engagement_invitations(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    items = [
        i
        for i in em.catalog(p["Catalog"]).invitations.values()
        if i["ParticipantType"] == p["ParticipantType"]
    ]
    for key, field in (
        ("Status", "Status"),
        ("PayloadType", "PayloadType"),
        ("EngagementIdentifier", "EngagementId"),
        ("SenderAwsAccountId", "SenderAwsAccountId"),
    ):
        if p.get(key):
            items = [i for i in items if i.get(field) in p[key]]
    items = sort_records(
        items, p.get("Sort"), {"InvitationDate": lambda i: i["InvitationDate"]}, "InvitationDate"
    )
    chunk, token = page(items, p)
    return {"EngagementInvitationSummaries": chunk, "NextToken": token}


async def get_engagement_invitation(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    return _invitation(em, p)


async def accept_engagement_invitation(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    invitation = _invitation(em, p)
    _require_pending(invitation)
    await _accept(em, invitation)
    return {}


async def reject_engagement_invitation(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    invitation = _invitation(em, p)
    _require_pending(invitation)
    invitation["Status"] = "REJECTED"
    invitation["RejectionReason"] = p.get("RejectionReason")
    await em.invitation_event("Engagement Invitation Rejected", invitation)
    return {}


def _task(em: PartnerCentralEmulator, catalog: str, **ids: Any) -> dict[str, Any]:
    task_id = f"task-{new_suffix(13)}"
    return {
        "TaskId": task_id,
        "TaskArn": em.arn(catalog, "task", task_id),
        "StartTime": now_ms(),
        "TaskStatus": "IN_PROGRESS",
        **ids,
    }


async def start_engagement_by_accepting_invitation_task(
    em: PartnerCentralEmulator, p: dict[str, Any]
) -> dict[str, Any]:
    store = em.catalog(p["Catalog"])
    token_key = ("StartEngagementByAcceptingInvitationTask", p["ClientToken"])
    if token_key in store.client_tokens:
        return store.by_invitation_tasks[store.client_tokens[token_key]]
    invitation = _invitation(em, p)
    _require_pending(invitation)
    task = _task(em, store.name, EngagementInvitationId=invitation["Id"])
    store.by_invitation_tasks[task["TaskId"]] = task
    store.client_tokens[token_key] = task["TaskId"]

    async def finish() -> None:
        if invitation["Status"] != "PENDING":
            task.update(
                TaskStatus="FAILED",
                ReasonCode="InvitationValidationFailed",
                Message=f"Invitation is {invitation['Status']}",
            )
            return
        engagement = await _accept(em, invitation)
        payload = invitation["Payload"]["OpportunityInvitation"]
        customer, project = payload["Customer"], payload["Project"]
        opportunity = new_opportunity(
            em,
            store,
            {
                "Origin": "AWS Referral",
                "Customer": {
                    "Account": {
                        "CompanyName": customer.get("CompanyName"),
                        "Industry": customer.get("Industry"),
                        "WebsiteUrl": customer.get("WebsiteUrl"),
                        "Address": {"CountryCode": customer.get("CountryCode")},
                    }
                },
                "Project": {
                    "Title": project.get("Title"),
                    "CustomerBusinessProblem": project.get("BusinessProblem"),
                    "ExpectedCustomerSpend": project.get("ExpectedCustomerSpend") or None,
                },
                "LifeCycle": {"Stage": "Prospect", "TargetCloseDate": project.get("TargetCompletionDate")},
            },
        )
        opportunity["LifeCycle"]["ReviewStatus"] = "Approved"
        store.aws_summaries[opportunity["Id"]] = {
            "Catalog": store.name,
            "RelatedOpportunityId": opportunity["Id"],
            "Origin": "AWS Referral",
            "InvolvementType": "Co-Sell",
            "Visibility": "Full",
            "LifeCycle": {"Stage": "Prospect"},
        }
        engagement["Opportunities"].append(opportunity["Id"])
        await em.opportunity_event("Opportunity Created", opportunity)
        task.update(
            TaskStatus="COMPLETE",
            OpportunityId=opportunity["Id"],
            ResourceSnapshotJobId=f"job-{new_suffix(13)}",
        )

    em.run_later(finish, task)
    return task


async def start_engagement_from_opportunity_task(
    em: PartnerCentralEmulator, p: dict[str, Any]
) -> dict[str, Any]:
    store = em.catalog(p["Catalog"])
    token_key = ("StartEngagementFromOpportunityTask", p["ClientToken"])
    if token_key in store.client_tokens:
        return store.from_opportunity_tasks[store.client_tokens[token_key]]
    record = find_opportunity(em, p)
    if any(record["Id"] in e["Opportunities"] for e in store.engagements.values()):
        raise conflict(f"Opportunity {record['Id']} is already part of an engagement")
    task = _task(em, store.name, OpportunityId=record["Id"])
    store.from_opportunity_tasks[task["TaskId"]] = task
    store.client_tokens[token_key] = task["TaskId"]
    submission = p["AwsSubmission"]

    async def finish() -> None:
        try:
            check_submittable(record)
        except ApiError as err:
            task.update(TaskStatus="FAILED", ReasonCode="OpportunitySubmissionFailed", Message=err.message)
            return
        await apply_submission(em, record, submission["InvolvementType"], submission.get("Visibility"))
        account = record["Customer"]["Account"]
        engagement = _new_engagement(
            em,
            store,
            record["Project"]["Title"],
            record["Project"]["CustomerBusinessProblem"],
            em.account_id,
            {
                "Industry": account.get("Industry"),
                "CompanyName": account["CompanyName"],
                "WebsiteUrl": account.get("WebsiteUrl"),
                "CountryCode": account["Address"]["CountryCode"],
            },
            {
                "Title": record["Project"]["Title"],
                "BusinessProblem": record["Project"]["CustomerBusinessProblem"],
                "TargetCompletionDate": record["LifeCycle"]["TargetCloseDate"],
            },
        )
        engagement["Opportunities"].append(record["Id"])
        _add_member(engagement, em.account_id, "Sandbox Partner", "https://partner.example.com")
        _add_member(engagement, AWS_SENDER, "Amazon Web Services", "https://aws.amazon.com")
        await em.engagement_event("Engagement Member Added", engagement, memberAccountId=AWS_SENDER)
        inv_id = f"engi-{new_suffix(13)}"
        store.invitations[inv_id] = {
            "Catalog": store.name,
            "Id": inv_id,
            "Arn": em.arn(store.name, "engagement-invitation", inv_id),
            "PayloadType": "OpportunityInvitation",
            "EngagementId": engagement["Id"],
            "EngagementTitle": engagement["Title"],
            "Status": "ACCEPTED",
            "InvitationDate": now_ms(),
            "SenderAwsAccountId": em.account_id,
            "Receiver": {"Account": {"AwsAccountId": AWS_SENDER}},
            "ParticipantType": "SENDER",
        }
        snapshot = await _snapshot(em, store, engagement, record, "OpportunitySummaryView")
        task.update(
            TaskStatus="COMPLETE",
            EngagementId=engagement["Id"],
            EngagementInvitationId=inv_id,
            ResourceSnapshotJobId=f"job-{new_suffix(13)}",
        )
        task["_snapshot"] = snapshot["Arn"]

    em.run_later(finish, task)
    return task


def _list_tasks(
    tasks: dict[str, dict[str, Any]], p: dict[str, Any], filters: dict[str, str]
) -> dict[str, Any]:
    items = list(tasks.values())
    if p.get("TaskStatus"):
        items = [t for t in items if t["TaskStatus"] in p["TaskStatus"]]
    for key, field in filters.items():
        if p.get(key):
            items = [t for t in items if t.get(field) in p[key]]
    items = sort_records(items, p.get("Sort"), {"StartTime": lambda t: t["StartTime"]}, "StartTime")
    chunk, token = page(items, p)
    return {"TaskSummaries": chunk, "NextToken": token}


async def list_engagement_by_accepting_invitation_tasks(
    em: PartnerCentralEmulator, p: dict[str, Any]
) -> dict[str, Any]:
    return _list_tasks(
        em.catalog(p["Catalog"]).by_invitation_tasks,
        p,
        {
            "TaskIdentifier": "TaskId",
            "OpportunityIdentifier": "OpportunityId",
            "EngagementInvitationIdentifier": "EngagementInvitationId",
        },
    )


async def list_engagement_from_opportunity_tasks(
    em: PartnerCentralEmulator, p: dict[str, Any]
) -> dict[str, Any]:
    return _list_tasks(
        em.catalog(p["Catalog"]).from_opportunity_tasks,
        p,
        {
            "TaskIdentifier": "TaskId",
            "OpportunityIdentifier": "OpportunityId",
            "EngagementIdentifier": "EngagementId",
        },
    )


async def list_engagements(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    items = list(em.catalog(p["Catalog"]).engagements.values())
    if p.get("EngagementIdentifier"):
        items = [e for e in items if e["Id"] in p["EngagementIdentifier"]]
    if p.get("CreatedBy"):
        items = [e for e in items if e["CreatedBy"] in p["CreatedBy"]]
    if p.get("ExcludeCreatedBy"):
        items = [e for e in items if e["CreatedBy"] not in p["ExcludeCreatedBy"]]
    items = sort_records(items, p.get("Sort"), {"CreatedDate": lambda e: e["CreatedAt"]}, "CreatedDate")
    chunk, token = page(items, p)
    return {"EngagementSummaryList": chunk, "NextToken": token}


async def get_engagement(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    return _engagement(em, p["Catalog"], p["Identifier"])


async def list_engagement_members(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    engagement = _engagement(em, p["Catalog"], p["Identifier"])
    chunk, token = page(engagement["Members"], p)
    return {"EngagementMemberList": chunk, "NextToken": token}


def _snapshot_payload(em: PartnerCentralEmulator, record: dict[str, Any], template: str) -> dict[str, Any]:
    if template == "AwsOpportunitySummaryFullView":
        summary = em.catalog(record["Catalog"]).aws_summaries.get(record["Id"], {})
        return {"AwsOpportunitySummaryFullView": copy.deepcopy(summary)}
    view = copy.deepcopy(record)
    view["Lifecycle"] = view.pop("LifeCycle", None)  # the view's member is spelled "Lifecycle"
    return {"OpportunitySummary": view}


async def _snapshot(
    em: PartnerCentralEmulator,
    store: CatalogState,
    engagement: dict[str, Any],
    record: dict[str, Any],
    template: str,
) -> dict[str, Any]:
    revision = 1 + sum(
        1
        for s in store.snapshots
        if (s["EngagementId"], s["ResourceId"], s["ResourceSnapshotTemplateName"])
        == (engagement["Id"], record["Id"], template)
    )
    arn = em.arn(
        store.name,
        "engagement",
        f"{engagement['Id']}/resource/Opportunity/{record['Id']}/template/{template}/revision/{revision}",
    )
    snapshot = {
        "Catalog": store.name,
        "Arn": arn,
        "CreatedBy": em.account_id,
        "CreatedAt": now_ms(),
        "EngagementId": engagement["Id"],
        "ResourceType": "Opportunity",
        "ResourceId": record["Id"],
        "ResourceSnapshotTemplateName": template,
        "Revision": revision,
        "Payload": _snapshot_payload(em, record, template),
    }
    store.snapshots.append(snapshot)
    obj = {
        "arn": arn,
        "revision": revision,
        "resourceType": "Opportunity",
        "resourceId": record["Id"],
        "templateName": template,
    }
    await em.bus.emit(
        "Resource Snapshot Created",
        store.name,
        [arn],
        resourceSnapshot=obj,
        opportunity={"identifier": record["Id"]},
        engagement={"id": engagement["Id"]},
    )
    await em.bus.emit(
        "Engagement Resource Snapshot Created",
        store.name,
        [arn, engagement["Arn"]],
        engagement={"id": engagement["Id"], "arn": engagement["Arn"]},
        resourceSnapshot=obj,
    )
    return snapshot


async def create_resource_snapshot(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    store = em.catalog(p["Catalog"])
    token_key = ("CreateResourceSnapshot", p["ClientToken"])
    if token_key in store.client_tokens:
        arn = store.client_tokens[token_key]
        return next(s for s in store.snapshots if s["Arn"] == arn)
    engagement = _engagement(em, store.name, p["EngagementIdentifier"])
    record = find_opportunity(em, p, "ResourceIdentifier")
    template = p["ResourceSnapshotTemplateIdentifier"]
    if template not in SNAPSHOT_TEMPLATES:
        raise validation_error(
            f"Unknown snapshot template {template!r}; expected one of {', '.join(SNAPSHOT_TEMPLATES)}",
            [FieldError("ResourceSnapshotTemplateIdentifier", "unknown template", "INVALID_VALUE")],
        )
    if record["Id"] not in engagement["Opportunities"]:
        raise validation_error(
            f"Opportunity {record['Id']} is not associated with engagement {engagement['Id']}",
            [FieldError("ResourceIdentifier", "is not part of the engagement", "INVALID_RESOURCE_STATE")],
        )
    snapshot = await _snapshot(em, store, engagement, record, template)
    store.client_tokens[token_key] = snapshot["Arn"]
    return snapshot


async def get_resource_snapshot(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    store = em.catalog(p["Catalog"])
    matches = [
        s
        for s in store.snapshots
        if s["EngagementId"] == p["EngagementIdentifier"]
        and s["ResourceId"] == p["ResourceIdentifier"]
        and s["ResourceSnapshotTemplateName"] == p["ResourceSnapshotTemplateIdentifier"]
        and (p.get("Revision") is None or s["Revision"] == p["Revision"])
    ]
    if not matches:
        raise ApiError(
            "ResourceNotFoundException",
            "No resource snapshot matches the engagement, resource, "
            f"template and revision in catalog {store.name!r}",
        )
    return max(matches, key=lambda s: s["Revision"])


async def list_resource_snapshots(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    store = em.catalog(p["Catalog"])
    _engagement(em, store.name, p["EngagementIdentifier"])
    items = [s for s in store.snapshots if s["EngagementId"] == p["EngagementIdentifier"]]
    for key, field in (
        ("ResourceType", "ResourceType"),
        ("ResourceIdentifier", "ResourceId"),
        ("ResourceSnapshotTemplateIdentifier", "ResourceSnapshotTemplateName"),
        ("CreatedBy", "CreatedBy"),
    ):
        if p.get(key):
            items = [s for s in items if s[field] == p[key]]
    chunk, token = page(items, p)
    return {"ResourceSnapshotSummaries": chunk, "NextToken": token}


HANDLERS = {
    "ListEngagementInvitations": list_engagement_invitations,
    "GetEngagementInvitation": get_engagement_invitation,
    "AcceptEngagementInvitation": accept_engagement_invitation,
    "RejectEngagementInvitation": reject_engagement_invitation,
    "StartEngagementByAcceptingInvitationTask": start_engagement_by_accepting_invitation_task,
    "StartEngagementFromOpportunityTask": start_engagement_from_opportunity_task,
    "ListEngagementByAcceptingInvitationTasks": list_engagement_by_accepting_invitation_tasks,
    "ListEngagementFromOpportunityTasks": list_engagement_from_opportunity_tasks,
    "ListEngagements": list_engagements,
    "GetEngagement": get_engagement,
    "ListEngagementMembers": list_engagement_members,
    "CreateResourceSnapshot": create_resource_snapshot,
    "GetResourceSnapshot": get_resource_snapshot,
    "ListResourceSnapshots": list_resource_snapshots,
}
