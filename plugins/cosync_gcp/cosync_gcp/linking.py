"""The Google connector's part in ``cosync link`` / ``cosync backfill`` (hook ``cosync_linkers``).

The Cloud CRM Partners API has no list method (https://developers.google.com/cloud-crm-partners/reference/rest),
so there is nothing remote to list or score: the exact matches are the Google ids already on deals
(``gcp_lead_name``, or ``gcp_opportunity_id`` entered from Google's notification), adopted by recording the
connector's state with nothing sent; a tagged deal without either gets its lead through the connector's own
creation flow (which never creates a second lead for an interrupted first).

A backfill reads the opportunity of each linked deal (``opportunities.get``, found as the connector finds
it) and reconciles the patchable fields that differ in the direction the connector pushes them: the deal's
values are sent with ``opportunities.patch``, Google's own fields keep coming back with the refresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cosync_worker.connector import has_tag
from cosync_worker.hooks import LinkerSpec, RemoteRecord

from .client import GoogleApiError
from .config import GcpConfig
from .mapping import PATCHABLE_DEAL_PROPERTIES, LeadInputError, opportunity_patch
from .sync import DealState

if TYPE_CHECKING:
    from .sync import LeadSync

__all__ = ["InterruptedCreation", "differences", "gcp_linker"]

ID_PROPERTY = "gcp_lead_name"
OPPORTUNITY_PROPERTY = "gcp_opportunity_id"


class InterruptedCreation(Exception):
    """A lead creation was cut short before its answer was recorded: a person must name the lead."""


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


def _shown(value: Any) -> Any:
    if isinstance(value, dict) and {"year", "month", "day"} <= set(value):
        return f"{value['year']:04d}-{value['month']:02d}-{value['day']:02d}"
    return value


def differences(props: Any, record: RemoteRecord, settings: GcpConfig) -> dict[str, tuple[Any, Any]]:
    """The patchable deal fields whose value, mapped as a patch would send it, the opportunity lacks. A blank
    deal field is not a difference: a first reconcile never clears what Google holds."""
    found: dict[str, tuple[Any, Any]] = {}
    for prop in PATCHABLE_DEAL_PROPERTIES:
        value = props.get(prop)
        if value in (None, ""):
            continue
        try:
            patch = opportunity_patch({prop: value}, settings)
        except LeadInputError:
            continue  # unusable on the deal: the connector's own push reports it
        for path in patch.mask:
            if patch.body.get(path) != record.raw.get(path):
                found[prop] = (value, _shown(record.raw.get(path)))
    return found


def gcp_linker(connector: LeadSync) -> LinkerSpec:
    settings = connector.settings

    async def settled(deal_id: str) -> DealState:
        state = (await connector.deals.read(deal_id)).value
        if state.status == "creating":
            # Reported as failed, not done: each rerun tries to adopt the lead again and never creates one.
            raise InterruptedCreation(
                f"the lead of deal {deal_id} is in doubt; see the deal's gcp_sync_error"
            )
        return state

    async def link(deal_id: str, props: Any, record: RemoteRecord | None) -> None:
        adopted = _adopted(connector, props)
        if adopted is None:
            return
        async with connector.deal_lock(deal_id):
            known = (await connector.deals.read(deal_id)).value
            if known.lead_name or known.opportunity_name:
                return  # the connector got here first
            if known.status != "creating":
                await connector.deals.update(
                    deal_id, lambda s: s if (s.lead_name or s.opportunity_name) else adopted
                )
                return
        # A creation in doubt: the connector's own flow adopts the named lead only once Google shows it is
        # this deal's (recovery.interrupted_lead), never by overwriting the state here.
        await connector.deal_created(deal_id)
        await settled(deal_id)

    async def opportunity_of(deal_id: str, props: Any) -> str | None:
        known = (await connector.deals.read(deal_id)).value.opportunity_name
        if known:
            return known
        if props.get(OPPORTUNITY_PROPERTY):
            return connector.google.resource_name("opportunities", str(props[OPPORTUNITY_PROPERTY]))
        return await connector.locator.find(str(props[ID_PROPERTY]))

    async def read_linked(pairs: Sequence[tuple[str, Any]]) -> list[RemoteRecord]:
        gate = asyncio.Semaphore(settings.refresh_concurrency)

        async def one(deal_id: str, props: Any) -> RemoteRecord | None:
            async with gate:
                try:
                    name = await opportunity_of(deal_id, props)
                    opportunity = await connector.google.get_opportunity(name) if name else None
                except (GoogleApiError, ValueError):
                    return None  # unreadable: nothing to compare; the connector's own flow reports it
            lead = props.get(ID_PROPERTY)
            if opportunity is None or (lead and opportunity.get("lead") != lead):
                return None  # not (yet) the lead's opportunity: never reconciled against another
            carried = str(props.get(ID_PROPERTY) or props.get(OPPORTUNITY_PROPERTY))
            return RemoteRecord(carried, deal_id=deal_id, label=str(opportunity["name"]), raw=opportunity)

        found = await asyncio.gather(*(one(d, p) for d, p in pairs))
        return [r for r in found if r is not None]

    async def reconcile(deal_id: str, props: Any, record: RemoteRecord | None) -> None:
        fields = set(differences(props, record, settings)) if record is not None else set()
        if record is None or not fields:
            return
        async with connector.deal_lock(deal_id):
            state = (await connector.deals.read(deal_id)).value
            if not (state.lead_name or state.opportunity_name):
                return  # not linked, or a creation in doubt: never touched here
            # Forgotten from the snapshot of what was last sent, so the connector's push sends them again.
            await connector.deals.update(
                deal_id,
                lambda s: s.model_copy(
                    update={"hubspot": {k: v for k, v in s.hubspot.items() if k not in fields}}
                ),
            )
        if state.opportunity_name:
            await connector.deal_changed(deal_id, sorted(fields)[0], None)
        else:
            # Adopted from the lead alone: linking the opportunity found pushes the deal's values.
            await connector.deal_changed(
                deal_id, OPPORTUNITY_PROPERTY, str(record.raw["name"]).rsplit("/", 1)[-1]
            )

    async def create_remote(deal_id: str) -> str | None:
        await connector.deal_created(deal_id)
        return (await settled(deal_id)).lead_name

    return LinkerSpec(
        connector=connector.name,
        id_property=ID_PROPERTY,
        also_ids=(OPPORTUNITY_PROPERTY,),
        tagged=lambda props: has_tag(props.get("dealname"), settings.deal_tag),
        link=link,
        create_remote=create_remote,
        read_linked=read_linked,
        differences=lambda props, record: differences(props, record, settings),
        reconcile=reconcile,
        deal_properties=PATCHABLE_DEAL_PROPERTIES,
        label="Google Cloud CRM Partners leads",
    )
