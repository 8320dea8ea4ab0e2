"""The jobs ``POST /conflicts/resolve`` and ``POST /rollback`` queue for this connector.

Both write Partner Central with read-merge-write (the record just read, only cosync's fields replaced, with
its ``LastModifiedDate``; a ``ConflictException`` reads and merges again) through the connector's client,
so they draw on the same write budget as every other flow, and both end by completing their job. Both hold the
deal's lock (``deal_lock``) while they write, like a push and a reverse sync.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from cosync_worker.conflicts import AlreadyResolved, ConflictBook
from cosync_worker.connector import ACTOR_KEY, update_job
from cosync_worker.errors import Retry
from cosync_worker.logs import get_logger

from . import audit, pushes
from .client import PartnerCentralError, Priority
from .conflict_rules import CONFLICT_FIELDS, PATH_FIELDS, hubspot_value, pc_display, value_at
from .deps import Deps
from .hubspot_side import add_note, mapped_deal, read_deal
from .mapping import merge_update, owned_from_hubspot, owned_view, review_rules
from .outbound import MAX_CONFLICT_RETRIES
from .state import DealState, setting

__all__ = ["REPLAY_LIMIT", "resolve_conflict", "rollback"]

log = get_logger("cosync.aws")
REPLAY_LIMIT = 100_000


async def _merge_write(deps: Deps, opp_id: str, wanted: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Write ``wanted`` owned paths onto the opportunity; returns ``({path: old}, calls)`` of what changed."""
    calls: list[str] = []
    for _ in range(MAX_CONFLICT_RETRIES):
        current = await deps.pc.call("GetOpportunity", Priority.UPDATE, Identifier=opp_id)
        calls.append("GetOpportunity")
        have = owned_view(current, list(wanted))
        changed = {p: v for p, v in wanted.items() if have.get(p) != v}
        if not changed:
            return {}, calls
        status = (current.get("LifeCycle") or {}).get("ReviewStatus")
        blocked, reason = review_rules(status, list(changed))
        if blocked:
            raise PartnerCentralError(
                "UpdateOpportunity", "ValidationException", f"{', '.join(sorted(blocked))}: {reason}"
            )
        try:
            await deps.pc.call("UpdateOpportunity", Priority.UPDATE, **merge_update(current, changed))
        except PartnerCentralError as exc:
            calls.append("UpdateOpportunity")
            if exc.code == "ConflictException":
                continue
            raise
        calls.append("UpdateOpportunity")
        return {p: have.get(p) for p in changed}, calls
    raise Retry("UpdateOpportunity kept conflicting with changes made in Partner Central", defer=5)


async def _still_pending(deps: Deps, deal_id: str, done_id: str) -> bool:
    state = (await deps.deals.read(deal_id)).value
    return any(cid != done_id for cid in state.conflicts.values())


async def resolve_conflict(deps: Deps, payload: dict[str, Any]) -> None:
    job_id = str(payload["job_id"])
    book = ConflictBook(deps.store)
    conflict = await book.get(str(payload["conflict_id"]))
    if conflict is None:
        await update_job(deps.store, job_id, "failed", error="the conflict no longer exists")
        return
    if conflict.status == "RESOLVED":
        # A redelivery after the work was done: report what was done, apply nothing twice.
        await update_job(
            deps.store, job_id, "succeeded", result={"conflictId": conflict.id, "redelivered": True}
        )
        return
    await update_job(deps.store, job_id, "running")
    # One flow at a time per deal: a push or a reverse sync of this deal would otherwise read before this
    # write and put the old value back.
    async with deps.deal_lock(conflict.deal_id):
        path = CONFLICT_FIELDS[conflict.field]
        resolution = str(payload["resolution"])
        if resolution == "USE_HUBSPOT_VALUE":
            chosen = conflict.hubspot_value
        elif resolution == "USE_PARTNER_CENTRAL_VALUE":
            chosen = hubspot_value(path, conflict.remote_value, deps.config.reverse_stage)
        else:
            chosen = payload.get("value")
        chosen = None if chosen is None else str(chosen)
        bundle = await read_deal(deps.hs, conflict.deal_id)
        target = owned_from_hubspot({**bundle.deal, conflict.field: chosen}, None, [], deps.config).get(path)
        if chosen is None or target is None:
            await book.release(conflict.id)
            await update_job(
                deps.store, job_id, "failed", error=f"{chosen!r} is not a valid {conflict.field}"
            )
            return
        try:
            old_pc, calls = await _merge_write(deps, conflict.remote_id, {path: target})
        except PartnerCentralError as exc:
            if exc.code in ("ValidationException", "ResourceNotFoundException", "AccessDeniedException"):
                await book.release(conflict.id)
                await update_job(
                    deps.store, job_id, "failed", error=f"Partner Central refused: {exc.message}"
                )
                return
            raise Retry(f"UpdateOpportunity failed: {exc.code}") from None
        writes: dict[str, Any] = {}
        if str(bundle.deal.get(conflict.field) or "") != chosen:
            writes[conflict.field] = chosen
        if not await _still_pending(deps, conflict.deal_id, conflict.id):
            writes["aws_conflict_status"] = "Resolved"
        if writes:
            await pushes.update_deal(deps, conflict.deal_id, writes)
            calls.append("hubspot.deals.update")

        def settled(st: DealState) -> DealState:
            st.owned = {**st.owned, path: target}
            if conflict.field in ("dealstage", "closedate"):
                st.hubspot = {**st.hubspot, conflict.field: chosen}
            st.conflicts = {p: cid for p, cid in st.conflicts.items() if p != path}
            return st

        await deps.deals.update(conflict.deal_id, settled)
        try:
            await book.resolve(
                conflict.id,
                resolution,
                chosen,
                payload.get("reason"),
                actor=str(payload.get(ACTOR_KEY) or "api"),
            )
        except AlreadyResolved:
            pass  # a redelivery raced the first run to this line; the values written are the same
        await audit.record(
            deps.store,
            conflict.remote_id,
            "conflict_resolved",
            audit.SYSTEM_PC if old_pc else audit.SYSTEM_HUBSPOT,
            conflict.deal_id,
            ["hubspot.deals.get", *calls],
            conflict_id=conflict.id,
            field=conflict.field,
            resolution=resolution,
            reason=payload.get("reason"),
            automatic=False,
            value=chosen,
            changes={p: {"old": old, "new": target} for p, old in old_pc.items()} or None,
            hubspot_changes={k: {"old": bundle.deal.get(k), "new": v} for k, v in writes.items()},
        )
        await update_job(
            deps.store,
            job_id,
            "succeeded",
            result={
                "conflictId": conflict.id,
                "field": conflict.field,
                "value": chosen,
                "resolution": resolution,
            },
        )
        log.info("aws_conflict_resolved_by_api", conflict_id=conflict.id, field=conflict.field)


