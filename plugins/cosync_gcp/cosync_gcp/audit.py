"""The Google connector's audit trail: one entry per write to the Cloud CRM Partners API, through the core's
audit surface (:func:`cosync_worker.connector.record_audit`).

Leads and opportunities are separate resources in the API (a lead is created, Google links an opportunity to
it: https://developers.google.com/cloud-crm-partners/reference/rest), so each has its own trail,
``google:lead:<id>`` and ``google:opportunity:<id>``, aliased by the bare id (the last segment of the resource
name, what ``gcp_opportunity_id`` holds): ``GET /audit-trail/<id>`` finds it.
"""

from __future__ import annotations

from typing import Any

from cosync_worker.connector import record_audit
from cosync_worker.store import Store

__all__ = ["SYSTEM", "lead_created", "opportunity_patched"]

SYSTEM = "google"


def _id(resource_name: str) -> str:
    return str(resource_name).rsplit("/", 1)[-1]


async def lead_created(store: Store, deal_id: str, lead_name: str) -> None:
    await record_audit(
        store,
        system=SYSTEM,
        object_type="lead",
        object_id=_id(lead_name),
        action="create_lead",
        about=SYSTEM,
        deal_id=deal_id,
        calls=["leads.create"],
        name=lead_name,
    )


async def opportunity_patched(
    store: Store,
    deal_id: str,
    opportunity_name: str,
    sent: dict[str, Any],
    synced: dict[str, Any],
    mask: list[str],
    *,
    error: str | None = None,
) -> None:
    """``sent`` are the deal's changed properties, ``synced`` what cosync had sent of them before."""
    await record_audit(
        store,
        system=SYSTEM,
        object_type="opportunity",
        object_id=_id(opportunity_name),
        action="update_opportunity",
        about=SYSTEM,
        deal_id=deal_id,
        calls=["opportunities.patch"],
        success=error is None,
        changes={k: {"old": synced.get(k), "new": v} for k, v in sent.items()},
        update_mask=mask,
        error=error,
    )
