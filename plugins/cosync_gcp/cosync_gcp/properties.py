"""The HubSpot deal properties the seed names for Google Cloud, plus the Google-owned state written back."""

from __future__ import annotations

from cosync_worker.hooks import PropertySpec

__all__ = ["GCP_PROPERTIES"]

_GROUP = "cosync_gcp"

GCP_PROPERTIES: list[PropertySpec] = [
    PropertySpec(
        "deals",
        "gcp_opportunity_id",
        "GCP opportunity id",
        group_name=_GROUP,
        description="Id of the Cloud CRM Partners opportunity; enter Google's id here to link it",
    ),
    PropertySpec(
        "deals",
        "gcp_opportunity_name",
        "GCP opportunity name",
        group_name=_GROUP,
        description="Resource name partners/{p}/opportunities/{id}",
    ),
    PropertySpec(
        "deals",
        "gcp_lead_name",
        "GCP lead name",
        group_name=_GROUP,
        description="Resource name of the lead cosync created from this deal",
    ),
    PropertySpec(
        "deals",
        "gcp_sync_status",
        "GCP sync status",
        group_name=_GROUP,
        description="lead_created, awaiting_opportunity, synced or error",
    ),
    PropertySpec(
        "deals",
        "gcp_sync_error",
        "GCP sync error",
        field_type="textarea",
        group_name=_GROUP,
        description="Why the last sync failed (names the missing fields or Google's message)",
    ),
    PropertySpec(
        "deals",
        "gcp_product_family",
        "GCP product family",
        group_name=_GROUP,
        description="ProductFamily enum for the lead, e.g. GOOGLE_CLOUD_PLATFORM",
    ),
    PropertySpec("deals", "gcp_sales_stage", "GCP sales stage", group_name=_GROUP),
    PropertySpec("deals", "gcp_qualification_state", "GCP qualification state", group_name=_GROUP),
    PropertySpec("deals", "gcp_decision_phase", "GCP decision phase", group_name=_GROUP),
    PropertySpec("deals", "gcp_win_probability", "GCP win probability", group_name=_GROUP),
]
