"""The HubSpot deal properties seed 003 names for Microsoft (``get_hubspot_custom_properties_for_microsoft``)."""

from __future__ import annotations

from cosync_worker.hooks import PropertySpec

__all__ = ["MICROSOFT_PROPERTIES"]

_GROUP = "cosync_microsoft"


def _enum(values: tuple[str, ...]) -> tuple[dict[str, object], ...]:
    return tuple({"label": v, "value": v, "displayOrder": i} for i, v in enumerate(values))


MICROSOFT_PROPERTIES: list[PropertySpec] = [
    PropertySpec(
        "deals",
        "microsoft_referral_id",
        "Microsoft referral id",
        group_name=_GROUP,
        description="Id of the Partner Center referral linked to this deal",
    ),
    PropertySpec(
        "deals",
        "microsoft_status",
        "Microsoft referral status",
        type="enumeration",
        field_type="select",
        group_name=_GROUP,
        description="New, Active or Closed (Partner Center ReferralStatus)",
        options=_enum(("New", "Active", "Closed")),
    ),
    PropertySpec(
        "deals",
        "microsoft_substatus",
        "Microsoft referral substatus",
        type="enumeration",
        field_type="select",
        group_name=_GROUP,
        description="Partner Center ReferralSubstatus",
        options=_enum(("Pending", "Received", "Accepted", "Engaged", "Declined", "Lost", "Won", "Expired")),
    ),
    PropertySpec(
        "deals",
        "microsoft_sync_status",
        "Microsoft sync status",
        type="enumeration",
        field_type="select",
        group_name=_GROUP,
        description="synced or error (see Microsoft sync error)",
        options=_enum(("synced", "error")),
    ),
    PropertySpec(
        "deals",
        "microsoft_sync_error",
        "Microsoft sync error",
        field_type="textarea",
        group_name=_GROUP,
        description="Why the last sync with Partner Center failed (fields to fix, or Microsoft's message)",
    ),
]
