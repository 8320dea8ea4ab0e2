"""What the rep sees of cosync's own writes to Partner Central (seed 001 §1, seed 002): the deal's
``aws_last_sync_date`` / ``aws_last_sync_by`` / ``aws_opportunity_title`` / ``aws_contact_company_last_sync``,
a note per push naming what was sent (``connectors.aws.push_notes``), and tasks for a push that failed or was
held back. Called from the push flow (``outbound.py``) at three points; the decisions are pure functions.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import weakref
from typing import Any

from cosync_worker.connector import current_scope, start_trailing
from cosync_worker.hubspot import WriteCoalescer
from cosync_worker.logs import get_logger
from cosync_worker.notify import Notice

from . import notices
from .deps import Deps
from .hubspot_side import note_input
from .mapping import strip_tag, sync_stamp
from .state import note_key

__all__ = [
    "after_push",
    "created_properties",
    "push_note",
    "push_properties",
    "sync_by",
    "tell_error",
    "tell_held",
    "update_deal",
]

log = get_logger("cosync.aws")
NOTE_TTL = 90 * 86_400.0
# A push's stamp and note wait this many Partner Central write intervals (10 s at the quota) for the other
# pushes', then go out together: one batch update of the deals, one batch create of the notes
# (cosync_worker.hubspot.coalesce), instead of two calls per push (issue 22). Under the quota pushes come a few
# intervals apart, so a shorter window would hold one push each. Nothing waits for the window: the push's
# event settles at once and the two writes trail it (cosync_worker.trailing), so the deal's next edit is
# pushed without waiting behind it; the deal's other writes go out through the same coalescer
# (hubspot_side.update_deal), which sends a stamp still waiting with them rather than after them.
STAMP_WINDOW_INTERVALS = 10.0
_BATCHES: weakref.WeakKeyDictionary[Any, WriteCoalescer] = weakref.WeakKeyDictionary()
_LABELS = {
    "Project.Title": "title",
    "Project.CustomerBusinessProblem": "description",
    "Project.ExpectedCustomerSpend": "expected spend",
    "LifeCycle.Stage": "stage",
    "LifeCycle.TargetCloseDate": "close date",
    "Customer.Contacts": "contacts",
}


def sync_by(trigger: str, actor: str) -> str:
    """Pure: who or what caused a sync, for ``aws_last_sync_by``: an API caller's identity when the token
    named one, else the rep (a HubSpot webhook), AWS (a Partner Central event), cosync's rule (a schedule),
    or the API."""
    if actor and actor != "cosync":
        return actor
    family = trigger.split(".", 1)[0]
    if family in ("deal", "company", "contact", "webhook"):
        return "rep"
    if family == "partnercentral":
        return "AWS"
    if family in ("schedule", "tick") or trigger.startswith("aws_"):
        return "cosync rule"
    return "API caller" if family == "aws" else "cosync"


def _shown(value: Any) -> str:
    if value is None:
        return "(cleared)"
    if isinstance(value, list) and value and isinstance(value[0], dict):
        if "Amount" in value[0]:
            return ", ".join(f"{v.get('Amount')} {v.get('CurrencyCode', '')}".strip() for v in value)
        return ", ".join(str(v.get("Email") or v) for v in value)
    return str(value)


def push_note(opp_id: str, applied: dict[str, dict[str, Any]], by: str) -> str:
    """Pure: the note of one push: each field sent, with its new value (a cleared one says so)."""
    lines = [f"{_LABELS.get(p, p)}: {_shown(c.get('new'))}" for p, c in sorted(applied.items())]
    return f"Sent to AWS Partner Central (opportunity {opp_id}, by {by}):\n" + "\n".join(lines)


def push_properties(applied: dict[str, dict[str, Any]], by: str) -> dict[str, str]:
    """Pure: the deal properties a push sets: the stamp, the title sent, and the contact/company stamp when
    the customer's fields were among those sent."""
    props = sync_stamp(by)
    title = (applied.get("Project.Title") or {}).get("new")
    if title:
        props["aws_opportunity_title"] = str(title)
    if any(p.startswith("Customer.") for p in applied):
        props["aws_contact_company_last_sync"] = props["aws_last_sync_date"]
    return props


