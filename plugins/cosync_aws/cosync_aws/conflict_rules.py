"""Pure conflict logic for the AWS connector (no I/O; tested on its own): which fields can conflict, how a
value looks on each side, detection against the last synced state, choosing a winner, and an owned field's
value at a past time from the audit trail.

Detection follows the seed's rule: a field conflicts when both HubSpot and Partner Central changed it since
cosync last synced it (``state["owned"]``, the base) and they now disagree. ``window_seconds`` only labels
the conflict: changes closer together than the window are ``SIMULTANEOUS_UPDATE``, others ``STALE_DATA``
(one side worked from a value the other had already replaced).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "CONFLICT_FIELDS",
    "STRATEGIES",
    "ConflictRules",
    "Strategy",
    "conflict_kind",
    "detect",
    "hubspot_value",
    "pc_display",
    "value_at",
    "winner",
]

Strategy = Literal["LAST_WRITE_WINS", "HUBSPOT_WINS", "PARTNER_CENTRAL_WINS", "MANUAL"]
STRATEGIES: tuple[str, ...] = ("LAST_WRITE_WINS", "HUBSPOT_WINS", "PARTNER_CENTRAL_WINS", "MANUAL")
# HubSpot property -> owned path: the fields both sides can edit. The title is left out (HubSpot's name
# carries the deal tag, so a conflict on it could untag the deal); AWS-owned fields cannot conflict.
CONFLICT_FIELDS: dict[str, str] = {
    "dealstage": "LifeCycle.Stage",
    "closedate": "LifeCycle.TargetCloseDate",
    "amount": "Project.ExpectedCustomerSpend",
    "description": "Project.CustomerBusinessProblem",
}
PATH_FIELDS = {path: prop for prop, path in CONFLICT_FIELDS.items()}


class ConflictRules(BaseModel):
    """``connectors.aws.conflicts``: how a field both sides changed is settled."""

    model_config = ConfigDict(extra="forbid")

    default_strategy: Strategy = "LAST_WRITE_WINS"
    field_strategies: dict[str, Strategy] = Field(default_factory=dict)
    manual_fields: list[str] = Field(default_factory=list, description="fields a person must settle")
    window_seconds: float = Field(5.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _check(self) -> ConflictRules:
        known = ", ".join(CONFLICT_FIELDS)
        for where, names in (
            ("field_strategies", self.field_strategies),
            ("manual_fields", self.manual_fields),
        ):
            bad = sorted(set(names) - set(CONFLICT_FIELDS))
            if bad:
                raise ValueError(f"conflicts.{where}: {', '.join(bad)} cannot conflict (fields: {known})")
        both = sorted(set(self.field_strategies) & set(self.manual_fields))
        if both:
            raise ValueError(f"conflicts: {', '.join(both)} both in field_strategies and manual_fields")
        return self

    def strategy_for(self, field: str) -> Strategy:
        if field in self.manual_fields:
            return "MANUAL"
        return self.field_strategies.get(field, self.default_strategy)


def pc_display(path: str, value: Any) -> Any:
    """How a person reads an owned value: the amount rather than the whole spend list."""
    if value is None:
        return None
    if path == "Project.ExpectedCustomerSpend":
        return str((value or [{}])[0].get("Amount")) if value else None
    if path == "LifeCycle.TargetCloseDate":
        return str(value)[:10]
    return value


def hubspot_value(path: str, display: Any, reverse_stage: Callable[[str], str | None]) -> str | None:
    """The HubSpot property value for a Partner Central value shown with :func:`pc_display`."""
    if display is None:
        return None
    if path == "LifeCycle.Stage":
        return reverse_stage(str(display))
    return str(display)


def detect(
    base: dict[str, Any], hubspot: dict[str, Any], remote: dict[str, Any], paths: Iterable[str] | None = None
) -> list[str]:
    """Owned paths (among the conflict fields) both sides changed since ``base`` and now disagree on."""
    out = []
    for path in paths if paths is not None else PATH_FIELDS:
        if path not in PATH_FIELDS:
            continue
        was, ours, theirs = base.get(path), hubspot.get(path), remote.get(path)
        if ours != was and theirs != was and ours != theirs:
            out.append(path)
    return out


def winner(strategy: Strategy, hubspot_ts: float | None, remote_ts: float | None) -> str:
    """``"hubspot"``, ``"partnercentral"`` or ``"manual"``. Last write wins on the later timestamp; with a
    timestamp missing or a tie, HubSpot (where the rep works) keeps its value."""
    if strategy == "HUBSPOT_WINS":
        return "hubspot"
    if strategy == "PARTNER_CENTRAL_WINS":
        return "partnercentral"
    if strategy == "MANUAL":
        return "manual"
    if hubspot_ts is None or remote_ts is None:
        return "hubspot"
    return "partnercentral" if remote_ts > hubspot_ts else "hubspot"


def conflict_kind(hubspot_ts: float | None, remote_ts: float | None, window_seconds: float) -> str:
    if hubspot_ts is None or remote_ts is None or abs(hubspot_ts - remote_ts) <= window_seconds:
        return "SIMULTANEOUS_UPDATE"
    return "STALE_DATA"


def value_at(entries: Iterable[Any], target: float) -> dict[str, Any]:
    """The owned fields of the opportunity as of ``target`` (epoch seconds), replayed from audit entries
    (``AuditEntry``, oldest first): Partner Central ``changes`` and observed ``remote_changes``.

    ``LookupError`` when no entry is that old: there is no known state to go back to.
    """
    values: dict[str, Any] = {}
    seen = False
    for entry in entries:
        if entry.at > target:
            break
        seen = True
        detail = entry.detail or {}
        for key in ("changes", "remote_changes"):
            if key == "changes" and entry.system != "partnercentral":
                continue
            for path, change in (detail.get(key) or {}).items():
                if "." in path and isinstance(change, dict) and "new" in change:
                    values[path] = change["new"]
    if not seen:
        raise LookupError("the audit trail has no entry at or before the target time")
    return {p: v for p, v in values.items() if v is not None}
