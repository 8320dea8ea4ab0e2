"""The AWS connector's audit trail: one entry per effect on Partner Central or HubSpot, in the store.

Key scheme: every entry is filed under the opportunity, ``partnercentral:opportunity:<id>`` (the same string
as the queue's ordering key for Partner Central events), so ``GET /audit-trail/partnercentral:opportunity:O1``
lists everything cosync did for that co-sell deal, on both sides, oldest first. ``detail`` always names the
deal (``deal_id``), the trigger (the event type being handled, or ``api``) and the ``calls`` made; updates add
``changes: {field: {old, new}}`` for the system the entry is about (Partner Central fields by their owned path,
HubSpot fields by property name) and ``remote_changes`` when a HubSpot write reflects Partner Central edits
cosync observed. Values only: request bodies, tokens and credentials are never written here.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any

from cosync_worker.store import AuditEntry, Store

__all__ = ["SYSTEM_HUBSPOT", "SYSTEM_PC", "TRIGGER", "audit_key", "changes_between", "record"]

SYSTEM_PC = "partnercentral"
SYSTEM_HUBSPOT = "hubspot"
# Set by the plugin's event hook for the event being handled: every effect below it names its trigger.
TRIGGER: ContextVar[str] = ContextVar("cosync_aws_trigger", default="api")


def audit_key(opportunity_id: str) -> str:
    return f"partnercentral:opportunity:{opportunity_id}"


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
    **detail: Any,
) -> int:
    """Append one entry (one store write) and return its sequence number."""
    body: dict[str, Any] = {"deal_id": deal_id, "trigger": TRIGGER.get(), "calls": calls}
    body.update({k: v for k, v in detail.items() if v is not None})
    return await store.append_audit(
        AuditEntry(
            object_key=audit_key(opportunity_id),
            system=system,
            action=action,
            detail=body,
            at=time.time(),
        )
    )
