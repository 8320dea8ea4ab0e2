"""The Google connector's part in ``cosync link`` / ``cosync backfill`` (hook ``cosync_linkers``).

The Cloud CRM Partners API has no list method (https://developers.google.com/cloud-crm-partners/reference/rest),
so there is nothing remote to list or score: the exact matches are the Google ids already on deals
(``gcp_lead_name``, or ``gcp_opportunity_id`` entered from Google's notification), adopted by recording the
connector's state with nothing sent; a tagged deal without either gets its lead through the connector's own
creation flow (which never creates a second lead for an interrupted first: it stops and says so).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cosync_worker.connector import has_tag
from cosync_worker.hooks import LinkerSpec, RemoteRecord

from .sync import DealState

if TYPE_CHECKING:
    from .sync import LeadSync

__all__ = ["gcp_linker"]

ID_PROPERTY = "gcp_lead_name"
OPPORTUNITY_PROPERTY = "gcp_opportunity_id"


def _adopted(connector: LeadSync, props: Any) -> DealState | None:
    lead, opportunity = props.get(ID_PROPERTY), props.get(OPPORTUNITY_PROPERTY)
    if lead:
        # As deal_created adopts a lead named on the deal; the refresh finds its opportunity.
        return DealState(status="lead_created", lead_name=str(lead))
    if opportunity:
        return DealState(
            status="linked",
            opportunity_name=connector.google.resource_name("opportunities", str(opportunity)),
        )
    return None


def gcp_linker(connector: LeadSync) -> LinkerSpec:
    settings = connector.settings

    async def link(deal_id: str, props: Any, record: RemoteRecord | None) -> None:
        adopted = _adopted(connector, props)
        if adopted is None:
            return
        async with connector.deal_lock(deal_id):
            known = (await connector.deals.read(deal_id)).value
            if known.lead_name or known.opportunity_name or known.status == "creating":
                return  # the connector got here first (or a creation is in doubt: never overwritten)
            await connector.deals.update(
                deal_id, lambda s: s if (s.lead_name or s.opportunity_name) else adopted
            )

    async def create_remote(deal_id: str) -> str | None:
        await connector.deal_created(deal_id)
        return (await connector.deals.read(deal_id)).value.lead_name

    return LinkerSpec(
        connector=connector.name,
        id_property=ID_PROPERTY,
        also_ids=(OPPORTUNITY_PROPERTY,),
        tagged=lambda props: has_tag(props.get("dealname"), settings.deal_tag),
        link=link,
        create_remote=create_remote,
        label="Google Cloud CRM Partners leads",
    )
