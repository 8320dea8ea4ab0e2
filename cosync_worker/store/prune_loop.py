"""Audit retention on SQLite as a sync loop: a default plugin of the core, an SDK connector whose one
``@every`` loop the framework schedules like any connector's (as the notification digest is). Appends prune a
batch of expired entries as they go, but a store nobody writes to would keep them for ever; each tick (daily
by default, ``schedules.audit_prune``; deduplicated across processes) deletes every entry past
``store.audit_retention_days``. A store without ``prune_audit`` (DynamoDB: its TTL deletes) is left alone.
"""

from __future__ import annotations

from ..connector import Connector, Run, every
from ..logs import get_logger

__all__ = ["PRUNE_LOOP", "AuditRetention", "cosync_plugin"]

PRUNE_LOOP = "audit_prune"
log = get_logger("cosync.store.retention")


class AuditRetention(Connector):
    name = "audit_retention"
    description = "Prunes the audit log of an SQLite store once a day, written to or not."

    @every(
        PRUNE_LOOP,
        86_400,
        jitter_seconds=600,
        description="delete audit entries past store.audit_retention_days (SQLite)",
    )
    async def prune(self, run: Run) -> None:
        prune = getattr(self.context.store, "prune_audit", None)
        if prune is None:
            return
        gone = await prune()
        log.info("audit_pruned", entries=gone)


cosync_plugin = AuditRetention
