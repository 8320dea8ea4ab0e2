"""Finding the Opportunity Google made from a Lead.

The public API has no list method and a Lead does not name its Opportunity (only ``Opportunity.lead``
points back), so there is no production lookup by lead. :class:`LeadLinkLocator` asks ``leads.get`` anyway
and adopts an ``opportunity`` field should Google ever add one; otherwise the opportunity id reaches cosync
through the deal's ``gcp_opportunity_id`` (entered from Google's notification). :class:`SandboxLocator`
uses the emulator's operator API and must never point at Google.
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


class LeadLinkLocator:
    def __init__(self, client: CloudCrmPartnersClient) -> None:
        self.client = client

    async def find(self, lead_name: str) -> str | None:
        lead = await self.client.get_lead(lead_name)
        link = lead.get("opportunity")
        return link if isinstance(link, str) and link else None


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
