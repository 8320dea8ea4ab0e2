"""A lead creation interrupted between ``leads.create`` and recording its answer (a kill, a lost reply).

The Cloud CRM Partners API cannot find a lead by ``externalSystemId``: it has no list or filter method and
``leads.create`` takes no request id (https://developers.google.com/cloud-crm-partners/reference/rest), so
creating again could make a second lead and nothing can look the first one up. What the rerun can do is
adopt the lead a person names on the deal (``gcp_lead_name``, or ``gcp_opportunity_id`` from Google's
notification, whose ``lead`` it follows), once ``leads.get`` shows that lead was made from this deal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .client import CloudCrmPartnersClient, GoogleApiError
from .mapping import external_id

__all__ = ["interrupted_lead"]


async def interrupted_lead(
    google: CloudCrmPartnersClient, deal_id: str, props: Mapping[str, Any]
) -> tuple[str | None, str]:
    """``(lead name, "")`` when the deal names a lead created from it; else ``(None, why not)``."""
    wanted = external_id(deal_id)
    named = str(props.get("gcp_lead_name") or "")
    try:
        if not named and props.get("gcp_opportunity_id"):
            opportunity = await google.get_opportunity(str(props["gcp_opportunity_id"]))
            named = str(opportunity.get("lead") or "")
        if not named:
            return None, (
                "lead creation was interrupted and Google cannot look leads up: find the lead with "
                f"externalSystemId {wanted} in the Partners portal and set gcp_lead_name (or "
                "gcp_opportunity_id) on the deal; the next sync adopts it and creates nothing"
            )
        lead = await google.get_lead(named)
    except ValueError:
        return None, "gcp_lead_name or gcp_opportunity_id on the deal is not a Google resource name or id"
    except GoogleApiError as exc:
        return None, f"the lead or opportunity named on the deal cannot be read: {exc.reason}"
    if lead.get("externalSystemId") != wanted:
        return None, f"lead {lead.get('name')} was not created from this deal (externalSystemId); not adopted"
    return str(lead["name"]), ""
