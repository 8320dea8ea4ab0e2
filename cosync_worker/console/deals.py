"""What the console shows of deals: per connector, the HubSpot properties it keeps on a deal (found by the
names its declared properties follow: ``<connector>_..._id``, ``<connector>_sync_status``,
``<connector>_sync_error``), and one deal's timeline (audit entries, notes and tasks, conflicts)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ..conflicts import Conflict, ConflictBook
from ..hooks import Context, PluginManager
from ..relay.conflict_routes import ROLLBACK_OBJECTS
from ..store import AuditEntry

__all__ = ["CloudColumns", "DealRow", "TimelineItem", "cloud_columns", "find_deals", "timeline"]

# How many synced deals a listing reads from HubSpot (newest first); a search narrows it.
LIST_LIMIT = 200
_AUDIT_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class CloudColumns:
    connector: str
    id_property: str
    status_property: str | None
    error_property: str | None

    @property
    def properties(self) -> list[str]:
        return [p for p in (self.id_property, self.status_property, self.error_property) if p]


@dataclass
class CloudCell:
    connector: str
    remote_id: str | None
    status: str | None
    error: str | None
    last_sync: float | None = None
    link: str | None = None


@dataclass
class DealRow:
    id: str
    name: str
    clouds: list[CloudCell] = field(default_factory=list)
    link: str | None = None


@dataclass(frozen=True, slots=True)
class TimelineItem:
    at: float
    kind: str
    title: str
    detail: Any = None
    actor: str = ""


def cloud_columns(plugins: PluginManager) -> list[CloudColumns]:
    names = sorted(c.spec.name for c in plugins.connectors())
    declared = [
        spec.name
        for batch in plugins.hook.cosync_hubspot_properties()
        for spec in batch or []
        if spec.object_type == "deals"
    ]
    columns = []
    for name in names:
        own = [p for p in declared if p.startswith(f"{name}_")]
        ids = [p for p in own if p.endswith("_id") and "invitation" not in p]
        if not ids:
            continue
        columns.append(
            CloudColumns(
                name,
                ids[0],
                f"{name}_sync_status" if f"{name}_sync_status" in own else None,
                f"{name}_sync_error" if f"{name}_sync_error" in own else None,
            )
        )
    return columns


def audit_key_of(connector: str, remote_id: str) -> str | None:
    """The audit key of a connector's remote object (known for the connectors that support rollback)."""
    if connector not in ROLLBACK_OBJECTS:
        return None
    system, object_type = ROLLBACK_OBJECTS[connector]
    return f"{system}:{object_type}:{remote_id}"


def _link(template: str | None, remote_id: str | None) -> str | None:
    return template.replace("{id}", remote_id) if template and remote_id else None


def hubspot_link(context: Context, deal_id: str) -> str | None:
    portal = context.settings.hubspot.portal_id
    return f"https://app.hubspot.com/contacts/{portal}/record/0-3/{deal_id}" if portal else None


async def _row(context: Context, columns: list[CloudColumns], record: dict[str, Any]) -> DealRow:
    props = record.get("properties") or {}
    links = context.settings.relay.console.remote_links
    row = DealRow(
        id=str(record.get("id")),
        name=str(props.get("dealname") or ""),
        link=hubspot_link(context, record["id"]),
    )
    for col in columns:
        remote_id = props.get(col.id_property) or None
        cell = CloudCell(
            col.connector,
            remote_id,
            props.get(col.status_property) if col.status_property else None,
            props.get(col.error_property) if col.error_property else None,
            link=_link(links.get(col.connector), remote_id),
        )
        key = audit_key_of(col.connector, remote_id) if remote_id else None
        if key:
            entries = await context.store.audit_trail(key, limit=_AUDIT_LIMIT)
            cell.last_sync = entries[-1].at if entries else None
        row.clouds.append(cell)
    return row


async def find_deals(context: Context, plugins: PluginManager, query: str = "") -> list[DealRow]:
    """Synced deals (those with a remote id of any connector), newest first; ``query`` matches a name, a
    deal id or a remote id."""
    hubspot = context.services.get("hubspot")
    columns = cloud_columns(plugins)
    if hubspot is None or not columns:
        return []
    groups = [{"filters": [{"propertyName": c.id_property, "operator": "HAS_PROPERTY"}]} for c in columns]
    wanted = ["dealname", *(p for c in columns for p in c.properties)]
    records = []
    async for record in hubspot.search(
        "deals",
        filter_groups=groups,
        properties=wanted,
        sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}],
    ):
        records.append(record)
        if len(records) >= LIST_LIMIT:
            break
    needle = query.strip().lower()
    if needle:
        records = [
            r
            for r in records
            if needle == str(r.get("id"))
            or needle in str((r.get("properties") or {}).get("dealname") or "").lower()
            or any(needle == str((r.get("properties") or {}).get(p) or "").lower() for p in wanted[1:])
        ]
    return list(await asyncio.gather(*(_row(context, columns, r) for r in records)))


async def read_deal(context: Context, plugins: PluginManager, deal_id: str) -> DealRow | None:
    from ..hubspot.errors import NotFound

    hubspot = context.services.get("hubspot")
    if hubspot is None:
        return None
    columns = cloud_columns(plugins)
    try:
        record = await hubspot.get(
            "deals", deal_id, properties=["dealname", *(p for c in columns for p in c.properties)]
        )
    except NotFound:
        return None
    return await _row(context, columns, record)


def _audit_item(entry: AuditEntry) -> TimelineItem:
    return TimelineItem(entry.at, "audit", f"{entry.system}: {entry.action}", entry.detail, entry.actor)


async def _engagements(context: Context, deal_id: str, kind: str, body: str) -> list[TimelineItem]:
    hubspot = context.services.get("hubspot")
    if hubspot is None:
        return []
    ids = await hubspot.associations("deals", deal_id, kind)
    if not ids:
        return []
    records = await hubspot.batch_read(kind, ids, properties=[body, "hs_timestamp", "hs_createdate"])
    items = []
    for r in records:
        props = r.get("properties") or {}
        items.append(TimelineItem(_epoch(props.get("hs_createdate")), kind[:-1], str(props.get(body) or "")))
    return items


def _epoch(value: Any) -> float:
    from datetime import datetime

    if not value:
        return 0.0
    text = str(value)
    if text.isdigit():
        return int(text) / 1000
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


async def timeline(context: Context, deal: DealRow) -> tuple[list[TimelineItem], list[Conflict]]:
    """The deal's story, newest first, and its pending conflicts."""
    items: list[TimelineItem] = []
    for cell in deal.clouds:
        key = audit_key_of(cell.connector, cell.remote_id) if cell.remote_id else None
        if key:
            items += [_audit_item(e) for e in await context.store.audit_trail(key, limit=_AUDIT_LIMIT)]
    notes, tasks = await asyncio.gather(
        _engagements(context, deal.id, "notes", "hs_note_body"),
        _engagements(context, deal.id, "tasks", "hs_task_subject"),
    )
    items += notes + tasks
    conflicts = [c for c in await ConflictBook(context.store).pending() if c.deal_id == deal.id]
    items += [
        TimelineItem(c.detected_at, "conflict", f"conflict on {c.field} ({c.connector})", c.status)
        for c in conflicts
    ]
    return sorted(items, key=lambda i: i.at, reverse=True), conflicts
