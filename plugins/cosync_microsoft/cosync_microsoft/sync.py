"""The three flows of the connector, on the SDK: the runtime's HubSpot client, the Referrals client, per-deal
versioned state and per-deal leases that hold across replicas.

State per deal (:class:`DealState`, ``microsoft:deal:<id>``): ``referral_id``, the referral's last ``etag``,
``remote`` (the referral fields last seen) and ``synced`` (the deal's watched properties last synced).
Comparing with these snapshots is what keeps redelivery, restarts and our own echoes from doing anything twice.

``synced`` names the values the referral holds, never merely the deal's: a referral cosync did not just write
with the deal's values (adopted after a lost create answer, named on the deal, found by the poll with no
snapshot, updated by the poll while a rep's edit waits) records its own values (:func:`_adopted`), so the
push that follows sends every value of the deal that differs, a no-op where they are equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from cosync_worker.connector import (
    DealConnector,
    ObjectState,
    OutcomeUnknown,
    Retry,
    Run,
    associated,
    has_tag,
)
from cosync_worker.logs import get_logger
from cosync_worker.notify import Notice

from . import audit
from .client import MicrosoftApiError, PreconditionFailed, ReferralsClient
from .config import MicrosoftConfig
from .mapping import (
    DEAL_PROPERTIES,
    WATCHED_PROPERTIES,
    ReferralInputError,
    changed_properties,
    deal_snapshot,
    patch_operations,
    referral_body,
    referral_to_deal,
    same_value,
    status_properties,
)

__all__ = ["CURSOR", "POLL", "DealState", "PollResult", "ReferralSync", "referral_version"]

POLL = "microsoft_poll"
CURSOR = "microsoft:poll"
CLOSED_STAGES = frozenset({"closedwon", "closedlost"})
_CONFLICT_ATTEMPTS = 4
_REMOTE_FIELDS = ("name", "status", "substatus", "details")
# The poll's lease is renewed while it runs, so its TTL is only how long a killed poller blocks the next poll
# (600 s once, before leases were renewed: the SQS fault suite then waited 5 minutes for a killed replica's).
# A poll of thousands of referrals takes minutes: it may keep the lease up to an hour.
_POLL_LEASE_SECONDS = 60.0
_POLL_MAX_HOLD_SECONDS = 3600.0

log = get_logger("cosync.microsoft")


class DealState(BaseModel):
    referral_id: str | None = None
    etag: str | None = None
    remote: dict[str, Any] | None = None
    synced: dict[str, Any] = Field(default_factory=dict)
    # Adopted and the deal's values not sent since: a redelivered deal.creation finishes that push.
    adopted: bool = False


def _remote(referral: dict[str, Any]) -> dict[str, Any]:
    return {k: referral.get(k) for k in _REMOTE_FIELDS}


def _linked(referral: dict[str, Any], props: dict[str, Any]) -> DealState:
    return DealState(
        referral_id=str(referral["id"]),
        etag=referral.get("eTag"),
        remote=_remote(referral),
        synced=deal_snapshot(props),
    )


def _adopted(referral: dict[str, Any], settings: MicrosoftConfig) -> DealState:
    """The state of a referral cosync did not just write with the deal's values: the values last synced are
    the referral's own, in deal terms (as the poll maps them), so the next push sends the deal's values."""
    return DealState(
        referral_id=str(referral["id"]),
        etag=referral.get("eTag"),
        remote=_remote(referral),
        synced=deal_snapshot(referral_to_deal(referral, settings)),
        adopted=True,
    )


def referral_version(referral: dict[str, Any]) -> str:
    """The notice change key of a referral update: its eTag (a new one per write), else its update time.

    Both are fields of the Referral resource:
    https://learn.microsoft.com/en-us/partner-center/developer/referral-resources
    """
    return str(referral.get("eTag") or referral.get("updatedDateTime") or referral.get("id"))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class PollResult:
    """What one poll did (tests and logs read it)."""

    seen: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0


class ReferralSync(DealConnector):
    """The flows; :class:`~cosync_microsoft.plugin.MicrosoftConnector` declares which event runs which."""

    status_prefix = "microsoft"
    deals = ObjectState(DealState, "deal", legacy=True)
    last_poll: PollResult | None = None

    @property
    def referrals(self) -> ReferralsClient:
        client: ReferralsClient = self.clients["referrals_client"]
        return client

    @property
    def settings(self) -> MicrosoftConfig:
        config: MicrosoftConfig = self.config
        return config

    # -- flow 1: deal.creation → CreateReferral -------------------------------------------------
    async def deal_created(self, deal_id: str) -> None:
        async with self.deal_lock(deal_id):
            await self._deal_created(deal_id)

    async def _deal_created(self, deal_id: str) -> None:
        state = (await self.deals.read(deal_id)).value
        if state.referral_id:
            # Redelivery or restart: the referral exists already. An adoption whose push failed finishes it.
            if state.adopted:
                await self._deal_changed(deal_id)
            return
        deal = await self.hubspot.get("deals", deal_id, properties=DEAL_PROPERTIES)
        props: dict[str, Any] = deal.get("properties") or {}
        if not has_tag(props.get("dealname"), self.settings.deal_tag):
            return
        if props.get("microsoft_referral_id"):
            # Created by the poll from an incoming referral (or linked by hand): adopt, never create. The
            # referral holds its own values, not necessarily the deal's now (a rep's edit made before this
            # event found no link, so it was not sent): its own values are the snapshot, the push sends the rest.
            referral_id = str(props["microsoft_referral_id"])
            try:
                named = await self.referrals.get(referral_id)
            except MicrosoftApiError as exc:
                await self.set_error(deal_id, exc.reason)
                raise
            adopted = _adopted({**named, "id": referral_id}, self.settings)
            # Conditional: a poll that recorded the whole link meanwhile keeps it.
            await self.deals.update(deal_id, lambda s: s if s.referral_id else adopted)
            await self._deal_changed(deal_id)
            return
        company, contacts = await self._customer(deal_id)
        try:
            body = referral_body(deal_id, props, company, contacts, self.settings)
        except ReferralInputError as exc:
            log.warning("microsoft_referral_input_invalid", deal_id=deal_id, fields=exc.fields)
            await self.set_error(deal_id, f"cannot create the Microsoft referral: {exc}")
            return
        # Idempotency across lost state: Microsoft already knows this deal if a referral carries its id.
        referral = await self.referrals.find_by_external_reference(deal_id)
        found = referral is not None
        if referral is None:
            try:
                referral = await self.referrals.create(body)
            except OutcomeUnknown as exc:
                # The answer was lost after sending: the referral may exist, and its externalReferenceId
                # finds it. Not (yet) listed: the event comes back and looks again before creating.
                referral = await self.referrals.find_by_external_reference(deal_id)
                if referral is None:
                    raise Retry(f"{exc.reason}; no referral carries the deal's id (yet)") from None
                found = True
            except MicrosoftApiError as exc:
                await self.set_error(deal_id, exc.reason)
                raise
            log.info("microsoft_referral_created", deal_id=deal_id, referral_id=referral.get("id"))
            await audit.referral_created(self.store, deal_id, referral)
        # HubSpot first: if the state write is lost, redelivery adopts the id from the deal.
        await self.hubspot.update(
            "deals",
            deal_id,
            {**status_properties(referral), "microsoft_sync_status": "synced", "microsoft_sync_error": ""},
        )
        if not found:
            linked = _linked(referral, props)
            await self.deals.update(deal_id, lambda _: linked)
            return
        # Found, not created now: it holds the values of the attempt that made it (an earlier event's, before
        # the rep's edits since, which found no link and were not sent), so its own values are the snapshot
        # and the push sends the deal's current ones (a no-op where equal).
        adopted = _adopted(referral, self.settings)
        await self.deals.update(deal_id, lambda _: adopted)
        await self._deal_changed(deal_id)

    async def _customer(self, deal_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        companies = await associated(
            self.hubspot, deal_id, "companies", ("name", "address", "city", "state", "zip", "country")
        )
        contacts = await associated(
            self.hubspot, deal_id, "contacts", ("firstname", "lastname", "email", "phone"), limit=20
        )
        return (companies[0] if companies else None), contacts

    # -- flow 2: deal change → PATCH with If-Match -------------------------------------------------
    async def deal_changed(self, deal_id: str, prop: str | None) -> None:
        if prop is not None and prop not in WATCHED_PROPERTIES:
            return  # our own microsoft_* write-backs and unrelated properties
        async with self.deal_lock(deal_id):
            await self._deal_changed(deal_id)

    async def _deal_changed(self, deal_id: str) -> None:
        state = (await self.deals.read(deal_id)).value
        if not state.referral_id:
            return
        deal = await self.hubspot.get("deals", deal_id, properties=DEAL_PROPERTIES)
        props: dict[str, Any] = deal.get("properties") or {}
        changed = changed_properties(state.synced, props)
        if not changed:
            if state.adopted:  # the adopted referral holds the deal's values: nothing is owed any more
                await self.deals.update(deal_id, lambda s: s.model_copy(update={"adopted": False}))
            return  # an echo of what we wrote, or a redelivery
        try:
            referral = await self._patch(state.referral_id, state.etag, state.remote, changed, props, deal_id)
        except ReferralInputError as exc:
            await self.set_error(deal_id, f"cannot update the Microsoft referral: {exc}")
            return
        except MicrosoftApiError as exc:
            await self.set_error(deal_id, exc.reason)
            raise
        synced = _linked({**referral, "id": state.referral_id}, props)
        await self.deals.update(deal_id, lambda _: synced)
        wanted = {
            **status_properties(referral),
            "microsoft_sync_status": "synced",
            "microsoft_sync_error": "",
        }
        diff = {k: v for k, v in wanted.items() if (props.get(k) or "") != v}
        if diff:
            await self.hubspot.update("deals", deal_id, diff)

    async def _patch(
        self,
        referral_id: str,
        etag: str | None,
        remote: dict[str, Any] | None,
        changed: list[str],
        props: dict[str, Any],
        deal_id: str,
    ) -> dict[str, Any]:
        """Apply the rep's changes; on a stale eTag re-read the referral and re-apply, never blindly."""
        current: dict[str, Any] | None = (
            {**remote, "id": referral_id, "eTag": etag} if remote and etag else None
        )
        for _ in range(_CONFLICT_ATTEMPTS):
            if current is None:
                current = await self.referrals.get(referral_id)
            ops = patch_operations(changed, props, current, self.settings)
            if not ops:
                return current
            try:
                updated, new_etag = await self.referrals.update(referral_id, str(current.get("eTag")), ops)
            except PreconditionFailed:
                log.info("microsoft_etag_conflict", referral_id=referral_id)
                current = None
                continue
            await audit.referral_updated(self.store, deal_id, referral_id, current, ops)
            if updated is None:
                return await self.referrals.get(referral_id)
            updated["eTag"] = new_etag or updated.get("eTag")
            return updated
        raise MicrosoftApiError(
            412, "PreconditionFailed", "the referral kept changing; gave up after retries"
        )

    # -- flow 3: scheduled poll of New/Active referrals --------------------------------------------
    async def poll(self) -> PollResult:
        """One poll now, as a scheduler tick would run it (the framework keeps the cursor)."""
        await self.tick(POLL)
        assert self.last_poll is not None
        return self.last_poll

    async def poll_referrals(self, run: Run) -> datetime:
        async with self.lock(
            "poll", ttl_seconds=_POLL_LEASE_SECONDS, wait_seconds=5.0, max_hold_seconds=_POLL_MAX_HOLD_SECONDS
        ):
            self.last_poll = await self._poll(run.since)
        # Only a complete run gets here: the framework then moves the cursor to the run's start.
        return run.signpost

    async def _poll(self, since: datetime | None) -> PollResult:
        statuses = " or ".join(f"status eq '{s}'" for s in self.settings.poll_statuses)
        query = f"({statuses})"
        if since is not None:
            query += f" and updatedDateTime ge {_iso(since)}"
        result = PollResult()
        pending: list[dict[str, Any]] = []
        pages = self.referrals.pages(query, top=self.settings.poll_page_size, orderby="updatedDateTime")
        async for page in pages:
            pending.extend(page)
            # 100 = HubSpot's batch and IN-filter size: one search + one create per 100 (updates are per deal).
            while len(pending) >= 100:
                await self._apply(pending[:100], result)
                pending = pending[100:]
        if pending:
            await self._apply(pending, result)
        log.info("microsoft_poll_done", **result.__dict__)
        return result

    async def _apply(self, referrals: list[dict[str, Any]], result: PollResult) -> None:
        result.seen += len(referrals)
        ids = [str(r["id"]) for r in referrals if r.get("id")]
        deals = await self.hubspot.search_all(
            "deals",
            filter_groups=[
                {"filters": [{"propertyName": "microsoft_referral_id", "operator": "IN", "values": ids}]}
            ],
            properties=DEAL_PROPERTIES,
            limit=100,
        )
        by_referral = {str((d.get("properties") or {}).get("microsoft_referral_id")): d for d in deals}
        creates: list[tuple[dict[str, Any], dict[str, Any]]] = []
        notices: list[Notice] = []
        updates: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        for referral in referrals:
            if referral.get("status") not in self.settings.poll_statuses:
                result.skipped += 1  # closed: finished deals are never reopened
                continue
            desired = referral_to_deal(referral, self.settings)
            deal = by_referral.get(str(referral.get("id")))
            if deal is None:
                if referral.get("externalReferenceId"):
                    result.skipped += 1  # ours, from a HubSpot deal: deal.creation links it
                    continue
                creates.append((referral, {**desired, "pipeline": self.settings.pipeline}))
                continue
            props: dict[str, Any] = deal.get("properties") or {}
            if props.get("dealstage") in CLOSED_STAGES:
                result.skipped += 1
                continue
            state = (await self.deals.read(str(deal["id"]))).value
            diff = self._microsofts_changes(desired, state, props)
            if not diff and state.remote is None:
                # Adopted (state lost, deal linked by hand): the referral holds its own values, not the deal's.
                await self._record(str(deal["id"]), _adopted(referral, self.settings))
            if diff:
                updates.append((str(deal["id"]), diff, referral))
        if creates:
            created = await self.hubspot.batch_create("deals", [{"properties": p} for _, p in creates])
            by_id = {str((d.get("properties") or {}).get("microsoft_referral_id")): d for d in created}
            for n, (referral, props) in enumerate(creates):
                # HubSpot echoes only default properties; its results come back in input order.
                deal = by_id.get(str(referral["id"])) or (
                    created[n] if len(created) == len(creates) else None
                )
                if deal is None:
                    continue
                await self._record(str(deal["id"]), _linked(referral, props))
                result.created += 1
                notices.append(
                    Notice(
                        "microsoft.new_opportunity",
                        str(deal["id"]),
                        str(referral["id"]),  # one "new" notice per referral, whatever happens later
                        {"opportunity_id": str(referral["id"]), "referral_name": referral.get("name")},
                    )
                )
        for deal_id, _, listed in updates:
            applied = await self._apply_update(deal_id, str(listed["id"]))
            if applied is None:
                continue
            diff, referral = applied
            result.updated += 1
            notices.append(
                Notice(
                    "microsoft.opportunity_updated",
                    deal_id,
                    referral_version(referral),
                    {"opportunity_id": str(referral["id"]), "changes": diff},
                )
            )
        if notices and self.notifier is not None:
            # One call for the whole page: the notifier batches HubSpot's task and note creates per 100.
            await self.notifier.notify_many(notices)

    def _microsofts_changes(
        self, desired: dict[str, Any], state: DealState, props: dict[str, Any]
    ) -> dict[str, Any]:
        """Pure: what Microsoft changed since the last sync and the deal does not hold yet, so a rep's own edits
        are not reverted; with no snapshot (state lost, deal linked by hand) only the microsoft_* mirror."""
        previous = referral_to_deal(state.remote, self.settings) if state.remote else None
        changes = {
            k: v
            for k, v in desired.items()
            if (not same_value(k, previous.get(k), v) if previous is not None else k.startswith("microsoft_"))
            and not same_value(k, props.get(k), v)
        }
        to_status = self.settings.stage_to_status
        if "dealstage" in changes and to_status(props.get("dealstage")) == to_status(changes["dealstage"]):
            # Several stages share one status (presentationscheduled..contractsent are Active/Engaged): the deal's
            # stage already says what Microsoft's does, and the first stage of that status would revert it.
            del changes["dealstage"]
        return changes

    async def _apply_update(
        self, deal_id: str, referral_id: str
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Write Microsoft's changes of one referral to its deal, decided under the deal's lease on fresh reads.

        The page was listed, and the state read, before the lease: a push of the rep's edit may have patched
        the referral meanwhile (its own value, not Microsoft's change; written back, it would overwrite the rep's
        newer edit in HubSpot and then in every other cloud: the SQS fault suite's reverted dealstage), or
        recorded a newer snapshot than the listed referral (whose older values would then read as changes)."""
        async with self.deal_lock(deal_id):
            state = (await self.deals.read(deal_id)).value
            referral = {**await self.referrals.get(referral_id), "id": referral_id}
            deal = await self.hubspot.get("deals", deal_id, properties=DEAL_PROPERTIES)
            props: dict[str, Any] = deal.get("properties") or {}
            if (
                referral.get("status") not in self.settings.poll_statuses
                or props.get("dealstage") in CLOSED_STAGES
            ):
                return None
            diff = self._microsofts_changes(referral_to_deal(referral, self.settings), state, props)
            if not diff:
                return None
            # Recorded before writing so the webhook echo of this write is recognised as ours. What was last
            # synced is what the referral holds, not the deal's other values: a rep's edit still waiting to be
            # pushed stays owed (its echo, or its own event, sends it).
            seen = deal_snapshot(referral_to_deal(referral, self.settings))
            await self.deals.update(
                deal_id, lambda s: s.model_copy(update={"referral_id": referral_id, "synced": seen})
            )
            await self.hubspot.update("deals", deal_id, diff)
            # An adoption's push still owed stays owed (a redelivered deal.creation makes it).
            adopted = _adopted(referral, self.settings)
            await self.deals.update(deal_id, lambda s: adopted.model_copy(update={"adopted": s.adopted}))
            return diff, referral

    async def _record(self, deal_id: str, state: DealState, *, keep_adopted: bool = False) -> None:
        async with self.deal_lock(deal_id):
            if keep_adopted:
                await self.deals.update(deal_id, lambda s: state.model_copy(update={"adopted": s.adopted}))
            else:
                await self.deals.update(deal_id, lambda _: state)