def created_properties(state: Any, bundle: Any, deal_tag: str) -> dict[str, str]:
    """The stamp and title written back with a new opportunity's id (``state.creating`` holds what was sent)."""
    scope = current_scope()
    props = sync_stamp(sync_by(scope.trigger, scope.actor))
    creating = getattr(state, "creating", None)
    title = (creating.owned.get("Project.Title") if creating is not None else None) or strip_tag(
        str(bundle.deal.get("dealname") or ""), deal_tag
    )
    if title:
        props["aws_opportunity_title"] = str(title)
    return props


def batches(deps: Deps) -> WriteCoalescer:
    """The process's coalescer of push stamps and notes for this HubSpot client."""
    batch = _BATCHES.get(deps.hs)
    if batch is None:
        rate = float(getattr(deps.config, "write_rate_per_second", 1.0) or 1.0)
        batch = _BATCHES[deps.hs] = WriteCoalescer(deps.hs, STAMP_WINDOW_INTERVALS / rate)
    return batch


async def update_deal(deps: Deps, deal_id: str, props: dict[str, Any]) -> None:
    """Every write of the connector to a deal goes out through here: a push's stamp still waiting in its
    batch window for the same deal is sent with it (``WriteCoalescer.update_now``), never after it."""
    await batches(deps).update_now("deals", deal_id, props)


def _ident(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


async def after_push(
    deps: Deps, deal: dict[str, Any], deal_id: str, opp_id: str, applied: dict[str, dict[str, Any]]
) -> None:
    """After an UpdateOpportunity landed: the deal's properties (with ``aws_sync_status`` back to synced when
    ``deal``, as the push read it, was not), then the note (once per distinct push) with its association
    inline. Both go out with the other pushes' made within ``STAMP_WINDOW_INTERVALS`` (one batch call for
    the stamps, one for the notes), so a push costs at most two HubSpot calls and usually a fraction of that
    (issue 22). They trail the push: this returns once they are queued."""
    if not applied:
        return
    scope = current_scope()
    by = sync_by(scope.trigger, scope.actor)
    props = push_properties(applied, by)
    batch = batches(deps)
    status = deal.get("aws_sync_status")  # None: pushed from the deal's copy, which does not know it
    if status != "synced":
        props.update(aws_sync_status="synced", aws_sync_error="")
    if status not in ("synced", None):
        # A deal the read showed in error: the rep is told at once that it syncs again, not a window later.
        await batch.update_now("deals", deal_id, props)
        props = {}
    key = note_key("push", _ident(deal_id, applied))
    note: tuple[dict[str, Any], list[dict[str, Any]]] | None = None
    if getattr(deps.config, "push_notes", True) and await deps.store.claim_key(key, NOTE_TTL):
        note = note_input(deal_id, push_note(opp_id, applied, by))
    # Queued here, before this flow's next write can reach the deal (which then carries the stamp with it);
    # both in the same window, not one window after the other.
    stamped = batch.update_soon("deals", deal_id, props) if props else None
    noted = batch.create_soon("notes", *note) if note is not None else None
    if stamped is not None or noted is not None:
        start_trailing(_answered(deps, stamped, noted, key), what="push_stamp", hurry=batch.hurry)


async def _answered(
    deps: Deps, stamped: asyncio.Future[None] | None, noted: asyncio.Future[None] | None, key: str
) -> None:
    results = await asyncio.gather(*(f for f in (stamped, noted) if f is not None), return_exceptions=True)
    if noted is not None and isinstance(results[-1], BaseException):
        await deps.store.release_key(key)  # the next push of the same change writes its note
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def tell_error(deps: Deps, deal_id: str, message: str, opp_id: str | None = None) -> None:
    """A sync that failed on what the rep must fix (``aws_sync_error``) is a task too; one per distinct
    message (the caller writes the error only when it changes)."""
    facts: dict[str, Any] = {"error": message[:500]}
    if opp_id:
        facts["opportunity_id"] = opp_id
    await _send(deps, Notice("aws.sync_error", deal_id, f"error:{_ident(message)}", facts))


async def tell_held(
    deps: Deps, deal_id: str, opp_id: str, fields: list[str], reason: str | None, values: list[str]
) -> None:
    """Changes held back (immutable during review, a pending conflict) are a task; one per distinct hold."""
    facts = {"opportunity_id": opp_id, "fields": sorted(fields), "reason": reason or ""}
    await _send(
        deps, Notice("aws.held_back", deal_id, f"held:{_ident(sorted(fields), values, reason)}", facts)
    )


async def _send(deps: Deps, notice: Notice) -> None:
    # The note the flow already writes is the fallback, so without a notifier nothing more is written.
    await notices.send(deps.notifier, [notice], None)
