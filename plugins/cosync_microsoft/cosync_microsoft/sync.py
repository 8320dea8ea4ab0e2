"""The three flows of the connector on top of the HubSpot client, the Referrals client and the state store.

State per deal lives under ``microsoft:deal:<id>``: ``referral_id``, the referral's last ``etag``, ``remote``
(the referral fields last seen) and ``synced`` (the deal's watched properties last synced). Comparing with
these snapshots is what keeps redelivery, restarts and our own echoes from doing anything twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cosync_worker.logs import get_logger
from cosync_worker.notify import Notice, Notifier
from cosync_worker.store import Store

from .client import MicrosoftApiError, PreconditionFailed, ReferralsClient
from .config import MicrosoftConfig
from .mapping import (
    DEAL_PROPERTIES,
    WATCHED_PROPERTIES,
    ReferralInputError,
    changed_properties,
    deal_snapshot,
    has_tag,
    patch_operations,
    referral_body,
    referral_to_deal,
    same_value,
    status_properties,
)

__all__ = ["CURSOR", "MicrosoftSync", "PollResult", "deal_key", "referral_version"]

CURSOR = "microsoft:poll"
CLOSED_STAGES = frozenset({"closedwon", "closedlost"})
_CONFLICT_ATTEMPTS = 4
_REMOTE_FIELDS = ("name", "status", "substatus", "details")

log = get_logger("cosync.microsoft")


def deal_key(deal_id: str) -> str:
    return f"microsoft:deal:{deal_id}"


def _remote(referral: dict[str, Any]) -> dict[str, Any]:
    return {k: referral.get(k) for k in _REMOTE_FIELDS}


def referral_version(referral: dict[str, Any]) -> str:
    """The notice change key of a referral update: its eTag (a new one per write), else its update time.

    Both are fields of the Referral resource:
    https://learn.microsoft.com/en-us/partner-center/developer/referral-resources
    """
    return str(referral.get("eTag") or referral.get("updatedDateTime") or referral.get("id"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class PollResult:
    """What one poll did (tests and logs read it)."""

    seen: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0


class MicrosoftSync:
    """One per process; serialises work per deal so a poll and a webhook never interleave on one deal."""

    def __init__(
        self,
        hubspot: Any,
        client: ReferralsClient,
        store: Store,
        config: MicrosoftConfig,
        notifier: Notifier | None = None,
    ) -> None:
        self.hubspot = hubspot
        # The core notification service: incoming and changed referrals become a task plus a note for the
        # deal owner. Without one (tests of the bare sync, no runtime) the poll notifies nobody.
        self.notifier = notifier
        self.client = client
        self.store = store
        self.config = config
        self._locks: dict[str, asyncio.Lock] = {}
        self._poll_lock = asyncio.Lock()

    def _lock(self, deal_id: str) -> asyncio.Lock:
        return self._locks.setdefault(deal_id, asyncio.Lock())

    async def _set_error(self, deal_id: str, reason: str) -> None:
        await self.hubspot.update(
            "deals", deal_id, {"microsoft_sync_status": "error", "microsoft_sync_error": reason[:1000]}
        )

    # -- flow 1: deal.creation → CreateReferral -------------------------------------------------
    async def deal_created(self, deal_id: str) -> None:
        async with self._lock(deal_id):
            await self._deal_created(deal_id)

    async def _deal_created(self, deal_id: str) -> None:
        key = deal_key(deal_id)
        state = await self.store.get_state(key)
        if state and state.get("referral_id"):
            return  # redelivery or restart: the referral exists already
        deal = await self.hubspot.get("deals", deal_id, properties=DEAL_PROPERTIES)
        props: dict[str, Any] = deal.get("properties") or {}
        if not has_tag(props.get("dealname"), self.config.deal_tag):
            return
        if props.get("microsoft_referral_id"):
            # Created by the poll from an incoming referral (or linked by hand): adopt, never create.
            await self.store.put_state(
                key, {"referral_id": props["microsoft_referral_id"], "synced": deal_snapshot(props)}
            )
            return
        company, contacts = await self._customer(deal_id)
        try:
            body = referral_body(deal_id, props, company, contacts, self.config)
        except ReferralInputError as exc:
            log.warning("microsoft_referral_input_invalid", deal_id=deal_id, fields=exc.fields)
            await self._set_error(deal_id, f"cannot create the Microsoft referral: {exc}")
            return
        # Idempotency across lost state: Microsoft already knows this deal if a referral carries its id.
        referral = await self.client.find_by_external_reference(deal_id)
        if referral is None:
            try:
                referral = await self.client.create(body)
            except MicrosoftApiError as exc:
                await self._set_error(deal_id, exc.reason)
                raise
            log.info("microsoft_referral_created", deal_id=deal_id, referral_id=referral.get("id"))
        # HubSpot first: if the state write is lost, redelivery adopts the id from the deal.
        await self.hubspot.update(
            "deals",
            deal_id,
            {**status_properties(referral), "microsoft_sync_status": "synced", "microsoft_sync_error": ""},
        )
        await self.store.put_state(
            key,
            {
                "referral_id": referral["id"],
                "etag": referral.get("eTag"),
                "remote": _remote(referral),
                "synced": deal_snapshot(props),
            },
        )

    async def _customer(self, deal_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        company_ids = await self.hubspot.associations("deals", deal_id, "companies")
        company: dict[str, Any] | None = None
        if company_ids:
            found = await self.hubspot.get(
                "companies", company_ids[0], properties=("name", "address", "city", "state", "zip", "country")
            )
            company = found.get("properties") or {}
        contact_ids = await self.hubspot.associations("deals", deal_id, "contacts")
        contacts: list[dict[str, Any]] = []
        if contact_ids:
            records = await self.hubspot.batch_read(
                "contacts", contact_ids[:20], properties=("firstname", "lastname", "email", "phone")
            )
            contacts = [r.get("properties") or {} for r in records]
        return company, contacts

    # -- flow 2: deal change → PATCH with If-Match -------------------------------------------------
    async def deal_changed(self, deal_id: str, prop: str | None) -> None:
        if prop is not None and prop not in WATCHED_PROPERTIES:
            return  # our own microsoft_* write-backs and unrelated properties
        async with self._lock(deal_id):
            await self._deal_changed(deal_id)

    async def _deal_changed(self, deal_id: str) -> None:
        key = deal_key(deal_id)
        state = await self.store.get_state(key)
        if not state or not state.get("referral_id"):
            return
        deal = await self.hubspot.get("deals", deal_id, properties=DEAL_PROPERTIES)
        props: dict[str, Any] = deal.get("properties") or {}
        changed = changed_properties(state.get("synced") or {}, props)
        if not changed:
            return  # an echo of what we wrote, or a redelivery
        referral_id = str(state["referral_id"])
        etag: str | None = state.get("etag")
        remote: dict[str, Any] | None = state.get("remote")
        try:
            referral = await self._patch(referral_id, etag, remote, changed, props)
        except ReferralInputError as exc:
            await self._set_error(deal_id, f"cannot update the Microsoft referral: {exc}")
            return
        except MicrosoftApiError as exc:
            await self._set_error(deal_id, exc.reason)
            raise
        state.update(
            {"etag": referral.get("eTag"), "remote": _remote(referral), "synced": deal_snapshot(props)}
        )
        await self.store.put_state(key, state)
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
    ) -> dict[str, Any]:
        """Apply the rep's changes; on a stale eTag re-read the referral and re-apply, never blindly."""
        current: dict[str, Any] | None = (
            {**remote, "id": referral_id, "eTag": etag} if remote and etag else None
        )
        for _ in range(_CONFLICT_ATTEMPTS):
            if current is None:
                current = await self.client.get(referral_id)
            ops = patch_operations(changed, props, current, self.config)
            if not ops:
                return current
            try:
                updated, new_etag = await self.client.update(referral_id, str(current.get("eTag")), ops)
            except PreconditionFailed:
                log.info("microsoft_etag_conflict", referral_id=referral_id)
                current = None
                continue
            if updated is None:
                return await self.client.get(referral_id)
            updated["eTag"] = new_etag or updated.get("eTag")
            return updated
        raise MicrosoftApiError(
            412, "PreconditionFailed", "the referral kept changing; gave up after retries"
        )

    # -- flow 3: scheduled poll of New/Active referrals --------------------------------------------
    async def poll(self) -> PollResult:
        async with self._poll_lock:
            return await self._poll()

    async def _poll(self) -> PollResult:
        signpost = datetime.now(UTC)
        cursor = await self.store.get_cursor(CURSOR)
        statuses = " or ".join(f"status eq '{s}'" for s in self.config.poll_statuses)
        query = f"({statuses})"
        if cursor:
            since = datetime.fromisoformat(cursor.replace("Z", "+00:00"))
            since -= timedelta(seconds=self.config.poll_overlap_seconds)
            query += f" and updatedDateTime ge {_iso(since)}"
        result = PollResult()
        pending: list[dict[str, Any]] = []
        async for page in self.client.pages(query, top=self.config.poll_page_size, orderby="updatedDateTime"):
            pending.extend(page)
            # 100 = HubSpot's batch and IN-filter size: one search + one create + one update per 100.
            while len(pending) >= 100:
                await self._apply(pending[:100], result)
                pending = pending[100:]
        if pending:
            await self._apply(pending, result)
        # Only a complete run moves the cursor; a failed run re-reads the same window next time.
        await self.store.set_cursor(CURSOR, _iso(signpost))
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
        updates: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = []
        for referral in referrals:
            if referral.get("status") not in self.config.poll_statuses:
                result.skipped += 1  # closed: finished deals are never reopened
                continue
            desired = referral_to_deal(referral, self.config)
            deal = by_referral.get(str(referral.get("id")))
            if deal is None:
                if referral.get("externalReferenceId"):
                    result.skipped += 1  # ours, from a HubSpot deal: deal.creation links it
                    continue
                creates.append((referral, {**desired, "pipeline": self.config.pipeline}))
                continue
            props: dict[str, Any] = deal.get("properties") or {}
            if props.get("dealstage") in CLOSED_STAGES:
                result.skipped += 1
                continue
            state = await self.store.get_state(deal_key(str(deal["id"]))) or {}
            previous = referral_to_deal(state["remote"], self.config) if state.get("remote") else None
            diff = {
                k: v
                for k, v in desired.items()
                # Only what Microsoft changed since the last sync, so a rep's own edits are not reverted;
                # with no snapshot (state lost, deal linked by hand) only the microsoft_* mirror is synced.
                if (
                    not same_value(k, previous.get(k), v)
                    if previous is not None
                    else k.startswith("microsoft_")
                )
                and not same_value(k, props.get(k), v)
            }
            if not diff and previous is None:
                async with self._lock(str(deal["id"])):
                    await self.store.put_state(deal_key(str(deal["id"])), self._state(referral, props))
            if diff:
                updates.append((str(deal["id"]), diff, props, referral))
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
                async with self._lock(str(deal["id"])):
                    await self.store.put_state(deal_key(str(deal["id"])), self._state(referral, props))
                result.created += 1
                notices.append(
                    Notice(
                        "microsoft.new_opportunity",
                        str(deal["id"]),
                        str(referral["id"]),  # one "new" notice per referral, whatever happens later
                        {"opportunity_id": str(referral["id"]), "referral_name": referral.get("name")},
                    )
                )
        if updates:
            for deal_id, diff, props, referral in updates:
                # Recorded before writing so the webhook echo of this write is recognised as ours.
                async with self._lock(deal_id):
                    state = await self.store.get_state(deal_key(deal_id)) or {}
                    state.update({"referral_id": referral["id"], "synced": deal_snapshot({**props, **diff})})
                    await self.store.put_state(deal_key(deal_id), state)
            await self.hubspot.batch_update(
                "deals", [{"id": d, "properties": diff} for d, diff, _, _ in updates]
            )
            for deal_id, diff, props, referral in updates:
                async with self._lock(deal_id):
                    await self.store.put_state(deal_key(deal_id), self._state(referral, {**props, **diff}))
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

    @staticmethod
    def _state(referral: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
        return {
            "referral_id": referral["id"],
            "etag": referral.get("eTag"),
            "remote": _remote(referral),
            "synced": deal_snapshot(props),
        }
