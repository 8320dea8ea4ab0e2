"""Finding the Opportunity Google made from a Lead, and the Lead made from a deal.

The public API has no list method and a Lead does not name its Opportunity (only ``Opportunity.lead``
points back), so there is no production lookup by lead. :class:`LeadLinkLocator` asks ``leads.get`` anyway
and adopts an ``opportunity`` field should Google ever add one; otherwise the opportunity id reaches cosync
through the deal's ``gcp_opportunity_id`` (entered from Google's notification). Nor can a lead be found by
``externalSystemId``, so after a creation whose answer was lost only a person can name the lead.
:class:`SandboxLocator` uses the emulator's operator API for both and must never point at Google.
"""

from __future__ import annotations

from typing import Any, Protocol

import aiohttp

from .client import CloudCrmPartnersClient

__all__ = ["LeadLinkLocator", "OpportunityLocator", "SandboxLocator"]


class OpportunityLocator(Protocol):
    async def find(self, lead_name: str) -> str | None:
        """The opportunity resource name linked to ``lead_name``, or None when unknown (yet)."""
        ...

    async def leads_from(self, external_id: str) -> list[str] | None:
        """The names of the leads created with ``external_id`` ([] when none was), or None: cannot tell."""
        ...


class LeadLinkLocator:
    def __init__(self, client: CloudCrmPartnersClient) -> None:
        self.client = client

    async def find(self, lead_name: str) -> str | None:
        lead = await self.client.get_lead(lead_name)
        link = lead.get("opportunity")
        return link if isinstance(link, str) and link else None

    async def leads_from(self, external_id: str) -> list[str] | None:
        return (
            None  # no list or filter method (https://developers.google.com/cloud-crm-partners/reference/rest)
        )


class SandboxLocator:
    """``GET /_sandbox/opportunities?lead=<lead name>`` of the Google emulator (sandbox only)."""

    def __init__(self, operator_url: str, session: aiohttp.ClientSession) -> None:
        self.operator_url = operator_url.rstrip("/")
        self.session = session

    async def find(self, lead_name: str) -> str | None:
        url = f"{self.operator_url}/_sandbox/opportunities"
        async with self.session.get(url, params={"lead": lead_name}) as resp:
            if resp.status != 200:
                return None
            data: Any = await resp.json()
        items = data.get("opportunities") if isinstance(data, dict) else None
        for item in items or []:
            if isinstance(item, dict) and item.get("lead") == lead_name and item.get("name"):
                return str(item["name"])
        return None

    async def leads_from(self, external_id: str) -> list[str] | None:
        url = f"{self.operator_url}/_sandbox/leads"
        async with self.session.get(url, params={"externalSystemId": external_id}) as resp:
            if resp.status != 200:
                return None
            data: Any = await resp.json()
        names = data.get("leads") if isinstance(data, dict) else None
        if not isinstance(names, list):
            return None
        return [str(n) for n in names if isinstance(n, str) and n]
