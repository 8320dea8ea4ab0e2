"""HubSpot -> Partner Central: create an opportunity for a tagged deal (flow 1) and push a rep's changes to
it with read-merge-write (flow 3) when the deal's write turn comes (so changes made while it waits share one
write), skipped when nothing cosync owns changed.

Why read-merge-write: UpdateOpportunity replaces the whole record and requires the ``LastModifiedDate`` just
read (https://docs.aws.amazon.com/partner-central/latest/APIReference/API_UpdateOpportunity.html); a stale one
answers ``ConflictException``, after which we read and merge again so nothing AWS or a person changed in
between is overwritten.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from cosync_worker.connector import Event, backlog, turn_uncontested
from cosync_worker.errors import Retry
from cosync_worker.logs import get_logger

from . import audit, echoes, pushes
from .client import PartnerCentralError, Priority
from .conflict_flow import Settled, settle_outbound
from .conflict_rules import PATH_FIELDS
from .deal_events import deal_event
from .deps import Deps
from .hubspot_side import DealBundle, link_opportunity, read_deal
from .hubspot_side import note_once as _note_once
from .mapping import (
    COMPANY_PROPERTIES,
    CONTACT_PROPERTIES,
    as_created,
    create_request,
    has_tag,
    hubspot_view,
    merge_update,
    missing_fields,
    owned_from_hubspot,
    owned_view,
    review_rules,
    with_cleared,
)
from .solutions import associate, choose_solutions
from .state import Creating, DealState, creation_record, marked_at, related_id, replace, setting

__all__ = [
    "COMPANY_PROPERTIES_SYNCED",
    "CONTACT_PROPERTIES_SYNCED",
    "HELD_PUSH_EVENT",
    "MAX_CONFLICT_RETRIES",
    "UPDATE_PROPERTIES",
    "ensure_opportunity",
    "held_event",
    "push_related",
    "push_update",
    "sync_change",
]

log = get_logger("cosync.aws")

# Deal properties whose change is pushed to Partner Central (seed 001 §1, plus the title).
UPDATE_PROPERTIES = frozenset(
    {"dealstage", "closedate", "amount", "description", "deal_currency_code", "dealname"}
)
# Company and contact properties that feed Customer.Account / Customer.Contacts (seed 002 §1).
COMPANY_PROPERTIES_SYNCED = frozenset(COMPANY_PROPERTIES)
CONTACT_PROPERTIES_SYNCED = frozenset(CONTACT_PROPERTIES)
MAX_CONFLICT_RETRIES = 4
# How long a deal's copy of its company and contacts stands in for reading them (``_customer_copy``).
CUSTOMER_COPY_SECONDS = 900.0
NOTE_TTL = 90 * 86_400.0
# Deal properties whose webhook ``propertyValue`` has the form a read returns, so a push may take it from the
# event (``_from_event``). Not ``closedate``: its webhook value is epoch milliseconds, its read ISO 8601.
EVENT_VALUE_PROPERTIES = frozenset({"dealstage", "amount", "description", "deal_currency_code", "dealname"})
# An event is pushed from its own value only if it happened within this many seconds: one that waited in the
# queue (a worker down, a backlog) may have newer ones of its deal queued behind it, which one read at turn
# time covers with a single write. A wrong guess costs a write or a read, never a value: events apply in order.
EVENT_RECENT_SECONDS = 30.0
# A held edit (``cosync_worker.write_hold``) whose write failed in the drain, queued for the aws connector.
# A ``deal.*`` type, so its audit entries say the change came from HubSpot.
HELD_PUSH_EVENT = "deal.heldPush"


def held_event(deal_id: str, changed_ms: int) -> Event:
    """The queued push of a held edit of ``deal_id``: every change up to ``changed_ms`` (HubSpot's time)."""
    dedupe = f"{HELD_PUSH_EVENT}:{deal_id}:{changed_ms}"
    return deal_event(
        HELD_PUSH_EVENT, deal_id, dedupe, {"changed_ms": changed_ms}, source="hubspot", connectors=["aws"]
    )


async def _mark_error(deps: Deps, bundle: DealBundle, message: str) -> None:
    """``aws_sync_status=error`` with the reason on the deal, written once per distinct reason."""
    if bundle.deal.get("aws_sync_status") == "error" and bundle.deal.get("aws_sync_error") == message:
        return
    await pushes.update_deal(
        deps, bundle.deal_id, {"aws_sync_status": "error", "aws_sync_error": message[:1000]}
    )
    bundle.deal.update(aws_sync_status="error", aws_sync_error=message)
    log.info("aws_deal_error", deal_id=bundle.deal_id, reason=message)
    await pushes.tell_error(deps, bundle.deal_id, message)  # issue 17: the rep gets a task (pushes.py)


async def ensure_opportunity(deps: Deps, deal_id: str, bundle: DealBundle | None = None) -> str | None:
    """Flow 1: the opportunity id of the deal, creating it if the deal carries the tag and has none.

    Idempotent three times over: the state store, the deal's ``aws_opportunity_id`` and a ``ClientToken``
    derived from the deal id (a retry after a crash between create and write-back gets the same opportunity).
    Under the deal's lock: the "Opportunity Created" event's reverse sync must not patch the deal's state
    between its creation and its recording.
    """
    # The turn first, then the lock: a deal waiting for its turn must not hold its lock meanwhile.
    async with deps.pc.turn(deal_id, Priority.CREATE), deps.deal_lock(deal_id):
        return await _ensure_opportunity_locked(deps, deal_id, bundle)


async def _ensure_opportunity_locked(deps: Deps, deal_id: str, bundle: DealBundle | None) -> str | None:
    state = (await deps.deals.read(deal_id)).value
    if state.opportunity_id:
        opp_id = state.opportunity_id
        if state.linked is False:
            # Created, but the write-back to the deal never finished (a crash or a HubSpot failure in
            # between): finish it now, or the deal would never show its opportunity.
            await _link(deps, deal_id, opp_id, bundle or await read_deal(deps.hs, deal_id), state)
        return opp_id
    bundle = bundle or await read_deal(deps.hs, deal_id)
    existing = bundle.deal.get("aws_opportunity_id")
    if existing:
        owner = await link_opportunity(deps, str(existing), deal_id)
        if owner != deal_id:
            # A copy of another deal (HubSpot's clone keeps custom properties) or a mistyped id: syncing it
            # would push this deal's values over the other deal's opportunity.
            message = (
                f"aws_opportunity_id {existing} is the opportunity of deal {owner} (is this deal a copy of "
                "it?); clear aws_opportunity_id on this deal and cosync creates its own opportunity"
            )
            await deps.deals.update(deal_id, replace(DealState(tagged=True, error=message)))
            await _mark_error(deps, bundle, message)
            return None
        owned = owned_from_hubspot(bundle.deal, bundle.company, bundle.contacts, deps.config)
        state = creation_record(str(existing), owned, {}, bundle.read_at_ms, linked=True)
        await deps.deals.update(deal_id, replace(state))
        return str(existing)
    if not has_tag(bundle.deal.get("dealname"), deps.config.deal_tag):
        await deps.deals.update(deal_id, replace(DealState(tagged=False)))
        return None
    creating = state.creating
    if creating is not None:
        # An earlier attempt may have created the opportunity and died before recording it: send exactly
        # its request again, so the ClientToken returns that opportunity (a token reused with other values
        # may be refused), and record what it holds. Changes read since then are newer than its read and
        # are pushed by their own events.
        request, owned, read_at_ms = creating.request, creating.owned, creating.read_at_ms
    else:
        missing = missing_fields(bundle.deal, bundle.company, deps.config)
        if missing:
            message = "Partner Central needs: " + "; ".join(missing)
            await deps.deals.update(deal_id, replace(DealState(tagged=True, error=message)))
            await _mark_error(deps, bundle, message)
            return None
        owned = owned_from_hubspot(bundle.deal, bundle.company, bundle.contacts, deps.config)
        request = create_request(owned, deal_id, deps.config)
        read_at_ms = bundle.read_at_ms
        pending = Creating(request=request, owned=owned, read_at_ms=read_at_ms)
        await deps.deals.update(deal_id, replace(DealState(creating=pending)))
    try:
        created = await deps.pc.call("CreateOpportunity", Priority.CREATE, **request)
    except PartnerCentralError as exc:
        if exc.code in ("ValidationException", "AccessDeniedException", "ResourceNotFoundException"):
            message = f"Partner Central rejected the opportunity: {exc.message}"
            await deps.deals.update(deal_id, replace(DealState(tagged=True, error=message)))
            await _mark_error(deps, bundle, message)
            return None
        raise Retry(f"CreateOpportunity failed: {exc.code}") from None
    opp_id = str(created["Id"])
    await audit.record(
        deps.store,
        opp_id,
        "create_opportunity",
        audit.SYSTEM_PC,
        deal_id,
        ["CreateOpportunity"],
        changes={p: {"old": None, "new": v} for p, v in owned_view(request).items()},
    )
    await _remember(deps, deal_id, opp_id, owned, read_at_ms, as_created(request), linked=False)
    state = (await deps.deals.read(deal_id)).value
    await _link(deps, deal_id, opp_id, bundle, state, created_at=created.get("LastModifiedDate"))
    log.info("aws_opportunity_created", deal_id=deal_id, opportunity_id=opp_id)
    return opp_id


async def _link(
    deps: Deps, deal_id: str, opp_id: str, bundle: DealBundle, state: DealState, created_at: Any = None
) -> None:
    """The steps after CreateOpportunity, each safe to run again: solutions, the deal's write-back, the note.
    ``linked`` is set only when all are done, so a redelivery after a crash finishes what was left.
    ``created_at``: the creation's ``LastModifiedDate`` when it was made just now (its events are owed)."""
    solutions_text = ""
    if state.solutions is None:
        solutions_text = await _associate_solutions(deps, deal_id, opp_id, bundle)
    await pushes.update_deal(
        deps,
        deal_id,
        {
            "aws_opportunity_id": opp_id,
            "aws_sync_status": "synced",
            "aws_sync_error": "",
            "aws_review_status": "Pending Submission",
            **pushes.created_properties(state, bundle, deps.config.deal_tag),  # issue 17 (pushes.py)
        },
    )
    await _note_once(
        deps,
        "created",
        deal_id,
        deal_id,
        f"AWS Partner Central opportunity {opp_id} created ({deps.config.catalog} catalog) by cosync."
        + solutions_text,
    )
    # The creation's own events (created, one per solution) arrive after this: none costs a read.
    owed: dict[str, Any] = {}
    if created_at is not None:
        now = (await deps.deals.read(deal_id)).value
        owed = echoes.owed(now, created_at, len(now.solutions or []))  # its Created event: see inbound
    await deps.deals.update(deal_id, setting(linked=True, own_write_ms=_now_ms(), **owed))


async def _associate_solutions(deps: Deps, deal_id: str, opp_id: str, bundle: DealBundle) -> str:
    """Flow 2 after a creation; a failure is reported in the note, never fails the creation."""
    if deps.solutions is None:
        return ""
    chosen = choose_solutions(await deps.solutions.all(), bundle.deal, bundle.company, deps.config)
    if not chosen:
        return ""
    try:
        done = await associate(deps.pc, opp_id, chosen)
    except PartnerCentralError as exc:
        log.warning("aws_solutions_failed", deal_id=deal_id, code=exc.code)
        return f" Solutions could not be associated: {exc.message}"
    except Retry as exc:  # throttling, 5xx or no answer outlasted the client's attempts
        log.warning("aws_solutions_failed", deal_id=deal_id, code="retry")
        return f" Solutions could not be associated: {exc}"
    await deps.deals.update(deal_id, setting(solutions=done))
    return f" Solutions: {', '.join(done)}."


async def _remember(
    deps: Deps,
    deal_id: str,
    opp_id: str,
    owned: dict[str, Any],
    read_at_ms: int,
    record: dict[str, Any] | None,
    *,
    linked: bool,
) -> None:
    """The deal's sync state: ``owned`` is what the opportunity holds, as read from HubSpot at ``read_at_ms``."""
    view = hubspot_view(record, deps.config) if record is not None else {}
    state = creation_record(opp_id, owned, view, read_at_ms, linked=linked)
    await link_opportunity(deps, opp_id, deal_id)
    await deps.deals.update(deal_id, replace(state))


def _now_ms() -> int:
    return int(time.time() * 1000)


async def sync_change(
    deps: Deps,
    deal_id: str,
    prop: str,
    value: str | None,
    occurred_ms: int | None,
    *,
    may_hold: bool = True,
) -> str:
    """Flow 3 entry for one ``deal.propertyChange``: push when the deal's write turn comes. Returns what
    happened.

    While the write budget is busy (a turn held or waited for, or edits held already, by any process) the
    edit is *held* (``deps.held``, ``cosync_worker.write_hold``) and its event settled: the drain writes the
    deal later with one read covering every edit made meanwhile, and under pressure waits until the deal
    is quiet, so a deal the rep is still editing does not spend a write its next edit repeats.
    ``may_hold=False``: wait for the turn here (a step that must follow this push comes next).

    No fixed wait: the deal waits for its turn at the account's write scheduler (at once when the budget is
    idle) and only then reads the deal, so every change made while it waited is in that one read. Events of
    one deal run in order (queue ordering key): the ones behind it changed before that read (``occurredAt``
    < ``read_at_ms``) and are covered without another call.
    """
    state = (await deps.deals.read(deal_id)).value
    if state.linked is False:
        await ensure_opportunity(deps, deal_id)  # finishes a creation cut short before the deal knew of it
    if not state.opportunity_id:
        # An untagged deal costs nothing until its name changes; a deal that failed validation is retried.
        if state.tagged is False and prop != "dealname":
            return "skipped"
        if prop == "dealname" and not has_tag(value, deps.config.deal_tag):
            await deps.deals.update(deal_id, replace(DealState(tagged=False)))
            return "skipped"
        created = await ensure_opportunity(deps, deal_id)
        return "created" if created else "skipped"
    if occurred_ms is not None and occurred_ms < state.read_at_ms:
        return "covered"
    # A deal's own change: its company and contacts are read again only if the deal's associations changed
    # (or the copy is old); a change to them has its own event, whose push reads them (push_related).
    if (
        may_hold
        and deps.held is not None
        and (await deps.held.holding() or await deps.pc.scheduler.contested())
    ):
        await deps.held.mark(deal_id, occurred_ms if occurred_ms is not None else _now_ms(), Priority.UPDATE)
        return "held"
    change = Change(prop, value, occurred_ms) if occurred_ms is not None else None
    return await push_update(deps, deal_id, occurred_ms=occurred_ms, customer_cache=True, change=change)


@dataclass(frozen=True)
class Change:
    """One ``deal.propertyChange``: the property, its new value and HubSpot's ``occurredAt``."""

    prop: str
    value: str | None
    occurred_ms: int


async def forget_copy(deps: Deps, deal_id: str) -> None:
    """The deal changed in a way its events do not carry (cosync's own write of a pushed property, another
    company or contact associated): its next push reads it."""
    state = (await deps.deals.read(deal_id)).value
    if state.deal_copy or getattr(state, "customer", None):
        await deps.deals.update(deal_id, setting(deal_copy={}, customer=None))


def _deal_copy(state: DealState) -> dict[str, Any] | None:
    """``DealState.deal_copy`` if it can stand in for a read: the same rules as the customer's copy."""
    copy = state.deal_copy
    if not isinstance(copy.get("props"), dict) or not isinstance(copy.get("seen"), dict):
        return None
    read_ms = int(copy.get("read_ms") or 0)
    if _now_ms() - read_ms > CUSTOMER_COPY_SECONDS * 1000 or state.reverse_written_ms >= read_ms:
        return None
    return copy


def _from_event(deps: Deps, deal_id: str, state: DealState, change: Change | None) -> DealBundle | str | None:
    """The deal as its copy and this event say, instead of a read (issue 22: HubSpot calls per edit), or
    ``"covered"`` when a newer event of the same property was applied already, or None: read it.

    Only when no later event waits (``backlog``: none of the deal's in the same receive, which was not full),
    the turn came without waiting behind others and the event is recent: the deal's events run in order, so
    one with others behind it, or that waited, may be superseded already, and a read at turn time covers
    them with a single write. Events of one property that arrive out of order are told apart by ``occurredAt``."""
    if change is None or change.prop not in EVENT_VALUE_PROPERTIES:
        return None
    copy, customer = _deal_copy(state), _customer_copy(state)
    if copy is None or customer is None:
        return None
    if change.occurred_ms <= int(copy["seen"].get(change.prop) or 0):
        return "covered"
    if backlog() or not turn_uncontested() or _now_ms() - change.occurred_ms > EVENT_RECENT_SECONDS * 1000:
        return None
    # ``aws_sync_status`` unknown (cosync may have written it since the read): the push's stamp sets it.
    deal = {**copy["props"], change.prop: change.value, "aws_sync_status": None}
    return DealBundle(
        deal_id, deal, None, [], state.read_at_ms, list(customer["ids"]), customer_cached=True, change=change
    )


def _copy_after(bundle: DealBundle, state: DealState) -> dict[str, Any]:
    """The deal's copy once this push is recorded: a full read's properties, or the event's value applied."""
    change = bundle.change
    if change is None:
        props = {p: bundle.deal.get(p) for p in UPDATE_PROPERTIES}
        return {"props": props, "read_ms": bundle.read_at_ms, "seen": {}}
    copy = state.deal_copy
    return {
        **copy,
        "props": {**copy["props"], change.prop: change.value},
        "seen": {**copy["seen"], change.prop: change.occurred_ms},
    }


async def push_update(
    deps: Deps,
    deal_id: str,
    bundle: DealBundle | None = None,
    *,
    priority: Priority = Priority.UPDATE,
    occurred_ms: int | None = None,
    customer_cache: bool = False,
    change: Change | None = None,
) -> str:
    """When the deal's write turn comes, read the deal, and if anything cosync owns differs from what was
    last synced, read-merge-write the opportunity. Returns ``"noop"``, ``"updated"``, ``"blocked"``,
    ``"error"`` or ``"covered"`` (a push of another path read the deal after ``occurred_ms`` while this one
    waited). ``priority``: a rep's edit, or a reconcile/summary-driven push (``Priority.BACKGROUND``).
    ``customer_cache``: the deal's company and contacts may come from the copy of the last full read (a
    change of the deal's own properties; see :func:`_customer_copy`)."""
    async with deps.pc.turn(deal_id, priority), deps.deal_lock(deal_id):
        state = (await deps.deals.read(deal_id)).value
        if occurred_ms is not None and occurred_ms < state.read_at_ms:
            return "covered"
        if bundle is None:
            taken = _from_event(deps, deal_id, state, change)
            if taken == "covered":
                return "covered"
            bundle = taken if isinstance(taken, DealBundle) else None
        outcome, stamp = await _push_update_locked(deps, deal_id, bundle, customer_cache)
    if stamp is not None:
        # After the lock and the turn: the stamp and the note wait for other pushes' to share a batch call,
        # and neither the deal's other flows nor the next write need wait for that.
        await pushes.after_push(deps, *stamp)
    return outcome


def _customer_copy(state: DealState) -> dict[str, Any] | None:
    """The company and contacts as the deal's last full read saw them (``DealState.customer``: their ids and
    the ``Customer.*`` paths they gave), if still usable: younger than ``CUSTOMER_COPY_SECONDS`` (a company
    webhook lost for good is then picked up by a later edit) and no reverse sync wrote since (it only writes
    the deal today; the check keeps it safe if it ever writes the company)."""
    copy = getattr(state, "customer", None)
    if not isinstance(copy, dict) or not isinstance(copy.get("ids"), list):
        return None
    read_ms = int(copy.get("read_ms") or 0)
    if _now_ms() - read_ms > CUSTOMER_COPY_SECONDS * 1000 or state.reverse_written_ms >= read_ms:
        return None
    return copy


# What a push that landed owes the deal: (the deal as read, its id, the opportunity id, the fields applied).
Stamp = tuple[dict[str, Any], str, str, dict[str, dict[str, Any]]]


async def _push_update_locked(
    deps: Deps, deal_id: str, bundle: DealBundle | None, customer_cache: bool = False
) -> tuple[str, Stamp | None]:
    state = (await deps.deals.read(deal_id)).value
    opp_id = state.opportunity_id
    if not opp_id:
        return "noop", None
    if bundle is not None and state.reverse_written_ms >= bundle.read_at_ms:
        bundle = None  # a reverse sync wrote to the deal after this read: pushing it would undo that write
    from_event = bundle is not None and bundle.change is not None
    copy = _customer_copy(state) if customer_cache and (bundle is None or from_event) else None
    bundle = bundle or await read_deal(deps.hs, deal_id, copy["ids"] if copy else None)
    owned = owned_from_hubspot(bundle.deal, bundle.company, bundle.contacts, deps.config)
    seen: dict[str, Any] = {}  # the new copy of the company and contacts, after a full read
    if bundle.customer_cached and copy is not None:
        owned.update(copy.get("owned") or {})  # the same company and contacts: what they gave last time
    elif bundle.customer_ids is not None:
        customer = {p: v for p, v in owned.items() if p.startswith("Customer.")}
        seen = {"customer": {"ids": bundle.customer_ids, "owned": customer, "read_ms": bundle.read_at_ms}}
    owned = with_cleared(owned, state.owned)  # issue 17: a value emptied in HubSpot is cleared in AWS
    if owned == state.owned:
        copied = _copy_after(bundle, state)
        await deps.deals.update(deal_id, setting(read_at_ms=bundle.read_at_ms, deal_copy=copied, **seen))
        return "noop", None
    outcome = "noop"
    blocked: list[str] = []
    reason: str | None = None
    status = None
    base = dict(state.owned)
    settled: Settled | None = None
    written_view: dict[str, Any] | None = None
    calls: list[str] = []
    applied: dict[str, dict[str, Any]] = {}
    answer: dict[str, Any] = {}
    for _ in range(MAX_CONFLICT_RETRIES):
        current = await deps.pc.call("GetOpportunity", Priority.UPDATE, Identifier=opp_id)
        calls.append("GetOpportunity")
        status = (current.get("LifeCycle") or {}).get("ReviewStatus")
        have = owned_view(current, list(owned))
        if settled is None:
            for path, value in state.sending.items():
                if have.get(path) == value:
                    # Our own earlier write whose push was cut short before it recorded it (a SIGKILL, a lost
                    # answer): the value is ours, not a change made in Partner Central to hold a conflict over.
                    base[path] = value
            # Once per push: a re-read after ConflictException must not record the same conflict twice.
            settled = await settle_outbound(
                deps, deal_id, opp_id, bundle.deal, current, owned, have, base, state.conflicts
            )
        changed = [p for p, v in owned.items() if have.get(p) != v and p not in settled.skip]
        blocked, reason = review_rules(status, changed)
        allowed = {p: owned[p] for p in changed if p not in blocked}
        if not allowed:
            break
        request = merge_update(current, allowed)
        # Recorded before the write, never assumed done: if this push dies after the write lands, the next
        # push and any reverse sync recognise these values in Partner Central as ours (no false conflict, no
        # echo back over a newer edit of the rep's). The "Opportunity Updated" event the write causes waits
        # for the deal's lock, so it sees the state saved after the write.
        await deps.deals.update(deal_id, setting(sending=allowed))
        try:
            calls.append("UpdateOpportunity")
            answer = await deps.pc.call("UpdateOpportunity", Priority.UPDATE, **request)
        except PartnerCentralError as exc:
            if exc.code == "ConflictException":
                log.info("aws_update_conflict", deal_id=deal_id, opportunity_id=opp_id)
                continue
            if exc.code == "ValidationException":
                await deps.deals.update(deal_id, setting(sending={}))
                await _mark_error(deps, bundle, f"Partner Central rejected the update: {exc.message}")
                return "error", None
            raise Retry(f"UpdateOpportunity failed: {exc.code}") from None  # ``sending`` stays recorded
        outcome = "updated"
        applied = {p: {"old": have.get(p), "new": v} for p, v in allowed.items()}
        written_view = hubspot_view(
            {**request, "LifeCycle": {**request["LifeCycle"], "ReviewStatus": status}}, deps.config
        )
        break
    else:
        raise Retry("UpdateOpportunity kept conflicting with changes made in Partner Central", defer=5)
    # What was not applied stays "unsynced" so a later change or the review's end retries it.
    previous = state.owned
    held = set(blocked) | (set(settled.pending) if settled else set())
    synced = {p: v for p, v in owned.items() if p not in held}
    synced.update({p: previous[p] for p in held if p in previous})
    # Only now: events older than this read are "covered" (sync_change skips them), so a push that failed or
    # was killed before this point must leave the mark where it was, or its own redelivery would be skipped.
    done: dict[str, Any] = {"owned": synced, "read_at_ms": bundle.read_at_ms, "sending": {}, **seen}
    done["deal_copy"] = _copy_after(bundle, state)
    if outcome == "updated" and written_view is not None:
        # What AWS changed that the deal was not told (read just now, e.g. an approval) stays unsynced, and
        # the write is then not taken for an echo: its event is read and reverse-synced. Otherwise the event
        # this write causes, and a reconcile record of it, cost no read (echoes.py).
        sent = {PATH_FIELDS[p] for p in allowed if p in PATH_FIELDS}
        unseen = echoes.unseen_by_the_deal(state, hubspot_view(current, deps.config), sent)
        written_view = {k: v for k, v in written_view.items() if k not in unseen}
        written_view.update({k: state.hubspot[k] for k in unseen if k in state.hubspot})
        done["own_write_ms"] = _now_ms()
        if not unseen:
            done.update(echoes.owed(state, answer.get("LastModifiedDate"), 1))
    if settled is not None:
        synced.update(settled.base)
        done["conflicts"] = settled.pending
    if written_view is not None:
        done["hubspot"] = written_view
    await deps.deals.update(deal_id, setting(**done))
    if applied:
        await audit.record(
            deps.store, opp_id, "update_opportunity", audit.SYSTEM_PC, deal_id, calls, changes=applied
        )
    if blocked:
        await _note_once(
            deps,
            f"blocked:{status}:{','.join(sorted(blocked))}",
            f"{deal_id}:{sorted(str(owned[p]) for p in blocked)}",
            deal_id,
            f"cosync did not send {', '.join(sorted(blocked))} to AWS Partner Central: {reason}. "
            "It will be sent with the next change once AWS allows it.",
        )
        # issue 17: and a task (pushes.py)
        await pushes.tell_held(deps, deal_id, opp_id, blocked, reason, sorted(str(owned[p]) for p in blocked))
        outcome = "blocked" if outcome == "noop" else outcome
    log.info("aws_update", deal_id=deal_id, opportunity_id=opp_id, outcome=outcome, fields=sorted(owned))
    # issue 17: status, stamp + note (pushes.py), sent by the caller once the deal's lock is released
    return outcome, ((bundle.deal, deal_id, opp_id, applied) if outcome == "updated" else None)


async def push_related(
    deps: Deps, object_type: str, object_id: str, occurred_ms: int | None = None
) -> dict[str, str]:
    """Flow 4: a company or contact changed; update every associated deal that has an opportunity, once per
    burst. Returns ``{deal_id: outcome}`` (empty when an earlier event of the burst covered this change).

    Events of one company or contact run in order, so like flow 3 the first event of a burst pushes each
    deal when its turn comes (reading it then); the rest happened before that read and cost nothing, not
    even the associations call.
    """
    key = related_id(object_type, object_id)
    marker = (await deps.related.read(key)).value
    if occurred_ms is not None and occurred_ms < marker.read_at_ms:
        return {}
    linked = await deps.hs.associations(object_type, object_id, "deals")
    deals = []
    for deal_id in linked:
        if (await deps.deals.read(deal_id)).value.opportunity_id:
            deals.append(deal_id)
    if not deals:
        return {}
    # Each push reads its deal after this instant; the mark is kept only once every push is done, so a
    # redelivery after a failed push is not taken for an event the burst already covered.
    read_at_ms = _now_ms()
    outcomes = {deal_id: await push_update(deps, deal_id) for deal_id in deals}
    await deps.related.update(key, marked_at(read_at_ms))
    return outcomes
