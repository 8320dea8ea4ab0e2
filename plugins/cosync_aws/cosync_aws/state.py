"""Keys of what the connector keeps in the state store (one place, so every module agrees)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cosync_worker.store import Store

__all__ = [
    "RECONCILE_CURSOR",
    "deal_key",
    "invitation_key",
    "note_key",
    "opportunity_key",
    "patch_state",
    "related_key",
]

RECONCILE_CURSOR = "aws:reconcile:last_modified"


def deal_key(deal_id: str) -> str:
    """``{"opportunity_id", "owned", "hubspot", "read_at_ms", ...}``: the last state synced for a deal."""
    return f"aws:deal:{deal_id}"


def opportunity_key(opportunity_id: str) -> str:
    """``{"deal_id"}``: which deal an opportunity belongs to, without a HubSpot search."""
    return f"aws:opportunity:{opportunity_id}"


def invitation_key(invitation_id: str) -> str:
    """``{"task_id", "opportunity_id", "deal_id"}``: how far accepting an invitation got."""
    return f"aws:invitation:{invitation_id}"


def note_key(kind: str, ident: str) -> str:
    return f"aws:note:{kind}:{ident}"


def related_key(object_type: str, object_id: str) -> str:
    """``{"read_at_ms"}``: when the last push for a company's or contact's change read HubSpot (coalescing)."""
    return f"aws:related:{object_type}:{object_id}"


async def patch_state(store: Store, key: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Read the state afresh, apply ``change`` and write it back at once.

    A deal's state is written by handlers under different ordering keys (the HubSpot deal and the Partner
    Central opportunity), so a copy read before a long call (a task, a HubSpot request) must not be written
    back whole: it would undo what the other handler wrote meanwhile. Patching right after a fresh read leaves
    only the store round trip as a window.
    """
    state = await store.get_state(key) or {}
    change(state)
    await store.put_state(key, state)
    return state
