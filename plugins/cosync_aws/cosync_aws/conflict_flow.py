"""Detecting and settling conflicts in the sync flows, and applying a person's resolution.

Outbound (a rep's change about to be pushed) and reverse sync (an AWS change about to be written to the
deal) both ask :func:`settle_outbound` / :func:`settle_reverse` which conflicting fields to hold back. A
winner chosen automatically is applied to the loser's side at once and audited; a field configured for
manual resolution is recorded in the conflict book, frozen on both sides (``state["conflicts"]``) and
flagged on the deal (``aws_conflict_status=Pending``) until ``POST /conflicts/resolve`` queues
:func:`resolve_conflict`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cosync_worker.conflicts import Conflict, ConflictBook
from cosync_worker.logs import get_logger
from cosync_worker.notify import Notice, NoticeError

from . import audit, pushes
from .conflict_rules import (
    CONFLICT_FIELDS,
    PATH_FIELDS,
    conflict_kind,
    detect,
    hubspot_value,
    pc_display,
    winner,
)
from .deps import Deps
from .hubspot_side import add_note
from .mapping import owned_view

__all__ = ["CONNECTOR", "Settled", "epoch", "settle_outbound", "settle_reverse"]

log = get_logger("cosync.aws")
CONNECTOR = "aws"


def epoch(value: Any) -> float | None:
    """Seconds since the epoch from a datetime, an ISO 8601 string or epoch milliseconds."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, int | float):
        return float(value) / 1000.0
    if isinstance(value, str) and value:
        if value.isdigit():
            return int(value) / 1000.0
        try:
            return epoch(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def _iso_ms(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Settled:
    """What the flow must not write (owned paths or HubSpot properties) and the new base values."""

    skip: set[str] = field(default_factory=set)
    base: dict[str, Any] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)


async def _hubspot_times(deps: Deps, deal_id: str, props: list[str]) -> dict[str, float]:
    # Only on a conflict: one read of the property history (when HubSpot last set each field), so plain
    # syncs cost nothing extra. https://developers.hubspot.com/docs/api/crm/deals ("propertiesWithHistory")
    record = await deps.hs.get("deals", deal_id, properties=props, properties_with_history=props)
    history = record.get("propertiesWithHistory") or {}
    out: dict[str, float] = {}
    for prop in props:
        entries = history.get(prop) or []
        ts = epoch(entries[0].get("timestamp")) if entries else None
        if ts is not None:
            out[prop] = ts
    return out


async def _notify_manual(deps: Deps, deal_id: str, opp_id: str, conflict: Conflict) -> None:
    line = (
        f"{conflict.field}: HubSpot {conflict.hubspot_value!r} vs Partner Central {conflict.remote_value!r}"
    )
    if deps.notifier is not None:
        try:
            await deps.notifier.notify(
                Notice(
                    kind="aws.conflict_detected",
                    deal_id=deal_id,
                    change_key=conflict.id,
                    facts={"opportunity_id": opp_id, "conflicts": [line], "conflict_id": conflict.id},
                )
            )
            return
        except NoticeError as exc:
            log.warning("aws_conflict_notice_rejected", deal_id=deal_id, error=str(exc))
    await add_note(
        deps.hs,
        deal_id,
        f"Sync conflict {conflict.id} on opportunity {opp_id}: {line}. Resolve it with POST /conflicts/resolve.",
    )


async def _decide(
    deps: Deps,
    deal_id: str,
    opp_id: str,
    current: dict[str, Any],
    found: list[str],
    hubspot_values: dict[str, Any],
    remote: dict[str, Any],
    direction: str,
) -> tuple[dict[str, str], list[Conflict]]:
    """``({path: winner}, manual conflicts recorded)`` for the conflicting owned paths."""
    props = [PATH_FIELDS[p] for p in found]
    hs_times = await _hubspot_times(deps, deal_id, props)
    pc_ts = epoch(current.get("LastModifiedDate"))
    rules = deps.config.conflicts
    decided: dict[str, str] = {}
    manual: list[Conflict] = []
    book = ConflictBook(deps.store)
    for path in found:
        prop = PATH_FIELDS[path]
        strategy = rules.strategy_for(prop)
        who = winner(strategy, hs_times.get(prop), pc_ts)
        decided[path] = who
        if who != "manual":
            continue
        conflict = Conflict(
            connector=CONNECTOR,
            object_key=audit.audit_key(opp_id),
            remote_id=opp_id,
            deal_id=deal_id,
            field=prop,
            hubspot_value=hubspot_values.get(prop),
            hubspot_timestamp=hs_times.get(prop),
            remote_value=pc_display(path, remote.get(path)),
            remote_timestamp=pc_ts,
            kind=conflict_kind(hs_times.get(prop), pc_ts, rules.window_seconds),
        )
        await book.record(conflict)
        await audit.record(
            deps.store,
            opp_id,
            "conflict_detected",
            audit.SYSTEM_PC,
            deal_id,
            ["hubspot.deals.get"],
            conflict_id=conflict.id,
            field=prop,
            direction=direction,
            strategy=strategy,
            kind=conflict.kind,
            hubspot_value=conflict.hubspot_value,
            partnercentral_value=conflict.remote_value,
        )
        manual.append(conflict)
    log.info("aws_conflicts", deal_id=deal_id, direction=direction, winners=decided)
    return decided, manual


async def _flag_pending(
    deps: Deps, deal_id: str, opp_id: str, manual: list[Conflict], writes: dict[str, Any]
) -> None:
    if manual:
        writes.update(aws_conflict_status="Pending", aws_last_conflict_date=_iso_ms(time.time()))
    if writes:
        await pushes.update_deal(deps, deal_id, writes)
    for conflict in manual:
        await _notify_manual(deps, deal_id, opp_id, conflict)


async def settle_outbound(
    deps: Deps,
    deal_id: str,
    opp_id: str,
    deal: dict[str, Any],
    current: dict[str, Any],
    owned: dict[str, Any],
    have: dict[str, Any],
    base: dict[str, Any],
    frozen: dict[str, str],
) -> Settled:
    """A rep's change meets Partner Central's: hold back what Partner Central wins (written to HubSpot
    here) or a person must settle. ``frozen`` are paths with a pending manual conflict."""
    settled = Settled(skip=set(frozen), pending=dict(frozen))
    remote = {**have, **{p: v for p, v in _owned_of(current).items() if p in PATH_FIELDS}}
    found = detect(base, owned, remote, [p for p in PATH_FIELDS if p not in frozen])
    if not found:
        return settled
    decided, manual = await _decide(deps, deal_id, opp_id, current, found, deal, remote, "outbound")
    writes: dict[str, Any] = {}
    hubspot_changes: dict[str, Any] = {}
    for path, who in decided.items():
        prop = PATH_FIELDS[path]
        if who == "hubspot":
            continue  # pushed by the caller's read-merge-write, audited as its update
        settled.skip.add(path)
        if who == "partnercentral":
            value = hubspot_value(path, pc_display(path, remote.get(path)), deps.config.reverse_stage)
            if value is not None:
                writes[prop] = value
                hubspot_changes[prop] = {"old": deal.get(prop), "new": value}
            settled.base[path] = remote.get(path)
    for conflict in manual:
        settled.pending[CONFLICT_FIELDS[conflict.field]] = conflict.id
    await _flag_pending(deps, deal_id, opp_id, manual, writes)
    for path, who in decided.items():
        if who == "manual":
            continue
        prop = PATH_FIELDS[path]
        await audit.record(
            deps.store,
            opp_id,
            "conflict_resolved",
            audit.SYSTEM_HUBSPOT if who == "partnercentral" else audit.SYSTEM_PC,
            deal_id,
            ["hubspot.deals.get", "hubspot.deals.update"]
            if who == "partnercentral"
            else ["hubspot.deals.get"],
            field=prop,
            direction="outbound",
            winner=who,
            strategy=deps.config.conflicts.strategy_for(prop),
            automatic=True,
            hubspot_value=deal.get(prop),
            partnercentral_value=pc_display(path, remote.get(path)),
            changes={prop: hubspot_changes[prop]} if prop in hubspot_changes else None,
            remote_changes={path: {"old": base.get(path), "new": remote.get(path)}},
        )
    return settled


def _owned_of(record: dict[str, Any]) -> dict[str, Any]:
    return owned_view(record, list(PATH_FIELDS))


async def settle_reverse(
    deps: Deps,
    deal_id: str,
    opp_id: str,
    current: dict[str, Any],
    changes: dict[str, Any],
    actual: dict[str, Any],
    last: dict[str, Any],
    base: dict[str, Any],
    frozen: dict[str, str],
    same: Callable[[str, Any, Any], bool],
) -> Settled:
    """An AWS change meets a rep's not yet pushed: ``skip`` are HubSpot properties the reverse sync must not
    write (HubSpot won, to be pushed by the caller, or a person must settle)."""
    settled = Settled(pending=dict(frozen))
    for prop in list(changes):
        if CONFLICT_FIELDS.get(prop) in frozen:
            settled.skip.add(prop)
    candidates = [
        CONFLICT_FIELDS[p]
        for p in changes
        if p in CONFLICT_FIELDS and p not in settled.skip and not same(p, actual.get(p), last.get(p))
    ]
    if not candidates:
        return settled
    remote = _owned_of(current)
    decided, manual = await _decide(deps, deal_id, opp_id, current, candidates, actual, remote, "reverse")
    for path, who in decided.items():
        prop = PATH_FIELDS[path]
        if who != "partnercentral":
            settled.skip.add(prop)
        if who == "hubspot":
            settled.base[path] = remote.get(path)
        if who != "manual":
            await audit.record(
                deps.store,
                opp_id,
                "conflict_resolved",
                audit.SYSTEM_HUBSPOT if who == "partnercentral" else audit.SYSTEM_PC,
                deal_id,
                ["hubspot.deals.get"],
                field=prop,
                direction="reverse",
                winner=who,
                strategy=deps.config.conflicts.strategy_for(prop),
                automatic=True,
                hubspot_value=actual.get(prop),
                partnercentral_value=pc_display(path, remote.get(path)),
            )
    for conflict in manual:
        settled.pending[CONFLICT_FIELDS[conflict.field]] = conflict.id
    await _flag_pending(deps, deal_id, opp_id, manual, {})
    return settled
