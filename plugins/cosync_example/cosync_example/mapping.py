"""Pure mapping between a HubSpot deal and a desk ticket: plain functions, tested without any I/O."""

from __future__ import annotations

from typing import Any

__all__ = ["DEAL_PROPERTIES", "changed_fields", "ticket_fields"]

# What the connector reads of a deal; what it writes back is in plugin.PROPERTIES.
DEAL_PROPERTIES = ("dealname", "dealstage", "amount")
_SUBJECT_LIMIT = 200  # the desk refuses a longer subject


def _amount(value: Any) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


def ticket_fields(deal: dict[str, Any]) -> dict[str, Any]:
    """The ticket a deal's properties call for (``subject``, ``stage``, ``amount``)."""
    return {
        "subject": str(deal.get("dealname") or "").strip()[:_SUBJECT_LIMIT],
        "stage": deal.get("dealstage") or None,
        "amount": _amount(deal.get("amount")),
    }


def changed_fields(pushed: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """What the desk does not hold yet: the fields of ``wanted`` that differ from what was last pushed."""
    return {name: value for name, value in wanted.items() if pushed.get(name) != value}
