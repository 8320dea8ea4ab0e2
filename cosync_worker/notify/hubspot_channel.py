"""Built-in channel (a default plugin): a HubSpot task for the deal owner, which rings HubSpot's bell, plus a
note on the deal timeline, both associated with the deal inline in the create call (seed 004).

Exactly once, without searching HubSpot: every task and note carries ``cosync_notice_key``, a unique-value
property holding the notice key. Before a create the ledger record says ``task_phase: creating``; after it,
the record holds the ``task_id``. A retry that finds ``creating`` without an id (we crashed, or the answer was
lost, between HubSpot's write and our checkpoint) reads the record back by that unique key with a batch read
(``idProperty``), which, unlike search, is read-after-write consistent, and only creates it if it is absent.
Bursts go out with the batch create endpoints (100 per call), sharing the HubSpot client's rate budget.

Shapes: https://developers.hubspot.com/docs/api/crm/tasks (``hs_task_subject``, ``hs_task_body``,
``hs_task_status``, ``hs_task_priority``, ``hs_timestamp`` = due date, ``hubspot_owner_id``, inline
``associations`` with type 216 task→deal) and https://developers.hubspot.com/docs/api/crm/notes
(``hs_note_body``, ``hs_timestamp``, type 214 note→deal); unique-value properties:
https://developers.hubspot.com/docs/api/crm/properties (``hasUniqueValue``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cosync_worker.hooks.specs import hookimpl
from cosync_worker.hooks.types import NotificationChannelSpec, PropertySpec
from cosync_worker.logs import get_logger

from .channel import Checkpoint, Delivery
from .rendering import note_html, task_html

__all__ = ["KEY_PROPERTY", "NOTICE_KEY_PROPERTIES", "HubSpotChannel"]

log = get_logger("cosync.notify.hubspot")

KEY_PROPERTY = "cosync_notice_key"
TASK_TO_DEAL = 216
NOTE_TO_DEAL = 214


@dataclass(frozen=True)
class _UniquePropertySpec(PropertySpec):
    def to_hubspot(self) -> dict[str, Any]:
        return {**super().to_hubspot(), "hasUniqueValue": True}


NOTICE_KEY_PROPERTIES: tuple[PropertySpec, ...] = tuple(
    _UniquePropertySpec(
        object_type=t,
        name=KEY_PROPERTY,
        label="cosync notice key",
        description="Which cosync notification created this record (makes retries idempotent).",
    )
    for t in ("tasks", "notes")
)


def _ms(at: datetime) -> str:
    return str(int(at.timestamp() * 1000))


class HubSpotChannel:
    """Tasks + notes through the process's shared ``HubSpotClient``."""

    name = "hubspot"

    def __init__(self, client: Any, *, ensure_properties: bool = True) -> None:
        self.client = client
        self._ensure = ensure_properties
        self._ready = False
        self._lock = asyncio.Lock()

    async def _prepare(self) -> None:
        async with self._lock:
            if not self._ready and self._ensure:
                await self.client.ensure_properties(list(NOTICE_KEY_PROPERTIES))
            self._ready = True

    async def deliver(self, items: Sequence[Delivery], checkpoint: Checkpoint) -> None:
        await self._prepare()
        with_owner = [d for d in items if d.message.owner_id and d.message.task]
        for d in items:
            if not d.message.task and "task" not in d.record:
                d.record["task"] = "skipped: a note only"
            elif not d.message.owner_id and "task" not in d.record:
                d.record["task"] = "skipped: deal has no owner"
        await self._create("tasks", "task", with_owner, checkpoint)
        await self._create("notes", "note", [d for d in items if d.with_note], checkpoint)

    async def _create(
        self, object_type: str, what: str, items: list[Delivery], checkpoint: Checkpoint
    ) -> None:
        phase, id_field = f"{what}_phase", f"{what}_id"
        todo = [d for d in items if not d.record.get(id_field)]
        await self._adopt(
            object_type, id_field, [d for d in todo if d.record.get(phase) == "creating"], checkpoint
        )
        todo = [d for d in todo if not d.record.get(id_field)]
        if not todo:
            return
        for d in todo:
            d.record[phase] = "creating"
        await checkpoint(todo)
        build = self._task_input if what == "task" else self._note_input
        created = await self.client.batch_create(object_type, [build(d) for d in todo])
        by_key = {str((r.get("properties") or {}).get(KEY_PROPERTY)): str(r["id"]) for r in created}
        for d in todo:
            if d.message.key in by_key:
                d.record[id_field] = by_key[d.message.key]
        # HubSpot may answer without our property (or in another order): read them back by the unique key.
        await self._adopt(object_type, id_field, [d for d in todo if not d.record.get(id_field)], checkpoint)
        for d in todo:
            if d.record.get(id_field):
                d.record[phase] = "done"
        await checkpoint(todo)
        missing = [d.message.key for d in todo if not d.record.get(id_field)]
        if missing:
            raise RuntimeError(f"HubSpot did not confirm {len(missing)} {object_type}; will look them up")

    async def _adopt(
        self, object_type: str, id_field: str, uncertain: list[Delivery], checkpoint: Checkpoint
    ) -> None:
        """Find records an earlier attempt created, by the unique notice key (a batch read, not a search)."""
        if not uncertain:
            return
        found = await self.client.batch_read(
            object_type,
            [d.message.key for d in uncertain],
            properties=[KEY_PROPERTY],
            id_property=KEY_PROPERTY,
        )
        by_key = {str((r.get("properties") or {}).get(KEY_PROPERTY)): str(r["id"]) for r in found}
        for d in uncertain:
            if d.message.key in by_key:
                d.record[id_field] = by_key[d.message.key]
        await checkpoint(uncertain)

    @staticmethod
    def _associations(d: Delivery, type_id: int) -> list[dict[str, Any]]:
        deals = dict.fromkeys((d.message.notice.deal_id, *d.extra_deal_ids))
        return [
            {
                "to": {"id": deal},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
            }
            for deal in deals
        ]

    def _task_input(self, d: Delivery) -> dict[str, Any]:
        m = d.message
        return {
            "properties": {
                "hs_task_subject": m.subject,
                "hs_task_body": task_html(m),
                "hs_task_status": "NOT_STARTED",
                "hs_task_priority": m.priority,
                "hs_task_type": "TODO",
                "hs_timestamp": _ms(m.due_at),
                "hubspot_owner_id": m.owner_id,
                KEY_PROPERTY: m.key,
            },
            "associations": self._associations(d, TASK_TO_DEAL),
        }

    def _note_input(self, d: Delivery) -> dict[str, Any]:
        m = d.message
        props: dict[str, Any] = {
            "hs_note_body": note_html(m),
            "hs_timestamp": _ms(datetime.now(UTC)),
            KEY_PROPERTY: m.key,
        }
        if m.owner_id:
            props["hubspot_owner_id"] = m.owner_id
        return {"properties": props, "associations": self._associations(d, NOTE_TO_DEAL)}

    async def close(self) -> None:
        """The HubSpot client belongs to the process, not to this channel."""


def _factory(context: Any, options: dict[str, Any]) -> HubSpotChannel:
    return HubSpotChannel(
        context.service("hubspot"), ensure_properties=bool(options.get("ensure_properties", True))
    )


@hookimpl
def cosync_notification_channels(context: Any) -> list[NotificationChannelSpec]:
    return [
        NotificationChannelSpec(
            "hubspot",
            _factory,
            enabled_by_default=True,
            description="HubSpot task (bell) + deal timeline note",
        )
    ]


@hookimpl
def cosync_hubspot_properties() -> list[PropertySpec]:
    return list(NOTICE_KEY_PROPERTIES)
