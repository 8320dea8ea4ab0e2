"""The Microsoft connector's part in ``cosync link`` / ``cosync backfill`` (hook ``cosync_linkers``).

Exact key: a referral's ``externalReferenceId`` is the HubSpot deal id it was created from (Referral resource:
https://learn.microsoft.com/en-us/partner-center/developer/referral-resources). Candidates compare the
customer's name, the referral's name and its ``details.closingDateTime``. A referral no deal matches becomes
a deal exactly as the poll makes one (``referral_to_deal``); a tagged deal without a referral is created
through the connector's own flow, idempotent by ``externalReferenceId``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cosync_worker.connector import has_tag
from cosync_worker.hooks import LinkerSpec, Party, RemoteRecord

from .mapping import DEAL_PROPERTIES, deal_snapshot, referral_to_deal, same_value, status_properties
from .sync import _adopted

if TYPE_CHECKING:
    from .sync import ReferralSync

__all__ = ["microsoft_linker", "remote_record"]

ID_PROPERTY = "microsoft_referral_id"
_COMPARED = {"dealname": "name", "closedate": "details.closingDateTime", "amount": "details.dealValue"}


def remote_record(referral: dict[str, Any], open_statuses: tuple[str, ...]) -> RemoteRecord:
    details = referral.get("details") or {}
    profile = referral.get("customerProfile") or {}
    return RemoteRecord(
        remote_id=str(referral["id"]),
        party=Party(
            company=str(profile.get("name") or ""),
            title=str(referral.get("name") or ""),
            close_date=str(details.get("closingDateTime") or "")[:10],
        ),
        deal_id=str(referral.get("externalReferenceId") or "") or None,
        label=str(referral.get("name") or ""),
        raw=referral,
        open=referral.get("status") in open_statuses,  # what the poll would make a deal of
    )


def _path(referral: Any, path: str) -> Any:
    for part in path.split("."):
        referral = referral.get(part) if isinstance(referral, dict) else None
    return referral


def differences(props: Any, record: RemoteRecord) -> dict[str, tuple[Any, Any]]:
    found = {}
    for prop, path in _COMPARED.items():
        deal_value, remote_value = props.get(prop), _path(dict(record.raw), path)
        if prop == "dealname":
            if str(remote_value or "").strip().lower() not in str(deal_value or "").lower():
                found[prop] = (deal_value, remote_value)
        elif not same_value(prop, deal_value, remote_value):
            found[prop] = (deal_value, remote_value)
    return found


def microsoft_linker(connector: ReferralSync) -> LinkerSpec:
    settings = connector.settings

    statuses = tuple(settings.poll_statuses)

    async def list_remote() -> list[RemoteRecord]:
        return [remote_record(r, statuses) async for r in connector.referrals.list_referrals(None)]

    async def link(deal_id: str, props: Any, record: RemoteRecord | None) -> None:
        async with connector.deal_lock(deal_id):
            if (await connector.deals.read(deal_id)).value.referral_id:
                return  # linked already (a rerun, the poll or a deal.creation got here first)
            # The referral holds its own values, not necessarily the deal's: they are what was last synced, so
            # the deal's next push sends every value that differs (a no-op where equal), never none of them.
            if record is None:
                referral_id = str(props[ID_PROPERTY])
                found = await connector.referrals.get(referral_id)  # a read: nothing is sent
                adopted = _adopted({**found, "id": referral_id}, settings)
                await connector.deals.update(deal_id, lambda s: s if s.referral_id else adopted)
                return
            referral = dict(record.raw)
            # HubSpot first: if the state write is lost, a deal.creation adopts the id from the deal.
            await connector.hubspot.update(
                "deals",
                deal_id,
                {
                    **status_properties(referral),
                    "microsoft_sync_status": "synced",
                    "microsoft_sync_error": "",
                },
            )
            linked = _adopted(referral, settings)
            await connector.deals.update(deal_id, lambda s: s if s.referral_id else linked)

    async def reconcile(deal_id: str, props: Any, record: RemoteRecord | None) -> None:
        # Microsoft receives the deal's values (the direction this connector syncs an outgoing referral): the
        # state is told the referral's current values were last synced, so the push sends what differs.
        if record is None:
            return
        seen = deal_snapshot(referral_to_deal(dict(record.raw), settings))
        async with connector.deal_lock(deal_id):
            state = (await connector.deals.read(deal_id)).value
            if state.referral_id != record.remote_id:
                return
            await connector.deals.update(deal_id, lambda s: s.model_copy(update={"synced": seen}))
        await connector.deal_changed(deal_id, None)

    async def create_remote(deal_id: str) -> str | None:
        await connector.deal_created(deal_id)
        return (await connector.deals.read(deal_id)).value.referral_id

    def deal_from_remote(record: RemoteRecord) -> dict[str, str]:
        props = {**referral_to_deal(dict(record.raw), settings), "pipeline": settings.pipeline}
        return {k: str(v) for k, v in props.items() if v is not None}

    return LinkerSpec(
        connector=connector.name,
        id_property=ID_PROPERTY,
        tagged=lambda props: has_tag(props.get("dealname"), settings.deal_tag),
        link=link,
        list_remote=list_remote,
        create_remote=create_remote,
        deal_from_remote=deal_from_remote,
        differences=differences,
        reconcile=reconcile,
        deal_properties=DEAL_PROPERTIES,
        label="Microsoft Partner Center referrals",
    )
