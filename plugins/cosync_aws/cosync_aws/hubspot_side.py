"""The HubSpot half of every flow: the shared client, a deal with its company and contacts in as few calls
as HubSpot allows, and notes on deals. Every HubSpot call goes through ``cosync_worker.hubspot``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cosync_worker.config import ConfigError
from cosync_worker.connector import ConflictError
from cosync_worker.hooks import Context
from cosync_worker.hubspot import HubSpotClient
from cosync_worker.logs import get_logger

from .mapping import COMPANY_PROPERTIES, CONTACT_PROPERTIES, DEAL_PROPERTIES
from .state import link_to, note_key

if TYPE_CHECKING:
    from .deps import Deps

__all__ = [
    "NOTE_TTL",
    "DealBundle",
    "add_note",
    "build_hubspot_client",
    "deal_for",
    "hubspot",
    "link_opportunity",
    "mapped_deal",
    "note_input",
    "note_once",
    "read_deal",
]

# Note -> deal association type id (HUBSPOT_DEFINED 214):
# https://developers.hubspot.com/docs/api/crm/associations/v4#association-type-id-values
NOTE_TO_DEAL = 214
NOTE_TTL = 90 * 86_400.0

log = get_logger("cosync.aws")


def build_hubspot_client(context: Context) -> HubSpotClient:
    """The process's HubSpot client from ``settings.hubspot`` (rate budget shared through the store)."""
    hs = context.settings.hubspot
    if hs.access_token is None:
        raise ConfigError(["hubspot.access_token: required when connectors.aws is enabled"])
    return HubSpotClient(
        hs.base_url,
        hs.access_token.get(),
        store=context.store,
        requests_per_10s=hs.requests_per_10s,
        search_per_second=hs.search_per_second,
    )


def hubspot(context: Context) -> HubSpotClient:
    client: HubSpotClient = context.service("hubspot")
    return client


@dataclass
class DealBundle:
    deal_id: str
    deal: dict[str, Any]
    company: dict[str, Any] | None = None
    contacts: list[dict[str, Any]] = field(default_factory=list)
    read_at_ms: int = 0
    # The deal's company and contacts as associated when read (``company:<id>``, ``contact:<id>``...);
    # None when the bundle was not made by :func:`read_deal`.
    customer_ids: list[str] | None = None
    # True: the company and contacts were not read, since the caller's copy of them names the same ones.
    customer_cached: bool = False
    # Not read at all: the deal's copy with this change event's value applied (outbound.Change).
    change: Any = None


def _linked(record: dict[str, Any], kind: str) -> list[str]:
    holder = (record.get("associations") or {}).get(kind) or {}
    return [str(r["id"]) for r in holder.get("results") or [] if r.get("id") is not None]


async def read_deal(hs: HubSpotClient, deal_id: str, known_customer: list[str] | None = None) -> DealBundle:
    """The deal with associations inline (1 call), then its company and contacts (1 batch read each).

    ``known_customer``: the ``customer_ids`` of the caller's copy of the company and contacts. When the deal
    is still associated with exactly those, they are not read (``customer_cached``): a change to them has
    its own webhook, which pushes it (flow 4) with a full read."""
    read_at = int(time.time() * 1000)
    record = await hs.get(
        "deals", deal_id, properties=DEAL_PROPERTIES, associations=("companies", "contacts")
    )
    company_ids, contact_ids = _linked(record, "companies"), _linked(record, "contacts")
    ids = [f"company:{c}" for c in company_ids[:1]] + [f"contact:{c}" for c in contact_ids[:20]]
    if known_customer is not None and ids == known_customer:
        return DealBundle(
            deal_id, record.get("properties") or {}, None, [], read_at, ids, customer_cached=True
        )
    company = None
    if company_ids:
        companies = await hs.batch_read("companies", company_ids[:1], properties=COMPANY_PROPERTIES)
        company = companies[0].get("properties") or {} if companies else None
    contacts = []
    if contact_ids:
        found = await hs.batch_read("contacts", contact_ids[:20], properties=CONTACT_PROPERTIES)
        contacts = [c.get("properties") or {} for c in found]
    return DealBundle(deal_id, record.get("properties") or {}, company, contacts, read_at, ids)


def note_input(deal_id: str, text: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The properties and inline association of a note on the deal's timeline."""
    props = {"hs_note_body": text, "hs_timestamp": str(int(time.time() * 1000))}
    link = {
        "to": {"id": deal_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_DEAL}],
    }
    return props, [link]


async def add_note(hs: HubSpotClient, deal_id: str, text: str) -> str:
    """A note on the deal's timeline; returns the note id."""
    props, associations = note_input(deal_id, text)
    note = await hs.create("notes", props, associations=associations)
    return str(note.get("id", ""))


async def note_once(deps: Deps, kind: str, ident: str, deal_id: str, text: str) -> None:
    """One note per (kind, ident) even if the event runs again."""
    key = note_key(kind, ident)
    if not await deps.store.claim_key(key, NOTE_TTL):
        return
    try:
        await add_note(deps.hs, deal_id, text)
    except Exception:
        await deps.store.release_key(key)
        raise


async def mapped_deal(deps: Deps, opp_id: str) -> str | None:
    """The deal the store maps the opportunity to (``aws:opportunity:<id>``), without a search."""
    return (await deps.opportunities.read(opp_id)).value.deal_id


async def link_opportunity(deps: Deps, opp_id: str, deal_id: str) -> str:
    """Map the opportunity to ``deal_id`` unless it is mapped already, and return the deal it is mapped to.

    The map is written once, by compare-and-set: a second deal named for the same opportunity (two flows that
    each found or made one) never replaces the first, which stays the opportunity's deal; the caller learns
    it from the answer and the log says which two met."""
    found = await deps.opportunities.read(opp_id)
    current = found.value.deal_id
    if current is None:
        try:
            await deps.opportunities.write(opp_id, link_to(deal_id)(found.value), found.version)
            current = deal_id
        except ConflictError:  # linked meanwhile: every write of the record is a link, so it names a deal
            current = await mapped_deal(deps, opp_id) or deal_id
    if current != deal_id:
        log.warning("aws_opportunity_mapped_elsewhere", opportunity_id=opp_id, deal_id=current, other=deal_id)
    return current


async def deal_for(deps: Deps, opp_id: str) -> str | None:
    """The deal of an opportunity: the stored mapping, else a search by ``aws_opportunity_id`` (then stored)."""
    mapped = await mapped_deal(deps, opp_id)
    if mapped:
        return mapped
    found = await deps.hs.search_all(
        "deals",
        filter_groups=[
            {"filters": [{"propertyName": "aws_opportunity_id", "operator": "EQ", "value": opp_id}]}
        ],
        properties=["aws_opportunity_id"],
        limit=1,
    )
    if not found:
        return None
    return await link_opportunity(deps, opp_id, str(found[0]["id"]))
