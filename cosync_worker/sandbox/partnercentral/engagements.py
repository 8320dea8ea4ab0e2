"""Engagement invitations (AWS referrals), the asynchronous engagement tasks and the engagement reads.

Tasks answer ``IN_PROGRESS`` at once and finish ``task_seconds`` later with the ids they produced, as
StartEngagementByAcceptingInvitationTask and StartEngagementFromOpportunityTask do
(https://docs.aws.amazon.com/partner-central/latest/APIReference/API_StartEngagementByAcceptingInvitationTask.html,
https://docs.aws.amazon.com/partner-central/latest/APIReference/API_StartEngagementFromOpportunityTask.html).
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .opportunities import apply_submission, check_submittable, find_opportunity, new_opportunity
from .protocol import ApiError, conflict, not_found, now_ms
from .records import (
    AWS_ACCOUNT,
    AWS_MEMBER,
    PARTNER_COMPANY,
    add_member,
    associate,
    find_engagement,
    invitation_arn,
    new_engagement,
)
from .snapshots import new_job, start_job
from .state import CatalogState, new_suffix, page, sort_records

if TYPE_CHECKING:
    from .app import PartnerCentralEmulator

__all__ = [
    "HANDLERS",
    "INVITATION_TTL",
    "complete_with_opportunity",
    "create_invitation",
    "expire_invitation",
    "find_invitation",
    "list_tasks",
    "new_task",
    "pending_invitation",
    "snapshot_job",
]

INVITATION_TTL = timedelta(days=15)


def find_invitation(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    store = em.catalog(p["Catalog"])
    ident = p["Identifier"].rsplit("/", 1)[-1]  # the ARN or the bare id
    record = store.invitations.get(ident)
    if record is None:
        raise not_found("Engagement invitation", p["Identifier"], store.name)
    return record


def _customer_project(
    customer: dict[str, Any], title: str, problem: str, target: str | None
) -> dict[str, Any]:
    project = {"Title": title, "BusinessProblem": problem, "TargetCompletionDate": target}
    return {
        "Type": "CustomerProject",
        "Payload": {"CustomerProject": {"Customer": customer, "Project": project}},
    }


async def snapshot_job(
    em: PartnerCentralEmulator, engagement: dict[str, Any], record: dict[str, Any]
) -> dict[str, Any]:
    """The running job a task leaves behind: it takes the first snapshot at once."""
    job = new_job(em, em.catalog(record["Catalog"]), engagement, record, "OpportunitySummaryView")
    await start_job(em, job)
    return job


def pending_invitation(
    em: PartnerCentralEmulator, store: CatalogState, engagement: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    """A new PENDING invitation to ``engagement``, stored; ``fields`` say who sends it to whom and what."""
    inv_id = f"engi-{new_suffix(13)}"
    now = now_ms()
    invitation = {
        "Catalog": store.name,
        "Id": inv_id,
        "Arn": invitation_arn(em, store.name, inv_id),
        "EngagementId": engagement["Id"],
        "EngagementTitle": engagement["Title"],
        "EngagementDescription": engagement["Description"] or None,
        "Status": "PENDING",
        "InvitationDate": now,
        "ExpirationDate": now + INVITATION_TTL,
        **fields,
    }
    store.invitations[inv_id] = invitation
    return invitation


async def complete_with_opportunity(
    em: PartnerCentralEmulator, engagement: dict[str, Any], record: dict[str, Any], task: dict[str, Any]
) -> None:
    """The end of a task that made an opportunity: the engagement holds it, its creation is announced and
    snapshotted, and the task is COMPLETE with both ids."""
    associate(em.catalog(record["Catalog"]), engagement, record["Id"], em.account_id)
    await em.opportunity_event("Opportunity Created", record)
    job = await snapshot_job(em, engagement, record)
    task.update(TaskStatus="COMPLETE", OpportunityId=record["Id"], ResourceSnapshotJobId=job["Id"])


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
    engagement = new_engagement(
        em,
        store,
        title,
        project.get("CustomerBusinessProblem", ""),
        AWS_ACCOUNT,
        [_customer_project(eng_customer, title, project.get("CustomerBusinessProblem", ""), target)],
    )
    add_member(store, engagement, *AWS_MEMBER)
    invitation = pending_invitation(
        em,
        store,
        engagement,
        PayloadType="OpportunityInvitation",
        SenderAwsAccountId=AWS_ACCOUNT,
        SenderCompanyName="Amazon Web Services",
        Receiver={"Account": {"AwsAccountId": em.account_id}},
        ParticipantType="RECEIVER",
        InvitationMessage=f"AWS invites you to co-sell: {title}",
        ExistingMembers=[{"CompanyName": "Amazon Web Services", "WebsiteUrl": "https://aws.amazon.com"}],
        Payload={
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
    )
    await em.invitation_event("Engagement Invitation Created", invitation)
    return invitation


async def expire_invitation(em: PartnerCentralEmulator, catalog: str, ident: str) -> dict[str, Any]:
    invitation = find_invitation(em, {"Catalog": catalog, "Identifier": ident})
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
    add_member(em.catalog(invitation["Catalog"]), engagement, em.account_id, *PARTNER_COMPANY)
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
    return find_invitation(em, p)


async def accept_engagement_invitation(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    invitation = find_invitation(em, p)
    _require_pending(invitation)
    await _accept(em, invitation)
    return {}


async def reject_engagement_invitation(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    invitation = find_invitation(em, p)
    _require_pending(invitation)
    invitation["Status"] = "REJECTED"
    invitation["RejectionReason"] = p.get("RejectionReason")
    await em.invitation_event("Engagement Invitation Rejected", invitation)
    return {}


def new_task(em: PartnerCentralEmulator, catalog: str, arn_type: str, **ids: Any) -> dict[str, Any]:
    """An IN_PROGRESS task; ``arn_type`` is its ARN's resource type, ``ids`` what it was started on."""
    task_id = f"task-{new_suffix(13)}"
    return {
        "TaskId": task_id,
        "TaskArn": em.arn(catalog, arn_type, task_id),
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
    invitation = find_invitation(em, p)
    _require_pending(invitation)
    task = new_task(em, store.name, "task", EngagementInvitationId=invitation["Id"])
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
        await complete_with_opportunity(em, engagement, opportunity, task)

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
    task = new_task(em, store.name, "task", OpportunityId=record["Id"])
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
        engagement = new_engagement(
            em,
            store,
            record["Project"]["Title"],
            record["Project"]["CustomerBusinessProblem"],
            em.account_id,
            [
                _customer_project(
                    {
                        "Industry": account.get("Industry"),
                        "CompanyName": account["CompanyName"],
                        "WebsiteUrl": account.get("WebsiteUrl"),
                        "CountryCode": account["Address"]["CountryCode"],
                    },
                    record["Project"]["Title"],
                    record["Project"]["CustomerBusinessProblem"],
                    record["LifeCycle"]["TargetCloseDate"],
                )
            ],
        )
        associate(store, engagement, record["Id"], em.account_id)
        add_member(store, engagement, em.account_id, *PARTNER_COMPANY)
        add_member(store, engagement, *AWS_MEMBER)
        await em.engagement_event("Engagement Member Added", engagement, memberAccountId=AWS_ACCOUNT)
        inv_id = f"engi-{new_suffix(13)}"
        store.invitations[inv_id] = {
            "Catalog": store.name,
            "Id": inv_id,
            "Arn": invitation_arn(em, store.name, inv_id),
            "PayloadType": "OpportunityInvitation",
            "EngagementId": engagement["Id"],
            "EngagementTitle": engagement["Title"],
            "Status": "ACCEPTED",
            "InvitationDate": now_ms(),
            "SenderAwsAccountId": em.account_id,
            "Receiver": {"Account": {"AwsAccountId": AWS_ACCOUNT}},
            "ParticipantType": "SENDER",
        }
        job = await snapshot_job(em, engagement, record)
        task.update(
            TaskStatus="COMPLETE",
            EngagementId=engagement["Id"],
            EngagementInvitationId=inv_id,
            ResourceSnapshotJobId=job["Id"],
        )

    em.run_later(finish, task)
    return task


def list_tasks(
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
    return list_tasks(
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
    return list_tasks(
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
        wanted = {i.rsplit("/", 1)[-1] for i in p["EngagementIdentifier"]}
        items = [e for e in items if e["Id"] in wanted]
    if p.get("CreatedBy"):
        items = [e for e in items if e["CreatedBy"] in p["CreatedBy"]]
    if p.get("ExcludeCreatedBy"):
        items = [e for e in items if e["CreatedBy"] not in p["ExcludeCreatedBy"]]
    if p.get("ContextTypes"):
        items = [e for e in items if set(e["ContextTypes"]) & set(p["ContextTypes"])]
    if p.get("ExcludeContextTypes"):
        items = [e for e in items if not set(e["ContextTypes"]) & set(p["ExcludeContextTypes"])]
    items = sort_records(items, p.get("Sort"), {"CreatedDate": lambda e: e["CreatedAt"]}, "CreatedDate")
    chunk, token = page(items, p)
    return {"EngagementSummaryList": chunk, "NextToken": token}


async def get_engagement(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    return find_engagement(em, p["Catalog"], p["Identifier"])


async def list_engagement_members(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    engagement = find_engagement(em, p["Catalog"], p["Identifier"])
    chunk, token = page(engagement["Members"], p)
    return {"EngagementMemberList": chunk, "NextToken": token}


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
}
