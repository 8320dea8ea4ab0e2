"""The HubSpot custom properties the AWS flows read and write (seeds 000-003), for ``cosync properties create``."""

from __future__ import annotations

from cosync_worker.hooks import PropertySpec

__all__ = ["CONFLICT_STATUSES", "ENGAGEMENT_STATUSES", "GROUP", "PROPERTIES"]

GROUP = "aws_partner_central"
CONFLICT_STATUSES = ("None", "Pending", "Resolved")
ENGAGEMENT_STATUSES = ("Active", "Completed", "Cancelled")


def _deal(
    name: str, label: str, kind: str = "string", field: str = "text", description: str = ""
) -> PropertySpec:
    return PropertySpec("deals", name, label, kind, field, GROUP, description)  # type: ignore[arg-type]


PROPERTIES: tuple[PropertySpec, ...] = (
    _deal("aws_opportunity_id", "AWS opportunity ID", description="Partner Central opportunity identifier"),
    _deal("aws_invitation_id", "AWS invitation ID", description="Engagement invitation the deal came from"),
    _deal("aws_sync_status", "AWS sync status", description="synced or error"),
    _deal("aws_sync_error", "AWS sync error", field="textarea", description="Why the last sync failed"),
    _deal("aws_review_status", "AWS review status"),
    _deal("aws_engagement_score", "AWS engagement score", description="High, Medium or Low"),
    _deal("aws_involvement_type", "AWS involvement type"),
    _deal("aws_visibility", "AWS visibility"),
    _deal("aws_next_steps", "AWS next steps", field="textarea"),
    _deal("aws_seller_name", "AWS seller"),
    _deal("aws_last_summary_sync", "AWS last summary sync", "datetime", "date"),
    _deal("aws_submission_date", "AWS submission date", "date", "date"),
    _deal("aws_assigned_partner_user", "AWS assigned partner user"),
    _deal(
        "aws_solution_ids", "AWS solution IDs", description="Comma-separated override of the solution matcher"
    ),
    _deal("aws_use_case", "AWS use case"),
    PropertySpec(
        "deals",
        "aws_conflict_status",
        "AWS conflict status",
        "enumeration",
        "select",
        GROUP,
        "None, Pending (a person must settle a field) or Resolved",
        tuple({"label": v, "value": v, "displayOrder": i} for i, v in enumerate(CONFLICT_STATUSES)),
    ),
    _deal("aws_last_conflict_date", "AWS last conflict date", "datetime", "date"),
    # Seed 002 §2: the engagement lifecycle (engagements.py).
    _deal("aws_engagement_id", "AWS engagement ID"),
    PropertySpec(
        "deals",
        "aws_engagement_status",
        "AWS engagement status",
        "enumeration",
        "select",
        GROUP,
        "Derived from the opportunity's stage: Partner Central engagements carry no status",
        tuple({"label": v, "value": v, "displayOrder": i} for i, v in enumerate(ENGAGEMENT_STATUSES)),
    ),
    _deal("aws_engagement_team", "AWS engagement team", field="textarea", description="Member accounts"),
    _deal("aws_engagement_kickoff_date", "AWS engagement kickoff date", "date", "date"),
    _deal("aws_engagement_close_date", "AWS engagement close date", "date", "date"),
    _deal("aws_engagement_context", "AWS engagement context", field="textarea"),
    _deal("aws_last_engagement_sync", "AWS last engagement sync", "datetime", "date"),
    # Seed 002 §3: the opportunity team (team.py).
    _deal("aws_opportunity_team", "AWS opportunity team", field="textarea", description="JSON of the team"),
    _deal("aws_team_last_sync", "AWS team last sync", "datetime", "date"),
    # Seed 001 §3 and seed 002 §4: resources both ways (resources.py).
    _deal("aws_synced_resources", "AWS synced resources", field="textarea", description="AWS resource ids"),
    _deal("aws_last_resource_sync", "AWS last resource sync", "datetime", "date"),
    _deal("aws_total_resources", "AWS total resources", "number", "number", "AWS and partner resources"),
    _deal("aws_partner_resources", "AWS partner resources", field="textarea", description="JSON of uploads"),
    _deal("aws_last_resource_upload", "AWS last resource upload", "datetime", "date"),
    # Seed 002's property table and seed 003's title; AWS's review feedback (seed 000 §4).
    _deal("aws_opportunity_title", "AWS opportunity title", description="Project.Title in Partner Central"),
    _deal("aws_last_sync_date", "AWS last sync date", "datetime", "date"),
    _deal(
        "aws_last_sync_by",
        "AWS last sync by",
        description="Who or what caused the last sync: rep, AWS, cosync rule or an API caller",
    ),
    _deal("aws_contact_company_last_sync", "AWS contact/company last sync", "datetime", "date"),
    _deal("aws_review_comments", "AWS review comments", field="textarea", description="AWS's feedback"),
)
