"""A lead creation whose outcome is unknown: killed between ``leads.create`` and recording its answer, or the
answer lost (a 5xx, a timeout, a dropped connection after the request was sent).

The Cloud CRM Partners API cannot find a lead by ``externalSystemId``: it has no list or filter method and
``leads.create`` takes no request id (https://developers.google.com/cloud-crm-partners/reference/rest), so
creating again could make a second lead and nothing can look the first one up. What the rerun can do is
adopt the lead a person names on the deal (``gcp_lead_name``, or ``gcp_opportunity_id`` from Google's
notification, whose ``lead`` it follows), once ``leads.get`` shows that lead was made from this deal. Where
the locator can look leads up (the sandbox's operator API), its answer stands in for the person: the lead
found is adopted the same way, and "none" proves the creation was not applied, so it may be made again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .client import CloudCrmPartnersClient, GoogleApiError
from .locator import OpportunityLocator
from .mapping import external_id

__all__ = ["interrupted_lead"]


async def interrupted_lead(
    google: CloudCrmPartnersClient, locator: OpportunityLocator, deal_id: str, props: Mapping[str, Any]
) -> tuple[str | None, str]:
    """``(lead name, "")`` when a lead created from the deal is known; ``(None, why not)`` while in doubt;
    ``(None, "")`` when no lead was created, so creating it is safe."""
    wanted = external_id(deal_id)
    named = str(props.get("gcp_lead_name") or "")
    try:
        if not named and props.get("gcp_opportunity_id"):
            opportunity = await google.get_opportunity(str(props["gcp_opportunity_id"]))
            named = str(opportunity.get("lead") or "")
        if not named:
            found = await locator.leads_from(wanted)
            if found == []:
                return None, ""
            if not found:
                return None, (
                    "lead creation was interrupted before its answer was recorded (it may have created a "
                    "lead) and Google cannot look leads up: find the lead with externalSystemId "
                    f"{wanted} in the Partners portal and set gcp_lead_name (or gcp_opportunity_id) on the "
                    "deal; the next sync adopts it and creates nothing"
                )
            named = found[0]
        lead = await google.get_lead(named)
    except ValueError:
        return None, "gcp_lead_name or gcp_opportunity_id on the deal is not a Google resource name or id"
    except GoogleApiError as exc:
        return None, f"the lead or opportunity named on the deal cannot be read: {exc.reason}"
    if lead.get("externalSystemId") != wanted:
        return None, f"lead {lead.get('name')} was not created from this deal (externalSystemId); not adopted"
    return str(lead["name"]), ""
