"""Audit retention on SQLite as a sync loop: a default plugin of the core, declared through the same hooks a
connector uses (as the notification digest is). Appends prune a batch of expired entries as they go, but a
store nobody writes to would keep them for ever; each tick (daily by default, ``schedules.audit_prune``;
deduplicated across processes) deletes every entry past ``store.audit_retention_days``. A store without
``prune_audit`` (DynamoDB: its TTL deletes) is left alone.
"""

from __future__ import annotations

from ..events import Event
from ..hooks import ConnectorSpec, Context, ScheduleSpec, hookimpl
from ..logs import get_logger

__all__ = ["PRUNE_LOOP"]

PRUNE_LOOP = "audit_prune"
log = get_logger("cosync.store.retention")


@hookimpl
def cosync_connector() -> ConnectorSpec:
    return ConnectorSpec(
        name="audit_retention",
        schedules=(
            ScheduleSpec(
                PRUNE_LOOP,
                interval_seconds=86_400,
                jitter_seconds=600,
                description="delete audit entries past store.audit_retention_days (SQLite)",
            ),
        ),
        description="Prunes the audit log of an SQLite store once a day, written to or not.",
    )


@hookimpl
async def cosync_handle_event(event: Event, context: Context) -> None:
    if event.type != f"schedule.{PRUNE_LOOP}":
        return
    prune = getattr(context.store, "prune_audit", None)
    if prune is None:
        return
    gone = await prune()
    log.info("audit_pruned", entries=gone)
