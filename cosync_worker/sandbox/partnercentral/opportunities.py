"""Opportunity operations and the rules AWS enforces on them.

* CreateOpportunity is idempotent on ``ClientToken``
  (https://docs.aws.amazon.com/partner-central/latest/APIReference/API_CreateOpportunity.html).
* UpdateOpportunity replaces the whole record ("If any field is omitted, the API assumes that the field is
  set to null", https://docs.aws.amazon.com/partner-central/latest/APIReference/API_UpdateOpportunity.html)
  and succeeds only when ``LastModifiedDate`` matches ("optimistic locking",
  https://docs.aws.amazon.com/partner-central/latest/developer-guide/best-practices.html).
* Review-status gates: no updates while ``Submitted``/``In review``, only select fields under
  ``Action Required``, and some fields frozen once ``Approved``
  (https://docs.aws.amazon.com/partner-central/latest/selling-api/working-with-opportunity-updates.html).
* Association quotas per opportunity: 10 solutions, 20 AWS products, 1 private offer, 10 marketplace
  solutions/products (https://docs.aws.amazon.com/partner-central/latest/developer-guide/quotas.html).
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from .protocol import ApiError, FieldError, conflict, not_found, validation_error
from .state import CatalogState, page, sort_records

if TYPE_CHECKING:
    from .app import PartnerCentralEmulator

__all__ = [
    "ASSOCIATION_QUOTAS",
    "HANDLERS",
    "apply_submission",
    "check_submittable",
    "find_opportunity",
    "new_opportunity",
]

PARTNER_FIELDS = (
    "PrimaryNeedsFromAws",
    "NationalSecurity",
    "PartnerOpportunityIdentifier",
    "Customer",
    "Project",
    "OpportunityType",
    "Marketing",
    "SoftwareRevenue",
    "LifeCycle",
)
# LifeCycle members AWS owns: a partner's values for them are ignored on create and update.
AWS_LIFECYCLE_FIELDS = ("ReviewStatus", "ReviewComments", "ReviewStatusReason", "NextStepsHistory")

ASSOCIATION_QUOTAS = {
    "Solutions": 10,
    "AwsProducts": 20,
    "AwsMarketplaceOffers": 1,
    "AwsMarketplaceOfferSets": 1,
    "AwsMarketplaceSolutions": 10,
    "AwsMarketplaceProducts": 10,
}
LOCKED_STATUSES = ("Submitted", "In review")
# Open for update under "Action Required" (the documented list; Country is Address.CountryCode here).
ACTION_REQUIRED_OPEN = (
    "Customer.Account.Address.City",
    "Customer.Account.Address.CountryCode",
    "Customer.Account.Address.PostalCode",
    "Customer.Account.Address.StateOrRegion",
    "Customer.Account.Address.StreetAddress",
    "Customer.Account.WebsiteUrl",
    "LifeCycle.TargetCloseDate",
    "Project.ExpectedCustomerSpend",
    "Project.CustomerBusinessProblem",
    "PartnerOpportunityIdentifier",
)
FROZEN_AFTER_APPROVAL = (
    "Customer.Account.CompanyName",
    "Customer.Account.Address.CountryCode",
    "Customer.Account.Address.PostalCode",
    "Customer.Account.Address.StateOrRegion",
    "Customer.Account.Duns",
)
SUBMISSION_REQUIRED = (
    "Customer.Account.CompanyName",
    "Customer.Account.Address.CountryCode",
    "Customer.Account.WebsiteUrl",
    "Customer.Account.Industry",
    "Project.Title",
    "Project.CustomerBusinessProblem",
    "LifeCycle.TargetCloseDate",
)
CLOSED_STAGES = ("Launched", "Closed Lost")


def _get(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else k))
        return out
    return {prefix: value} if value not in (None, [], "") else {}


def _partner_view(record: dict[str, Any]) -> dict[str, Any]:
    view = {k: copy.deepcopy(record.get(k)) for k in PARTNER_FIELDS}
    for k in AWS_LIFECYCLE_FIELDS:
        (view.get("LifeCycle") or {}).pop(k, None)
    return view


def _check_target_close_date(lifecycle: dict[str, Any] | None) -> None:
    lifecycle = lifecycle or {}
    target = lifecycle.get("TargetCloseDate")
    if target and lifecycle.get("Stage") not in CLOSED_STAGES:
        try:
            when = date.fromisoformat(target)
        except ValueError:
            raise validation_error(
                "LifeCycle.TargetCloseDate is not a date",
                [FieldError("LifeCycle.TargetCloseDate", "must be YYYY-MM-DD", "INVALID_STRING_FORMAT")],
            ) from None
        if when < datetime.now(UTC).date():
            raise validation_error(
                "LifeCycle.TargetCloseDate must not be in the past for an open opportunity",
                [FieldError("LifeCycle.TargetCloseDate", "must not be in the past", "INVALID_VALUE")],
            )


def _apply_partner_fields(record: dict[str, Any], params: dict[str, Any]) -> None:
    """Replace every partner-owned field with the request's (omitted → gone), keeping AWS's lifecycle
    members and appending to NextStepsHistory when NextSteps changes, as AWS does."""
    old_lifecycle = record.get("LifeCycle") or {}
    for key in PARTNER_FIELDS:
        if params.get(key) is None:
            record.pop(key, None)
        else:
            record[key] = copy.deepcopy(params[key])
    lifecycle = record.setdefault("LifeCycle", {})
    for key in AWS_LIFECYCLE_FIELDS:
        lifecycle.pop(key, None)
        if old_lifecycle.get(key) is not None:
            lifecycle[key] = old_lifecycle[key]
    lifecycle.setdefault("ReviewStatus", "Pending Submission")
    next_steps = lifecycle.get("NextSteps")
    if next_steps and next_steps != old_lifecycle.get("NextSteps"):
        history = lifecycle.setdefault("NextStepsHistory", [])
        history.append({"Value": next_steps, "Time": datetime.now(UTC)})


def new_opportunity(
    em: PartnerCentralEmulator, store: CatalogState, params: dict[str, Any]
) -> dict[str, Any]:
    """Build and store a new opportunity record from CreateOpportunity-shaped input."""
    opp_id = store.next_opportunity_id()
    record: dict[str, Any] = {
        "Catalog": store.name,
        "Id": opp_id,
        "Arn": em.arn(store.name, "opportunity", opp_id),
        "Origin": params.get("Origin") or "Partner Referral",
        "OpportunityTeam": copy.deepcopy(params.get("OpportunityTeam") or []),
        "RelatedEntityIdentifiers": {k: [] for k in ASSOCIATION_QUOTAS},
        "Tags": copy.deepcopy(params.get("Tags") or []),
    }
    _apply_partner_fields(record, params)
    record["LifeCycle"].setdefault("Stage", "Prospect")
    store.touch(record)
    record["CreatedDate"] = record["LastModifiedDate"]
    store.opportunities[opp_id] = record
    return record


def find_opportunity(
    em: PartnerCentralEmulator, params: dict[str, Any], key: str = "Identifier"
) -> dict[str, Any]:
    store = em.catalog(params["Catalog"])
    record = store.opportunities.get(params[key])
    if record is None:
        raise not_found("Opportunity", params[key], store.name)
    return record


async def _changed(em: PartnerCentralEmulator, record: dict[str, Any]) -> None:
    em.catalog(record["Catalog"]).touch(record)
    await em.opportunity_event("Opportunity Updated", record)


# -- operations ---------------------------------------------------------------------------------------
async def create_opportunity(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    store = em.catalog(p["Catalog"])
    token_key = ("CreateOpportunity", p["ClientToken"])
    existing = store.client_tokens.get(token_key)
    if existing is not None:
        return store.opportunities[existing]
    if p.get("Origin") == "AWS Referral":
        raise validation_error(
            "Origin 'AWS Referral' is set by AWS; partners create 'Partner Referral' opportunities",
            [FieldError("Origin", "must be 'Partner Referral'", "INVALID_VALUE")],
        )
    _check_target_close_date(p.get("LifeCycle"))
    record = new_opportunity(em, store, p)
    store.client_tokens[token_key] = record["Id"]
    await em.opportunity_event("Opportunity Created", record)
    return record


async def get_opportunity(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    return find_opportunity(em, p)


async def update_opportunity(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    record = find_opportunity(em, p)
    if p["LastModifiedDate"] != record["LastModifiedDate"]:
        raise conflict(
            f"Opportunity {record['Id']} was modified at {record['LastModifiedDate'].isoformat()}; "
            "fetch it again with GetOpportunity and retry with its LastModifiedDate"
        )
    status = record["LifeCycle"].get("ReviewStatus")
    if status in LOCKED_STATUSES:
        raise validation_error(
            f"Opportunity {record['Id']} cannot be updated while its review status is {status!r}",
            [FieldError("LifeCycle.ReviewStatus", f"is {status!r}", "INVALID_RESOURCE_STATE")],
        )
    candidate: dict[str, Any] = {"LifeCycle": {}}
    _apply_partner_fields(candidate, p)
    before, after = _flatten(_partner_view(record)), _flatten(_partner_view(candidate))
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if status == "Action Required":
        blocked = [k for k in changed if not k.startswith(ACTION_REQUIRED_OPEN)]
    elif status == "Approved":
        blocked = [k for k in changed if k.startswith(FROZEN_AFTER_APPROVAL)]
    else:
        blocked = []
    if blocked:
        raise validation_error(
            f"Field(s) {', '.join(blocked)} cannot be changed while the review status is {status!r}",
            [
                FieldError(k, f"cannot be changed when review status is {status!r}", "INVALID_RESOURCE_STATE")
                for k in blocked
            ],
        )
    if _get(candidate, "LifeCycle.TargetCloseDate") != _get(record, "LifeCycle.TargetCloseDate"):
        _check_target_close_date(candidate.get("LifeCycle"))
    _apply_partner_fields(record, p)
    await _changed(em, record)
    return record


async def list_opportunities(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    store = em.catalog(p["Catalog"])
    items = list(store.opportunities.values())
    if p.get("Identifier"):
        wanted = set(p["Identifier"])
        items = [r for r in items if r["Id"] in wanted]
    if p.get("LifeCycleStage"):
        items = [r for r in items if _get(r, "LifeCycle.Stage") in p["LifeCycleStage"]]
    if p.get("LifeCycleReviewStatus"):
        items = [r for r in items if _get(r, "LifeCycle.ReviewStatus") in p["LifeCycleReviewStatus"]]
    if p.get("CustomerCompanyName"):
        names = {n.lower() for n in p["CustomerCompanyName"]}
        items = [r for r in items if (_get(r, "Customer.Account.CompanyName") or "").lower() in names]
    # After is inclusive and Before exclusive, so consecutive polling windows neither overlap nor miss.
    for field, flt, after_key, before_key in (
        ("LastModifiedDate", p.get("LastModifiedDate"), "AfterLastModifiedDate", "BeforeLastModifiedDate"),
        ("CreatedDate", p.get("CreatedDate"), "AfterCreatedDate", "BeforeCreatedDate"),
    ):
        if flt:
            if flt.get(after_key):
                items = [r for r in items if r[field] >= flt[after_key]]
            if flt.get(before_key):
                items = [r for r in items if r[field] < flt[before_key]]
    tcd = p.get("TargetCloseDate") or {}
    if tcd.get("AfterTargetCloseDate"):
        items = [
            r for r in items if (_get(r, "LifeCycle.TargetCloseDate") or "") >= tcd["AfterTargetCloseDate"]
        ]
    if tcd.get("BeforeTargetCloseDate"):
        items = [
            r
            for r in items
            if (_get(r, "LifeCycle.TargetCloseDate") or "9999") < tcd["BeforeTargetCloseDate"]
        ]
    items = sort_records(
        items,
        p.get("Sort"),
        {
            "LastModifiedDate": lambda r: r["LastModifiedDate"],
            "CreatedDate": lambda r: r["CreatedDate"],
            "Identifier": lambda r: int(r["Id"][1:]),
            "CustomerCompanyName": lambda r: _get(r, "Customer.Account.CompanyName"),
            "TargetCloseDate": lambda r: _get(r, "LifeCycle.TargetCloseDate"),
        },
        "LastModifiedDate",
    )
    chunk, token = page(items, p)
    return {"OpportunitySummaries": chunk, "NextToken": token}


def _solution_must_exist(store: CatalogState, p: dict[str, Any]) -> None:
    if p["RelatedEntityType"] == "Solutions":
        ident = p["RelatedEntityIdentifier"]
        solution = store.solutions.get(ident)
        if solution is None:
            raise not_found("Solution", ident, store.name)
        if solution["Status"] != "Active":
            raise validation_error(
                f"Solution {ident} is {solution['Status']}; only Active solutions can be associated",
                [FieldError("RelatedEntityIdentifier", "solution is not Active", "INVALID_RESOURCE_STATE")],
            )


async def associate_opportunity(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    record = find_opportunity(em, p, "OpportunityIdentifier")
    store = em.catalog(p["Catalog"])
    _solution_must_exist(store, p)
    kind, ident = p["RelatedEntityType"], p["RelatedEntityIdentifier"]
    related = record["RelatedEntityIdentifiers"].setdefault(kind, [])
    if ident in related:
        return {}
    quota = ASSOCIATION_QUOTAS[kind]
    if len(related) >= quota:
        raise validation_error(
            f"Opportunity {record['Id']} already has {len(related)} {kind}; at most {quota} can be associated",
            [
                FieldError(
                    "RelatedEntityIdentifier", f"at most {quota} {kind} per opportunity", "TOO_MANY_VALUES"
                )
            ],
        )
    related.append(ident)
    await _changed(em, record)
    return {}


async def disassociate_opportunity(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    record = find_opportunity(em, p, "OpportunityIdentifier")
    related = record["RelatedEntityIdentifiers"].setdefault(p["RelatedEntityType"], [])
    if p["RelatedEntityIdentifier"] not in related:
        raise ApiError(
            "ResourceNotFoundException",
            f"{p['RelatedEntityType']} {p['RelatedEntityIdentifier']!r} is not associated with {record['Id']}",
        )
    related.remove(p["RelatedEntityIdentifier"])
    await _changed(em, record)
    return {}


async def assign_opportunity(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    record = find_opportunity(em, p)
    record["OpportunityTeam"] = [copy.deepcopy(p["Assignee"])]
    await _changed(em, record)
    return {}


def check_submittable(record: dict[str, Any]) -> None:
    """The business validation AWS runs when an opportunity is submitted for review."""
    status = record["LifeCycle"].get("ReviewStatus")
    if status not in ("Pending Submission", "Action Required"):
        raise validation_error(
            f"Opportunity {record['Id']} has review status {status!r} and cannot be submitted again",
            [FieldError("LifeCycle.ReviewStatus", f"is {status!r}", "INVALID_RESOURCE_STATE")],
        )
    missing = [path for path in SUBMISSION_REQUIRED if not _get(record, path)]
    if missing:
        raise validation_error(
            f"Opportunity {record['Id']} cannot be submitted; missing {', '.join(missing)}",
            [FieldError(path, "is required for submission", "REQUIRED_FIELD_MISSING") for path in missing],
        )


async def apply_submission(
    em: PartnerCentralEmulator, record: dict[str, Any], involvement: str, visibility: str | None
) -> None:
    """Move the opportunity to Submitted and open its AWS-side summary."""
    store = em.catalog(record["Catalog"])
    record["LifeCycle"]["ReviewStatus"] = "Submitted"
    summary = store.aws_summaries.setdefault(
        record["Id"],
        {"Catalog": store.name, "RelatedOpportunityId": record["Id"], "Origin": record["Origin"]},
    )
    summary["InvolvementType"] = involvement
    summary["Visibility"] = visibility or "Full"
    summary.setdefault("LifeCycle", {"Stage": "Not Started"})
    await _changed(em, record)


async def submit_opportunity(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    record = find_opportunity(em, p)
    check_submittable(record)
    await apply_submission(em, record, p["InvolvementType"], p.get("Visibility"))
    return {}


async def get_aws_opportunity_summary(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    record = find_opportunity(em, p, "RelatedOpportunityIdentifier")
    summary = em.catalog(p["Catalog"]).aws_summaries.get(record["Id"])
    if summary is None:
        raise ApiError(
            "ResourceNotFoundException",
            f"Opportunity {record['Id']} has no AWS opportunity summary yet; it is created on submission",
        )
    return {**summary, "RelatedEntityIds": record["RelatedEntityIdentifiers"]}


async def list_solutions(em: PartnerCentralEmulator, p: dict[str, Any]) -> dict[str, Any]:
    items = list(em.catalog(p["Catalog"]).solutions.values())
    for key in ("Status", "Identifier", "Category"):
        if p.get(key):
            field = "Id" if key == "Identifier" else key
            items = [s for s in items if s[field] in p[key]]
    items = sort_records(
        items,
        p.get("Sort"),
        {
            "Identifier": lambda s: int(s["Id"][2:]),
            "Name": lambda s: s["Name"],
            "Status": lambda s: s["Status"],
            "Category": lambda s: s["Category"],
            "CreatedDate": lambda s: s["CreatedDate"],
        },
        "Identifier",
    )
    chunk, token = page(items, p)
    return {"SolutionSummaries": chunk, "NextToken": token}


HANDLERS = {
    "CreateOpportunity": create_opportunity,
    "GetOpportunity": get_opportunity,
    "UpdateOpportunity": update_opportunity,
    "ListOpportunities": list_opportunities,
    "AssociateOpportunity": associate_opportunity,
    "DisassociateOpportunity": disassociate_opportunity,
    "AssignOpportunity": assign_opportunity,
    "SubmitOpportunity": submit_opportunity,
    "GetAwsOpportunitySummary": get_aws_opportunity_summary,
    "ListSolutions": list_solutions,
}
