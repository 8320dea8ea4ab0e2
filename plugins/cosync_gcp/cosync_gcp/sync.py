"""The three flows of the connector, on the SDK: the runtime's HubSpot client, the Google client, per-deal
versioned state and per-deal leases that hold across replicas.

State per deal (:class:`DealState`, ``gcp:deal:<id>``): the lead name, the opportunity name, and snapshots of
the deal fields last sent to Google (``hubspot``) and of the Google fields last written to HubSpot
(``google``). Comparing with these snapshots is what keeps redelivery, restarts and echoes from doing anything
twice. The deals a refresh visits are the HubSpot deals that name a lead (``gcp_lead_name``): found by one
search, so no shared index document is rewritten on every link.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field

from cosync_worker.connector import DealConnector, ObjectState, OutcomeUnknown, Retry, associated, has_tag
from cosync_worker.logs import get_logger
from cosync_worker.notify import Notice

from . import audit
from .client import CloudCrmPartnersClient, GoogleApiError
from .config import GcpConfig
from .locator import LeadLinkLocator, OpportunityLocator, SandboxLocator
from .mapping import (
    DEAL_PROPERTIES,
    GOOGLE_WATCHED,
    PATCHABLE_DEAL_PROPERTIES,
    LeadInputError,
    changed_deal_fields,
    google_changes,
    lead_body,
    opportunity_patch,
    opportunity_to_hubspot,
)
from .recovery import interrupted_lead

__all__ = ["REFRESH", "DealState", "LeadSync", "change_key"]

REFRESH = "gcp_refresh"

log = get_logger("cosync.gcp")


class DealState(BaseModel):
    status: str | None = None
    lead_name: str | None = None
    opportunity_name: str | None = None
    hubspot: dict[str, Any] = Field(default_factory=dict)
    google: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


def change_key(opportunity: dict[str, Any]) -> str:
    """The notice's change key: the opportunity's watched values after the change.

    Google's opportunities carry no update time or revision
    (https://developers.google.com/cloud-crm-partners/reference/rest/v1/partners.opportunities), so the
    new state itself names the change: a refresh repeated after a crash maps to the same notice.
    """
    return "|".join(f"{f}={opportunity.get(f) or ''}" for f in GOOGLE_WATCHED)


class LeadSync(DealConnector):
    """The flows; :class:`~cosync_gcp.plugin.GcpConnector` declares which event runs which."""

    deals = ObjectState(DealState, "deal", legacy=True)

    @property
    def google(self) -> CloudCrmPartnersClient:
        found: CloudCrmPartnersClient = self.clients["google_client"]
        return found

    @property
    def settings(self) -> GcpConfig:
        config: GcpConfig = self.config
        return config

    @property
    def locator(self) -> OpportunityLocator:
        if self.settings.link_lookup == "sandbox":
            assert self.google._session is not None
            return SandboxLocator(
                self.settings.sandbox_operator_url or self.settings.base_url, self.google._session
            )
        return LeadLinkLocator(self.google)

    async def _state(self, deal_id: str) -> dict[str, Any] | None:
        found = await self.deals.read(deal_id)
        state = found.value.model_dump(exclude_none=True)
        return state if found.version or state.get("status") or state.get("lead_name") else None

    # -- flow 1: deal.creation → lead → linked opportunity ------------------------------------------
    async def deal_created(self, deal_id: str) -> None:
        async with self.deal_lock(deal_id):
            await self._deal_created(deal_id)

    async def _deal_created(self, deal_id: str) -> None:
        state = await self._state(deal_id)
        if state and state.get("lead_name"):
            # Redelivery or restart: the lead exists; only finish what is left.
            if not state.get("opportunity_name"):
                await self._link(deal_id, state)
            else:
                # The link was recorded, then the write-back or the push of what the rep changed meanwhile
                # failed (a HubSpot 5xx, a kill): whichever of them the deal does not show is done again.
                deal = await self.hubspot.get(
                    "deals", deal_id, properties=[*DEAL_PROPERTIES, "gcp_opportunity_name"]
                )
                shown: dict[str, Any] = deal.get("properties") or {}
                if (shown.get("gcp_opportunity_name"), shown.get("gcp_lead_name")) != (
                    state["opportunity_name"],
                    state["lead_name"],
                ):
                    await self._write_back(deal_id, state)
                await self._push(deal_id, state, shown)
            return
        deal = await self.hubspot.get("deals", deal_id, properties=DEAL_PROPERTIES)
        props: dict[str, Any] = deal.get("properties") or {}
        if state and state.get("status") == "creating" and await self._settle_in_doubt(deal_id, props):
            return
        if not has_tag(props.get("dealname"), self.settings.deal_tag):
            return
        if props.get("gcp_lead_name"):
            # The deal already names its lead (state store lost or shared by hand): adopt, never re-create.
            state = {"status": "lead_created", "lead_name": props["gcp_lead_name"], "hubspot": {}}
            await self._save(deal_id, state)
            await self._link(deal_id, state)
            return
        companies = await associated(self.hubspot, deal_id, "companies", ("name", "domain", "website"))
        contacts = await associated(
            self.hubspot, deal_id, "contacts", ("firstname", "lastname", "email", "phone")
        )
        try:
            body = lead_body(
                deal_id,
                props,
                companies[0] if companies else None,
                contacts[0] if contacts else None,
                self.settings,
            )
        except LeadInputError as exc:
            log.warning("gcp_lead_input_invalid", deal_id=deal_id, fields=exc.fields)
            await self.set_error(deal_id, f"cannot create a Google lead: {exc}")
            return
        await self._save(deal_id, {"status": "creating"})
        try:
            lead = await self.google.create_lead(body)
        except OutcomeUnknown as exc:
            # The answer was lost after sending: a lead may exist. "creating" stays recorded, so this and
            # every later attempt take the interrupted path instead of creating a second lead.
            log.warning("gcp_lead_create_in_doubt", deal_id=deal_id, reason=exc.reason)
            if await self._settle_in_doubt(deal_id, props):
                return
            raise Retry(f"{exc.reason}; no lead was created, so it is created again") from None
        except GoogleApiError as exc:
            await self._save(deal_id, {"status": "error", "error": exc.reason})
            await self.set_error(deal_id, exc.reason)
            raise
        except Exception:
            # Refused before being applied (a 429, a refused connection: Retry): trying again is safe.
            await self._save(deal_id, {"status": "retry"})
            raise
        await audit.lead_created(self.store, deal_id, lead["name"])
        await self._created(deal_id, props, lead["name"])

    async def _settle_in_doubt(self, deal_id: str, props: dict[str, Any]) -> bool:
        """After a creation whose outcome is unknown (a kill, a lost answer): never create again (a second
        lead); adopt the lead found or named on the deal once Google shows it is this deal's, else say on the
        deal what to do. False only when the lead is known not to exist, so it may be created."""
        lead_name, why_not = await interrupted_lead(self.google, self.locator, deal_id, props)
        if lead_name is not None:
            # The lead holds the values of the attempt that made it, not necessarily the deal's values now:
            # no snapshot, so the push after the link sends the deal's current values (a no-op where equal).
            await self._created(deal_id, {}, lead_name)
            return True
        if why_not:
            await self.set_error(deal_id, why_not)
            return True
        await self._save(deal_id, {"status": "retry"})
        return False

    async def _created(self, deal_id: str, props: dict[str, Any], lead_name: str) -> None:
        snapshot = {p: props.get(p) for p in ("amount", "closedate")}
        state = {"status": "lead_created", "lead_name": lead_name, "hubspot": snapshot}
        # Recorded before HubSpot hears of it or the event is acknowledged: a redelivery finds it here.
        await self._save(deal_id, state)
        await self.hubspot.update(
            "deals",
            deal_id,
            {"gcp_lead_name": lead_name, "gcp_sync_status": "lead_created", "gcp_sync_error": ""},
        )
        await self._link(deal_id, state)

    async def _link(self, deal_id: str, state: dict[str, Any], candidate: str | None = None) -> bool:
        """Find (or verify ``candidate``), record the opportunity, write it back, push pending changes."""
        lead_name = str(state["lead_name"])
        name = candidate or await self.locator.find(lead_name)
        if not name:
            if state.get("status") != "awaiting_opportunity":
                state["status"] = "awaiting_opportunity"
                await self._save(deal_id, state)
                # The lead's name again: a refresh finds the deals to visit by it, even after a crash between
                # recording the lead and writing it back.
                await self.hubspot.update(
                    "deals", deal_id, {"gcp_sync_status": "awaiting_opportunity", "gcp_lead_name": lead_name}
                )
            return False
        try:
            opportunity = await self.google.get_opportunity(name)
        except (GoogleApiError, ValueError) as exc:
            await self.set_error(deal_id, f"opportunity {name!r} cannot be read: {exc}")
            return False
        if opportunity.get("lead") != lead_name:
            await self.set_error(
                deal_id,
                f"opportunity {opportunity.get('name')} is not linked to lead {lead_name}; not adopted",
            )
            return False
        state.update(
            status="linked",
            opportunity_name=opportunity["name"],
            google={f: opportunity.get(f) for f in GOOGLE_WATCHED},
        )
        await self._save(deal_id, state)
        await self._write_back(deal_id, state)
        await self._push(deal_id, state)
        return True

    async def _write_back(self, deal_id: str, state: dict[str, Any]) -> None:
        """The lead's name, the linked opportunity's ids and Google-owned fields onto the deal (from the recorded
        snapshot). The lead's name again: its own write may have failed before the retry that linked it."""
        opportunity = {**(state.get("google") or {}), "name": state["opportunity_name"]}
        props = opportunity_to_hubspot(opportunity, self.settings)
        props.pop("dealstage", None)  # the rep's stage is pushed to Google, not overwritten
        await self.hubspot.update(
            "deals",
            deal_id,
            {
                **props,
                "gcp_lead_name": state["lead_name"],
                "gcp_sync_status": "synced",
                "gcp_sync_error": "",
            },
        )

    # -- flow 2: deal changes → opportunities.patch ---------------------------------------------------
    async def deal_changed(self, deal_id: str, prop: str | None, value: Any) -> None:
        async with self.deal_lock(deal_id):
            state = await self._state(deal_id)
            if not state or not state.get("lead_name"):
                return
            if not state.get("opportunity_name"):
                if prop == "gcp_opportunity_id" and value:
                    await self._link(deal_id, state, self.google.resource_name("opportunities", str(value)))
                return
            if prop in PATCHABLE_DEAL_PROPERTIES:
                await self._push(deal_id, state)

    async def _push(self, deal_id: str, state: dict[str, Any], read: dict[str, Any] | None = None) -> None:
        """Send the deal's changes since the last sync to Google; ``read``: the deal's properties, if just read."""
        if read is None:
            deal = await self.hubspot.get("deals", deal_id, properties=DEAL_PROPERTIES)
            read = deal.get("properties") or {}
        props: dict[str, Any] = read
        synced = state.get("hubspot") or {}
        changes = changed_deal_fields(synced, props)
        if not changes:
            return
        try:
            patch = opportunity_patch(changes, self.settings)
        except LeadInputError as exc:
            await self.set_error(deal_id, f"cannot update the Google opportunity: {exc}")
            return
        if patch.mask:
            try:
                opportunity = await self.google.patch_opportunity(
                    state["opportunity_name"], patch.body, patch.mask
                )
            except GoogleApiError as exc:
                await audit.opportunity_patched(
                    self.store,
                    deal_id,
                    state["opportunity_name"],
                    changes,
                    synced,
                    patch.mask,
                    error=exc.reason,
                )
                await self.set_error(deal_id, exc.reason)
                raise
            await audit.opportunity_patched(
                self.store, deal_id, state["opportunity_name"], changes, synced, patch.mask
            )
            state["google"] = {f: opportunity.get(f) for f in GOOGLE_WATCHED}
        if patch.unmapped:
            log.info("gcp_changes_not_sent", deal_id=deal_id, unmapped=patch.unmapped)
        state.setdefault("hubspot", {}).update(changes)
        await self._save(deal_id, state)

    # -- flow 3: scheduled refresh of known opportunities ----------------------------------------------
    async def refresh(self) -> dict[str, int]:
        """One pass over every deal that names a lead; returns counts (linked, updated, failed).

        The Cloud CRM Partners API has no list method and opportunities carry no update time (the REST
        reference lists only leads.create/get and opportunities.get/patch:
        https://developers.google.com/cloud-crm-partners/reference/rest), so there is nothing to filter on:
        each known opportunity is read again."""
        found = await self.hubspot.search_all(
            "deals",
            filter_groups=[{"filters": [{"propertyName": "gcp_lead_name", "operator": "HAS_PROPERTY"}]}],
            properties=("gcp_lead_name", "gcp_opportunity_name", *PATCHABLE_DEAL_PROPERTIES),
            limit=100,
        )
        listed = {str(d["id"]): d.get("properties") or {} for d in found}
        deals = list(listed)
        counts = {"linked": 0, "updated": 0, "failed": 0}
        gate = asyncio.Semaphore(self.settings.refresh_concurrency)

        async def one(deal_id: str) -> None:
            async with gate, self.deal_lock(deal_id):
                try:
                    outcome = await self._refresh_deal(deal_id, listed[deal_id])
                except Exception as exc:  # one bad deal must not stop the pass
                    counts["failed"] += 1
                    log.warning("gcp_refresh_failed", deal_id=deal_id, error=type(exc).__name__)
                    return
                if outcome:
                    counts[outcome] += 1

        await asyncio.gather(*(one(d) for d in deals))
        log.info("gcp_refresh_done", deals=len(deals), **counts)
        return counts

    async def _refresh_deal(self, deal_id: str, listed: dict[str, Any]) -> str | None:
        state = await self._state(deal_id)
        if not state or not state.get("lead_name"):
            return None
        if not state.get("opportunity_name"):
            return "linked" if await self._link(deal_id, state) else None
        outcome = await self._refresh_from_google(deal_id, state, listed)
        if outcome is None and listed.get("gcp_opportunity_name") != state["opportunity_name"]:
            await self._write_back(deal_id, state)  # the link's own write-back failed after it was recorded
            outcome = "linked"
        if changed_deal_fields(state.get("hubspot") or {}, listed):
            # The search shows a rep's change Google was never sent (its push failed for good, or its event
            # was lost): the push reads the deal again under the lock and sends what still differs.
            await self._push(deal_id, state)
        return outcome

    async def _refresh_from_google(
        self, deal_id: str, state: dict[str, Any], listed: dict[str, Any]
    ) -> str | None:
        opportunity = await self.google.get_opportunity(state["opportunity_name"])
        changes = google_changes(state.get("google") or {}, opportunity)
        if not changes:
            return None
        props = opportunity_to_hubspot(opportunity, self.settings)
        stage = opportunity.get("salesStage")
        if "salesStage" not in changes or self.settings.stage_map.get(listed.get("dealstage") or "") == stage:
            # Several HubSpot stages share one salesStage, and the mapped one is only the first of them: written
            # when Google did not move the stage, or moved it to where the deal's stage already maps, it would
            # revert the rep's stage (decisionmakerboughtin -> presentationscheduled for PROPOSAL).
            props.pop("dealstage", None)
        if self.notifier is not None:
            # Before the snapshot is saved: a crash in between repeats this notice next refresh, and the
            # notifier's ledger answers "duplicate" instead of losing it.
            await self.notifier.notify(
                Notice(
                    "google.opportunity_updated",
                    deal_id,
                    change_key(opportunity),
                    {
                        "opportunity_id": props["gcp_opportunity_id"],
                        "changes": {k: "(cleared)" if v is None else v for k, v in changes.items()},
                    },
                )
            )
        state["google"] = {f: opportunity.get(f) for f in GOOGLE_WATCHED}
        if "dealstage" in props:
            # The webhook this write causes must find nothing new to send back to Google.
            state.setdefault("hubspot", {})["dealstage"] = props["dealstage"]
        await self._save(deal_id, state)
        await self.hubspot.update("deals", deal_id, {**props, "gcp_sync_status": "synced"})
        return "updated"

    # -- helpers -------------------------------------------------------------------------------------
    async def _save(self, deal_id: str, state: dict[str, Any]) -> None:
        # Always under the deal's lease: the whole state is replaced.
        record = DealState.model_validate(state)
        await self.deals.update(deal_id, lambda _: record)