async def _revert_deal(
    deps: Deps,
    opp_id: str,
    deal_id: str,
    deal: dict[str, Any],
    writes: dict[str, Any],
    before: dict[str, Any],
    reason: str,
) -> None:
    """Partner Central refused the rollback after the deal was written: put the deal (and the synced state)
    back, audit it and tell the rep (the seed's automatic rollback)."""
    undo = {k: deal.get(k) or "" for k in writes}
    if undo:
        await pushes.update_deal(deps, deal_id, undo)
    await deps.deals.update(deal_id, setting(**before))
    await audit.record(
        deps.store,
        opp_id,
        "rollback_reverted",
        audit.SYSTEM_HUBSPOT,
        deal_id,
        ["hubspot.deals.update"] if undo else [],
        reason=reason,
        changes={k: {"old": writes[k], "new": v} for k, v in undo.items()},
    )
    await add_note(
        deps.hs,
        deal_id,
        f"Rollback of opportunity {opp_id} failed, changes reverted: Partner Central said {reason}",
    )


async def rollback(deps: Deps, opp_id: str, payload: dict[str, Any]) -> None:
    job_id = str(payload["job_id"])
    target_ts = float(payload["target_timestamp"])
    await update_job(deps.store, job_id, "running")
    entries = await deps.store.audit_trail(audit.audit_key(opp_id), limit=REPLAY_LIMIT)
    try:
        wanted = value_at(entries, target_ts)
    except LookupError as exc:
        when = datetime.fromtimestamp(target_ts, UTC).isoformat()
        await update_job(deps.store, job_id, "failed", error=f"cannot roll back {opp_id} to {when}: {exc}")
        return
    deal_id = await mapped_deal(deps, opp_id)
    async with deps.deal_lock(deal_id) if deal_id else contextlib.nullcontext():
        writes: dict[str, Any] = {}
        calls: list[str] = []
        if deal_id:
            # The deal follows, so the next sync does not push the rolled-back values again; it is written first
            # and the state patched before Partner Central, so the update's own event is recognised as ours.
            bundle = await read_deal(deps.hs, deal_id)
            calls.append("hubspot.deals.get")
            for path, want in wanted.items():
                prop = PATH_FIELDS.get(path)
                value = hubspot_value(path, pc_display(path, want), deps.config.reverse_stage)
                if prop and value is not None and str(bundle.deal.get(prop) or "")[:10] != value[:10]:
                    writes[prop] = value

            def restored(st: DealState) -> DealState:
                before.update(owned=dict(st.owned), hubspot=dict(st.hubspot))
                st.owned = {**st.owned, **wanted}
                view = {k: v for k, v in writes.items() if k in ("dealstage", "closedate")}
                st.hubspot = {**st.hubspot, **view}
                return st

            before: dict[str, Any] = {}
            await deps.deals.update(deal_id, restored)
            if writes:
                await pushes.update_deal(deps, deal_id, writes)
                calls.append("hubspot.deals.update")
        try:
            old_pc, pc_calls = await _merge_write(deps, opp_id, wanted)
        except PartnerCentralError as exc:
            if exc.code in ("ValidationException", "ResourceNotFoundException", "AccessDeniedException"):
                if deal_id:
                    await _revert_deal(deps, opp_id, deal_id, bundle.deal, writes, before, exc.message)
                await update_job(
                    deps.store, job_id, "failed", error=f"Partner Central refused: {exc.message}"
                )
                return
            raise Retry(f"UpdateOpportunity failed: {exc.code}") from None
        calls += pc_calls
        target_iso = datetime.fromtimestamp(target_ts, UTC).isoformat()
        await audit.record(
            deps.store,
            opp_id,
            "rollback",
            audit.SYSTEM_PC,
            deal_id,
            calls,
            target_timestamp=target_iso,
            changes={p: {"old": old, "new": wanted[p]} for p, old in old_pc.items()},
            hubspot_changes=writes or None,
        )
        await update_job(
            deps.store,
            job_id,
            "succeeded",
            result={"opportunityId": opp_id, "targetTimestamp": target_iso, "restored": sorted(old_pc)},
        )
        log.info("aws_rollback", opportunity_id=opp_id, restored=sorted(old_pc))
