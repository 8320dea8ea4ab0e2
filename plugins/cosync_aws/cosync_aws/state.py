"""Keys of what the connector keeps in the state store (one place, so every module agrees)."""

from __future__ import annotations

__all__ = ["RECONCILE_CURSOR", "deal_key", "invitation_key", "note_key", "opportunity_key"]

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
