"""Resource snapshots and resource snapshot jobs.

A snapshot is a numbered revision of one resource (an opportunity) in one template, shared with the
engagement's members (https://docs.aws.amazon.com/partner-central/latest/APIReference/API_CreateResourceSnapshot.html).
A job keeps taking snapshots of its resource while it is ``Running``: here, at start and after every change
of the opportunity (or its AWS summary), when the template's view of it differs from the last revision.
A job is created ``Stopped``, "must be started prior to being stopped"
(https://docs.aws.amazon.com/partner-central/latest/APIReference/API_StopResourceSnapshotJob.html) and "must be
in a stopped state before it can be deleted"
(https://docs.aws.amazon.com/partner-central/latest/APIReference/API_DeleteResourceSnapshotJob.html).

Every snapshot publishes ``Resource Snapshot Created`` and ``Engagement Resource Snapshot Created``
(https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-partnercentral-selling.html).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .opportunities import find_opportunity
from .protocol import ApiError, FieldError, conflict, now_ms, serialize, service_model, validation_error
from .records import associate, find_engagement, find_job
from .state import CatalogState, new_suffix, page, sort_records

if TYPE_CHECKING:
    from .app import PartnerCentralEmulator

__all__ = [
    "HANDLERS",
    "SNAPSHOT_TEMPLATES",
    "new_job",
    "on_opportunity_changed",
    "start_job",
    "take_snapshot",
]

SNAPSHOT_TEMPLATES = ("OpportunitySummaryView", "AwsOpportunitySummaryFullView")


def check_template(template: str) -> None:
    if template not in SNAPSHOT_TEMPLATES:
        raise validation_error(
            f"Unknown snapshot template {template!r}; expected one of {', '.join(SNAPSHOT_TEMPLATES)}",
            [FieldError("ResourceSnapshotTemplateIdentifier", "unknown template", "INVALID_VALUE")],
        )


def claim(store: CatalogState, engagement: dict[str, Any], record: dict[str, Any], by: str) -> None:
    """A snapshot puts its resource in the engagement: associations are "between resources and engagements
    where the caller ... has at least one snapshot in the engagement"
    (https://docs.aws.amazon.com/partner-central/latest/APIReference/API_ListEngagementResourceAssociations.html).
    An opportunity belongs to one engagement, as StartEngagementFromOpportunityTask enforces."""
    other = next(
        (e for e in store.engagements.values() if record["Id"] in e["Opportunities"] and e is not engagement),
        None,
    )
    if other is not None:
        raise validation_error(
            f"Opportunity {record['Id']} belongs to engagement {other['Id']}, not {engagement['Id']}",
            [FieldError("ResourceIdentifier", "is part of another engagement", "INVALID_RESOURCE_STATE")],
        )
    associate(store, engagement, record["Id"], by)


def _payload(em: PartnerCentralEmulator, record: dict[str, Any], template: str) -> dict[str, Any]:
    if template == "AwsOpportunitySummaryFullView":
        summary = em.catalog(record["Catalog"]).aws_summaries.get(record["Id"], {})
        return {"AwsOpportunitySummaryFullView": copy.deepcopy(summary)}
    view = copy.deepcopy(record)
    view["Lifecycle"] = view.pop("LifeCycle", None)  # the view's member is spelled "Lifecycle"
    return {"OpportunitySummary": view}


def _wire(payload: dict[str, Any]) -> Any:
    """What a snapshot shows of a payload: two payloads are the same revision when this is equal."""
    return serialize(payload, service_model().shape_for("ResourceSnapshotPayload"))


def _revisions(
    store: CatalogState, engagement_id: str, resource_id: str, template: str
) -> list[dict[str, Any]]:
    return [
        s
        for s in store.snapshots
        if (s["EngagementId"], s["ResourceId"], s["ResourceSnapshotTemplateName"])
        == (engagement_id, resource_id, template)
    ]


async def take_snapshot(
    em: PartnerCentralEmulator,
    store: CatalogState,
    engagement: dict[str, Any],
    record: dict[str, Any],
    template: str,
    created_by: str | None = None,
) -> dict[str, Any]:
    """A new revision of ``record`` in ``engagement``, and its two events."""
    revision = 1 + len(_revisions(store, engagement["Id"], record["Id"], template))
    arn = em.arn(
        store.name,
        "engagement",
        f"{engagement['Id']}/resource/Opportunity/{record['Id']}/template/{template}/revision/{revision}",
    )
    snapshot = {
        "Catalog": store.name,
        "Arn": arn,
        "CreatedBy": created_by or em.account_id,
        "CreatedAt": now_ms(),
        "EngagementId": engagement["Id"],
        "ResourceType": "Opportunity",
        "ResourceId": record["Id"],
        "ResourceSnapshotTemplateName": template,
        "Revision": revision,
        "Payload": _payload(em, record, template),
        "TargetMemberAccounts": [m["AccountId"] for m in engagement["Members"]] or None,
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


# -- jobs ---------------------------------------------------------------------------------------------
def new_job(
    em: PartnerCentralEmulator,
    store: CatalogState,
    engagement: dict[str, Any],
    record: dict[str, Any],
    template: str,
    tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    for job in store.snapshot_jobs.values():
        if (job["EngagementId"], job["ResourceId"], job["ResourceSnapshotTemplateName"]) == (
            engagement["Id"],
            record["Id"],
            template,
        ):
            raise conflict(
                f"Resource snapshot job {job['Id']} already exists for {record['Id']} in "
                f"{engagement['Id']} with template {template}"
            )
    job_id = f"job-{new_suffix(13)}"
    job = {
        "Catalog": store.name,
        "Id": job_id,
        "Arn": em.arn(store.name, "resource-snapshot-job", job_id),
        "EngagementId": engagement["Id"],
        "ResourceType": "Opportunity",
        "ResourceId": record["Id"],
        "ResourceArn": record["Arn"],
        "ResourceSnapshotTemplateName": template,
        "CreatedAt": now_ms(),
        "Status": "Stopped",
        "Tags": copy.deepcopy(tags or []),
    }
    store.snapshot_jobs[job_id] = job
    return job


async def _run(em: PartnerCentralEmulator, job: dict[str, Any]) -> None:
    """One execution: a snapshot when the resource's view differs from the latest revision."""
    store = em.catalog(job["Catalog"])
    engagement = store.engagements.get(job["EngagementId"])
    record = store.opportunities.get(job["ResourceId"])
    if engagement is None or record is None:
        job["LastFailure"] = "The engagement or the resource no longer exists"
        return
    template = job["ResourceSnapshotTemplateName"]
    previous = _revisions(store, engagement["Id"], record["Id"], template)
    if not previous or _wire(previous[-1]["Payload"]) != _wire(_payload(em, record, template)):
        await take_snapshot(em, store, engagement, record, template)
    job["LastSuccessfulExecutionDate"] = now_ms()


async def start_job(em: PartnerCentralEmulator, job: dict[str, Any]) -> None:
    if job["Status"] == "Running":
        return
    job["Status"] = "Running"
    await _run(em, job)


async def on_opportunity_changed(em: PartnerCentralEmulator, record: dict[str, Any]) -> None:
    for job in list(em.catalog(record["Catalog"]).snapshot_jobs.values()):
        if job["Status"] == "Running" and job["ResourceId"] == record["Id"]:
            await _run(em, job)


# -- operations ---------------------------------------------------------------------------------------
async def create_resource_snapshot(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    store = em.catalog(p["Catalog"])
    token_key = ("CreateResourceSnapshot", p["ClientToken"])
    if token_key in store.client_tokens:
        arn = store.client_tokens[token_key]
        return next(s for s in store.snapshots if s["Arn"] == arn)
    engagement = find_engagement(em, store.name, p["EngagementIdentifier"])
    record = find_opportunity(em, p, "ResourceIdentifier")
    check_template(p["ResourceSnapshotTemplateIdentifier"])
    claim(store, engagement, record, em.account_id)
    snapshot = await take_snapshot(em, store, engagement, record, p["ResourceSnapshotTemplateIdentifier"])
    store.client_tokens[token_key] = snapshot["Arn"]
    return snapshot


async def get_resource_snapshot(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    store = em.catalog(p["Catalog"])
    matches = [
        s
        for s in _revisions(
            store, p["EngagementIdentifier"], p["ResourceIdentifier"], p["ResourceSnapshotTemplateIdentifier"]
        )
        if p.get("Revision") is None or s["Revision"] == p["Revision"]
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
    find_engagement(em, store.name, p["EngagementIdentifier"])
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


async def create_resource_snapshot_job(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    store = em.catalog(p["Catalog"])
    token_key = ("CreateResourceSnapshotJob", p["ClientToken"])
    if token_key in store.client_tokens:
        return store.snapshot_jobs[store.client_tokens[token_key]]
    engagement = find_engagement(em, store.name, p["EngagementIdentifier"])
    record = find_opportunity(em, p, "ResourceIdentifier")
    check_template(p["ResourceSnapshotTemplateIdentifier"])
    claim(store, engagement, record, em.account_id)
    job = new_job(em, store, engagement, record, p["ResourceSnapshotTemplateIdentifier"], p.get("Tags"))
    store.client_tokens[token_key] = job["Id"]
    return job


async def start_resource_snapshot_job(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    await start_job(em, find_job(em, p["Catalog"], p["ResourceSnapshotJobIdentifier"]))
    return {}


async def stop_resource_snapshot_job(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    job = find_job(em, p["Catalog"], p["ResourceSnapshotJobIdentifier"])
    if job["Status"] != "Running":
        raise validation_error(
            f"Resource snapshot job {job['Id']} is not running; it must be started before it is stopped",
            [FieldError("ResourceSnapshotJobIdentifier", "job is Stopped", "INVALID_RESOURCE_STATE")],
        )
    job["Status"] = "Stopped"
    return {}


async def delete_resource_snapshot_job(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    job = find_job(em, p["Catalog"], p["ResourceSnapshotJobIdentifier"])
    if job["Status"] == "Running":
        raise conflict(f"Resource snapshot job {job['Id']} is Running; stop it before deleting it")
    del em.catalog(p["Catalog"]).snapshot_jobs[job["Id"]]
    return {}


async def get_resource_snapshot_job(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    return find_job(em, p["Catalog"], p["ResourceSnapshotJobIdentifier"])


async def list_resource_snapshot_jobs(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    items = list(em.catalog(p["Catalog"]).snapshot_jobs.values())
    if p.get("EngagementIdentifier"):
        items = [j for j in items if j["EngagementId"] == p["EngagementIdentifier"]]
    if p.get("Status"):
        items = [j for j in items if j["Status"] == p["Status"]]
    items = sort_records(items, p.get("Sort"), {"CreatedDate": lambda j: j["CreatedAt"]}, "CreatedDate")
    chunk, token = page(items, p)
    return {"ResourceSnapshotJobSummaries": chunk, "NextToken": token}


HANDLERS = {
    "CreateResourceSnapshot": create_resource_snapshot,
    "GetResourceSnapshot": get_resource_snapshot,
    "ListResourceSnapshots": list_resource_snapshots,
    "CreateResourceSnapshotJob": create_resource_snapshot_job,
    "StartResourceSnapshotJob": start_resource_snapshot_job,
    "StopResourceSnapshotJob": stop_resource_snapshot_job,
    "DeleteResourceSnapshotJob": delete_resource_snapshot_job,
    "GetResourceSnapshotJob": get_resource_snapshot_job,
    "ListResourceSnapshotJobs": list_resource_snapshot_jobs,
}
