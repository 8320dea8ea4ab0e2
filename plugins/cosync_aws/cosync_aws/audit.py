"""The AWS connector's audit trail: one entry per effect on Partner Central or HubSpot, through the core's
audit surface (:func:`cosync_worker.connector.record_audit`).

Key scheme: every entry is filed under the opportunity, ``partnercentral:opportunity:<id>`` (the same string
as the queue's ordering key for Partner Central events), with the opportunity id as its alias, so
``GET /audit-trail/O1`` (as seed 002 writes it) and ``GET /audit-trail/partnercentral:opportunity:O1`` both list
everything cosync did for that co-sell deal, on both sides, oldest first. ``detail`` always names the deal
(``deal_id``), the trigger (the event type being handled, or ``api``), the ``calls`` made, ``success`` and
``duration_ms``; updates add ``changes: {field: {old, new}}`` for the system the entry is about (Partner Central
fields by their owned path, HubSpot fields by property name) and ``remote_changes`` when a HubSpot write
reflects Partner Central edits cosync observed. Values only: request bodies, tokens and credentials are never
written here.
"""

from __future__ import annotations

from typing import Any

from cosync_worker.connector import record_audit
from cosync_worker.store import Store

__all__ = ["OBJECT_TYPE", "SYSTEM_HUBSPOT", "SYSTEM_PC", "audit_key", "changes_between", "record"]

SYSTEM_PC = "partnercentral"
SYSTEM_HUBSPOT = "hubspot"
OBJECT_TYPE = "opportunity"


def audit_key(opportunity_id: str) -> str:
    return f"{SYSTEM_PC}:{OBJECT_TYPE}:{opportunity_id}"


def changes_between(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{field: {old, new}}`` for the fields of ``new`` whose value differs in ``old``."""
    return {k: {"old": old.get(k), "new": v} for k, v in new.items() if old.get(k) != v}


async def record(
    store: Store,
    opportunity_id: str,
    action: str,
    system: str,
    deal_id: str | None,
    calls: list[str],
    *,
    success: bool = True,
    **detail: Any,
) -> int:
    """Append one entry (one store write, two the first time this process sees the opportunity) and return
    its sequence number."""
    return await record_audit(
        store,
        system=SYSTEM_PC,
        object_type=OBJECT_TYPE,
        object_id=opportunity_id,
        action=action,
        about=system,
        deal_id=deal_id,
        calls=calls,
        success=success,
        **detail,
    )
