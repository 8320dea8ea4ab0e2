"""Partner Central -> HubSpot: reverse sync of opportunity changes (flow 8) and AWS invitations (flow 7).

EventBridge events carry identifiers only and delivery is best effort
(https://docs.aws.amazon.com/partner-central/latest/APIReference/selling-api-events.html), so each handler
fetches the current record, and the reconcile/poll schedules call the same functions for what events missed.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

from cosync_worker.errors import PermanentError, Retry
from cosync_worker.logs import get_logger

from . import audit, echoes, notices, pushes
from .client import PartnerCentralError, Priority
from .conflict_flow import settle_reverse
from .conflict_rules import CONFLICT_FIELDS, PATH_FIELDS
from .deps import Deps
from .hubspot_side import add_note, link_opportunity, mapped_deal
from .hubspot_side import deal_for as _deal_for
from .mapping import as_created, client_token, hubspot_view, owned_from_hubspot, owned_view, sync_stamp
from .state import DealState, InvitationState, finish_creation_record, replace

__all__ = ["accept_invitation", "adopt_opportunity", "poll_invitations", "reconcile", "reverse_sync"]

log = get_logger("cosync.aws")

_LABELS = {
    "dealstage": "stage",
    "closedate": "close date",
    "aws_review_status": "review status",
    "aws_next_steps": "next steps",
    "aws_review_comments": "AWS feedback",
}
# Told by the review notice (task + note), so left out of the reverse sync's own note.
_REVIEW_PROPERTIES = frozenset({"aws_review_status", "aws_review_comments"})
RECONCILE_OVERLAP = timedelta(seconds=60)
# Deal -> company, HUBSPOT_DEFINED "Primary" (5):
# https://developers.hubspot.com/docs/api/crm/associations/v4#association-type-id-values
DEAL_TO_COMPANY = 5
# The SDK's leases (``aws:<key>``) of the creating flows are tried once (``wait_seconds=0``): another worker
# holding one is a ``Busy`` retry deferred by half the TTL, which is also how long a killed holder blocks it.
CREATE_LEASE_SECONDS = 30.0


def _same(prop: str, a: Any, b: Any) -> bool:
    left, right = str(a or ""), str(b or "")
    if prop == "closedate":
        return left[:10] == right[:10]
    return left == right


def _differs(deps: Deps, state: DealState, record: dict[str, Any]) -> bool:
    """Whether the record shows the deal anything the last sync did not (the reverse sync's own diff)."""
    last = state.hubspot
    return any(not _same(k, last.get(k), v) for k, v in hubspot_view(record, deps.config).items())


async def reverse_sync(
    deps: Deps,
    opp_id: str,
    record: dict[str, Any] | None = None,
    *,
    created: bool = False,
    at: Any = None,
) -> dict[str, str]:
    """Write what AWS changed on the opportunity to its deal, with a note naming the changes; returns the
    properties written. A change cosync itself made is recognised (last synced view and the deal's current
    values) and never echoed back, so HubSpot <-> AWS cannot ping-pong. ``created``: the event was
    ``Opportunity Created``, so an opportunity no deal knows becomes one (:func:`adopt_opportunity`).
    ``at``: the event's ``time`` (AWS's clock), by which the echo of cosync's own write costs no read."""
    deal_id = await _deal_for(deps, opp_id)
    if deal_id is None:
        if created:
            await adopt_opportunity(deps, opp_id)
        return {}
    async with deps.deal_lock(deal_id):
        changes, push = await _reverse_sync_locked(deps, deal_id, opp_id, record, at, created)
    if push:
        from .outbound import push_update  # outbound imports this module's neighbours; late import, no cycle

        await push_update(deps, deal_id)
    return changes


def _one_echo_seen(st: DealState) -> DealState:
    st.own_echoes = max(0, st.own_echoes - 1)
    return st


async def _reverse_sync_locked(
    deps: Deps,
    deal_id: str,
    opp_id: str,
    record: dict[str, Any] | None,
    at: Any = None,
    created: bool = False,
) -> tuple[dict[str, str], bool]:
    """The read-compare-write of :func:`reverse_sync` under the deal's lock; says whether HubSpot won a
    conflict and must be pushed (done by the caller, after the lock is released)."""
    state = (await deps.deals.read(deal_id)).value
    if state.opportunity_id is None and state.creating is not None:
        # The deal was found through the map its own creation wrote, which then stopped before its state:
        # recorded as created first, so what follows compares with the creation's values, and a push's base
        # is what the opportunity holds (not empty, which takes the creation's amount for an AWS change).
        view = hubspot_view(as_created(state.creating.request), deps.config)
        state = (await deps.deals.update(deal_id, finish_creation_record(opp_id, view))).value
    if created and state.opportunity_id == opp_id:
        # The deal was made with, or from a read after, this creation: the event has nothing newer to say (a
        # later change has an event of its own). Not counted: it may come before the deal knew its opportunity.
        return {}, False
    if record is None and echoes.echo_event(state, at):
        await deps.deals.update(deal_id, _one_echo_seen)  # one of cosync's own writes (echoes.py)
        return {}, False
    if record is not None and echoes.own_record(state, record.get("LastModifiedDate")):
        return {}, False  # cosync read all of it just before its last write
    if record is not None and _differs(deps, state, record):
        # A list page is read before this deal's lock is taken, so it can predate a write made meanwhile
        # (cosync's own push of a rep's edit, or AWS's): written back, its older values would undo that
        # write in HubSpot and then, pushed on, in AWS. It only says where to look; the record read under
        # the lock decides. An unchanged opportunity still costs no read.
        record = None
    current = record or await deps.pc.call("GetOpportunity", Priority.UPDATE, Identifier=opp_id)
    # Before the diff, which a push of the rep's may have emptied (it records AWS's status as synced too).
    told = await _tell_review(deps, deal_id, opp_id, current, state.hubspot.get("aws_review_status"))
    view = hubspot_view(current, deps.config)
    if time.time() - (state.submitting or 0) < deps.config.task_timeout_seconds + 60:
        # cosync's own submission is under way: the review status moves because of it, and the submission
        # flow writes it (with its one note); a record read just before or after must not touch it.
        view.pop("aws_review_status", None)
    last = state.hubspot
    diff = {k: v for k, v in view.items() if not _same(k, last.get(k), v)}
    sending = state.sending
    if sending:
        # What a push cut short (killed, or its answer lost) sent: cosync's own value, not AWS's change.
        in_pc = owned_view(current, list(sending))
        ours = {PATH_FIELDS[p] for p, v in sending.items() if p in PATH_FIELDS and in_pc.get(p) == v}
        diff = {k: v for k, v in diff.items() if k not in ours}
    if not diff:
        return {}, False
    deal = await deps.hs.get("deals", deal_id, properties=list(diff))
    actual = deal.get("properties") or {}
    changes = {k: v for k, v in diff.items() if not _same(k, actual.get(k), v)}
    settled = await settle_reverse(
        deps,
        deal_id,
        opp_id,
        current,
        changes,
        actual,
        last,
        state.owned,
        state.conflicts,
        _same,
    )
    changes = {k: v for k, v in changes.items() if k not in settled.skip}
    if changes:
        await pushes.update_deal(deps, deal_id, {**changes, **sync_stamp("AWS")})
    held = {CONFLICT_FIELDS[k] for k in settled.skip if k in CONFLICT_FIELDS} - set(settled.base)

    def synced(st: DealState) -> DealState:
        st.opportunity_id = st.opportunity_id or opp_id
        st.hubspot = {**st.hubspot, **view}
        # The stage and close date now agree on both sides: the webhook our write causes is then a no-op.
        # A field HubSpot won keeps AWS's value as its base, so the push below sends HubSpot's.
        agreed = owned_view(current, ["LifeCycle.Stage", "LifeCycle.TargetCloseDate"])
        st.owned = {**st.owned, **{p: v for p, v in agreed.items() if p not in held}}
        st.conflicts = {**st.conflicts, **settled.pending}
        if changes:
            # A push holding a deal read from before this write must read the deal again.
            st.reverse_written_ms = int(time.time() * 1000)
        return st

    await deps.deals.update(deal_id, synced)
    if changes:
        await audit.record(
            deps.store,
            opp_id,
            "reverse_sync",
            audit.SYSTEM_HUBSPOT,
            deal_id,
            ([] if record else ["GetOpportunity"]) + ["hubspot.deals.get", "hubspot.deals.update"],
            changes={k: {"old": actual.get(k), "new": v} for k, v in sorted(changes.items())},
            remote_changes={
                p: {"old": state.owned.get(p), "new": v}
                for p, v in owned_view(current, list(PATH_FIELDS)).items()
                if PATH_FIELDS[p] in changes
            },
        )
    # A review status the rep was just told of has its notice's note: a second note would say it twice.
    noted = {k: v for k, v in changes.items() if not (told and k in _REVIEW_PROPERTIES)}
    if noted:
        lines = [
            f"{_LABELS.get(k, k)}: {actual.get(k) or '(empty)'} -> {v}" for k, v in sorted(noted.items())
        ]
        await add_note(
            deps.hs, deal_id, f"AWS Partner Central changed opportunity {opp_id}:\n" + "\n".join(lines)
        )
    if changes:
        log.info("aws_reverse_sync", deal_id=deal_id, opportunity_id=opp_id, changed=sorted(changes))
    return changes, bool(settled.base)


async def _tell_review(
    deps: Deps, deal_id: str, opp_id: str, record: dict[str, Any], baseline: str | None
) -> bool:
    """The review status's notices (seed 004: Approved / Action Required HIGH, Rejected MEDIUM, with AWS's
    comments; submission confirmed), each once: see :mod:`.notices`. Whether any was sent now."""
    told = notices.Told(deps.told, opp_id)
    before = await told.read()
    found, after = notices.review_notices(
        deal_id, opp_id, record, before, deps.config.submission.involvement_type, baseline
    )
    if after != before:
        await notices.send(deps.notifier, found, deps.hs)
        await told.write(after)
    return bool(found)


async def reconcile(deps: Deps, since: datetime | None) -> int:
    """Catch what events missed: ListOpportunities changed since the last successful run (one read per page
    of 100; the framework keeps the cursor, ``since`` is None on the first run), each compared with the last
    synced state; only one that differs is read again, under its deal's lock, before anything is written.
    Returns how many were looked at."""
    params: dict[str, Any] = {"MaxResults": 100}
    if since is not None:
        params["LastModifiedDate"] = {"AfterLastModifiedDate": since}
    summaries = await deps.pc.paginate("ListOpportunities", "OpportunitySummaries", **params)
    for summary in summaries:
        await reverse_sync(deps, str(summary["Id"]), summary)
    return len(summaries)


async def _wait_task(deps: Deps, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + deps.config.task_timeout_seconds
    while True:
        page = await deps.pc.call(
            "ListEngagementByAcceptingInvitationTasks", Priority.CREATE, TaskIdentifier=[task_id]
        )
        tasks = page.get("TaskSummaries") or []
        task = tasks[0] if tasks else {}
        status = task.get("TaskStatus")
        if status == "COMPLETE":
            return task
        if status == "FAILED":
            raise PermanentError(
                f"accepting invitation failed: {task.get('ReasonCode')}: {task.get('Message')}"
            )
        if time.monotonic() > deadline:
            raise Retry(f"task {task_id} still {status}", defer=deps.config.task_poll_seconds * 5)
        await asyncio.sleep(deps.config.task_poll_seconds)


def _domain(url: str | None) -> str:
    if not url:
        return ""
    return url.split("://", 1)[-1].split("/", 1)[0]


async def accept_invitation(deps: Deps, invitation_id: str) -> str | None:
    """Flow 7: accept the invitation, then create the deal (tagged) and its company; never twice."""
    done = (await deps.invitations.read(invitation_id)).value.deal_id
    if done:
        return done
    # The event and the poll may reach one invitation together: one accepts (one write), the other retries.
    # The lease is renewed while the task runs, up to the task's timeout; a killed holder frees it in one TTL.
    async with deps.lock(
        f"invitation:{invitation_id}",
        ttl_seconds=CREATE_LEASE_SECONDS,
        wait_seconds=0,
        max_hold_seconds=deps.config.task_timeout_seconds + 2 * CREATE_LEASE_SECONDS,
    ):
        st = (await deps.invitations.read(invitation_id)).value
        if st.deal_id:
            return st.deal_id
        deal_id = await _accept_and_create(deps, invitation_id, st)
        if deal_id is not None:
            await _set_invitation(deps, invitation_id, deal_id=deal_id)
    return deal_id


async def _set_invitation(deps: Deps, invitation_id: str, **fields: str) -> None:
    await deps.invitations.update(invitation_id, lambda st: st.model_copy(update=fields))


async def _accept_and_create(deps: Deps, invitation_id: str, st: InvitationState) -> str | None:
    opp_id = st.opportunity_id
    if not opp_id:
        task_id = st.task_id
        if not task_id:
            invitation = await deps.pc.call(
                "GetEngagementInvitation", Priority.CREATE, Identifier=invitation_id
            )
            if invitation.get("Status") in ("REJECTED", "EXPIRED", "CANCELED"):
                log.info(
                    "aws_invitation_closed", invitation_id=invitation_id, status=invitation.get("Status")
                )
                return None
            # One call accepts and creates the opportunity; the ClientToken makes a retry return the same task.
            task = await deps.pc.call(
                "StartEngagementByAcceptingInvitationTask",
                Priority.CREATE,
                ClientToken=client_token("invitation", invitation_id),
                Identifier=invitation_id,
            )
            task_id = str(task["TaskId"])
            await _set_invitation(deps, invitation_id, task_id=task_id)
        done = await _wait_task(deps, task_id)
        opp_id = str(done["OpportunityId"])
        await _set_invitation(deps, invitation_id, opportunity_id=opp_id)
    return await _create_deal(deps, opp_id, invitation_id=invitation_id)


async def _create_deal(
    deps: Deps, opp_id: str, *, invitation_id: str | None = None, opp: dict[str, Any] | None = None
) -> str:
    """The deal (tagged, with the customer as its company) for an opportunity that came from AWS: an accepted
    invitation, or an opportunity someone else created (``invitation_id`` None). One per opportunity, under a
    store lock: ``GetOpportunity`` does not say where an opportunity came from, so the ``Opportunity Created``
    event of an invitation's opportunity may reach :func:`adopt_opportunity` before the acceptance recorded
    it; both paths then make and tell of the same one deal. The store's mapping, then a search by the ids the
    deal carries, come first, so a retry after a crash creates no second deal."""
    async with deps.lock(f"deal-for:{opp_id}", ttl_seconds=CREATE_LEASE_SECONDS, wait_seconds=0):
        return await _create_deal_locked(deps, opp_id, invitation_id, opp)


async def _existing_deal(deps: Deps, opp_id: str, invitation_id: str | None) -> str | None:
    mapped = await mapped_deal(deps, opp_id)
    if mapped:
        return mapped
    groups = [{"filters": [{"propertyName": "aws_opportunity_id", "operator": "EQ", "value": opp_id}]}]
    if invitation_id:
        groups.append(
            {"filters": [{"propertyName": "aws_invitation_id", "operator": "EQ", "value": invitation_id}]}
        )
    found = await deps.hs.search_all(
        "deals", filter_groups=groups, properties=["aws_opportunity_id"], limit=1
    )
    return str(found[0]["id"]) if found else None


async def _create_deal_locked(
    deps: Deps, opp_id: str, invitation_id: str | None, opp: dict[str, Any] | None
) -> str:
    tell = notices.new_opportunity_notice
    existing = await _existing_deal(deps, opp_id, invitation_id)
    if existing is not None:
        if invitation_id:  # adopted from its event before the acceptance finished: say where it came from
            await pushes.update_deal(deps, existing, {"aws_invitation_id": invitation_id})
        existing = await link_opportunity(deps, opp_id, existing)
        await notices.send(deps.notifier, [tell(existing, opp_id, opp_id, invitation_id)], deps.hs)
        return existing
    opp = opp or await deps.pc.call("GetOpportunity", Priority.CREATE, Identifier=opp_id)
    account = (opp.get("Customer") or {}).get("Account") or {}
    project = opp.get("Project") or {}
    company_props = {
        "name": account.get("CompanyName") or "AWS referral customer",
        "domain": _domain(account.get("WebsiteUrl")),
        "country": (account.get("Address") or {}).get("CountryCode") or "",
    }
    company = await deps.hs.create("companies", {k: v for k, v in company_props.items() if v})
    view = hubspot_view(opp, deps.config)
    spend = (project.get("ExpectedCustomerSpend") or [{}])[0]
    title = project.get("Title") or account.get("CompanyName") or opp_id
    deal_props: dict[str, Any] = {
        "dealname": f"{title} {deps.config.deal_tag}",
        "aws_opportunity_id": opp_id,
        "aws_opportunity_title": str(title),
        "aws_sync_status": "synced",
        **view,
        **sync_stamp("AWS"),
    }
    if invitation_id:
        deal_props["aws_invitation_id"] = invitation_id
    if project.get("CustomerBusinessProblem"):
        deal_props["description"] = project["CustomerBusinessProblem"]
    if spend.get("Amount"):
        deal_props["amount"] = spend["Amount"]
    deal = await deps.hs.create(
        "deals",
        deal_props,
        associations=[
            {
                "to": {"id": company["id"]},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": DEAL_TO_COMPANY}],
            }
        ],
    )
    deal_id = str(deal["id"])
    owned = owned_from_hubspot({k: str(v) for k, v in deal_props.items()}, company_props, [], deps.config)
    await link_opportunity(deps, opp_id, deal_id)
    await deps.deals.update(deal_id, replace(DealState(opportunity_id=opp_id, owned=owned, hubspot=view)))
    calls = ["GetOpportunity", "hubspot.companies.create", "hubspot.deals.create"]
    await audit.record(
        deps.store,
        opp_id,
        "invitation_accepted" if invitation_id else "opportunity_adopted",
        audit.SYSTEM_HUBSPOT,
        deal_id,
        ["StartEngagementByAcceptingInvitationTask", *calls] if invitation_id else calls,
        invitation_id=invitation_id,  # None is left out of the entry
        changes={k: {"old": None, "new": v} for k, v in sorted(deal_props.items())},
        remote_changes={p: {"old": None, "new": v} for p, v in owned_view(opp).items()},
    )
    # The notice's note is the deal's note (seed 004): one, whichever path made the deal.
    await notices.send(deps.notifier, [tell(deal_id, opp_id, opp_id, invitation_id, str(title))], deps.hs)
    log.info("aws_deal_from_aws", invitation_id=invitation_id, opportunity_id=opp_id, deal_id=deal_id)
    return deal_id


def created_elsewhere(record: dict[str, Any]) -> bool:
    """Pure: whether cosync's push flow did not make the opportunity (a colleague in Partner Central, another
    partner of a multi-partner engagement, an AWS referral). cosync's own carry ``hubspot-deal-<id>``: their
    creation may still be recording it under the deal's lock, and must not get a second deal."""
    ident = str(record.get("PartnerOpportunityIdentifier") or "")
    return not ident.startswith("hubspot-deal-")


async def _aws_referral(deps: Deps, opp_id: str) -> bool:
    """Whether AWS referred the opportunity (``GetAwsOpportunitySummary``'s ``Origin``; ``GetOpportunity``
    does not say): those arrive as invitations, whose flow (7) makes their deal and tells the rep."""
    try:
        summary = await deps.pc.call(
            "GetAwsOpportunitySummary", Priority.CREATE, RelatedOpportunityIdentifier=opp_id
        )
    except PartnerCentralError as exc:
        if exc.code == "ResourceNotFoundException":
            return False  # AWS has no view of it: a partner's own opportunity
        raise
    return bool(summary.get("Origin") == "AWS Referral")


async def adopt_opportunity(deps: Deps, opp_id: str) -> str | None:
    """Seed 000 §3: an ``Opportunity Created`` event for an opportunity no deal knows becomes a HubSpot deal
    (one, under a lease like the invitation's), and the rep is told."""
    async with deps.lock(f"adopt:{opp_id}", ttl_seconds=CREATE_LEASE_SECONDS, wait_seconds=0):
        mapped = await mapped_deal(deps, opp_id)
        if mapped:
            return mapped
        opp = await deps.pc.call("GetOpportunity", Priority.CREATE, Identifier=opp_id)
        if not created_elsewhere(opp) or await _aws_referral(deps, opp_id):
            return None
    return await _create_deal(deps, opp_id, opp=opp)


async def poll_invitations(deps: Deps) -> list[str]:
    """The safety net under the ``Engagement Invitation Created`` event: every pending invitation."""
    pending = await deps.pc.paginate(
        "ListEngagementInvitations",
        "EngagementInvitationSummaries",
        ParticipantType="RECEIVER",
        Status=["PENDING"],
        PayloadType=["OpportunityInvitation"],
    )
    deals = []
    for invitation in pending:
        try:
            deal_id = await accept_invitation(deps, str(invitation["Id"]))
        except PartnerCentralError as exc:
            log.warning("aws_invitation_failed", invitation_id=invitation.get("Id"), code=exc.code)
            continue
        except Retry:
            continue  # another worker holds it (the event path); it finishes there
        if deal_id:
            deals.append(deal_id)
    return deals
