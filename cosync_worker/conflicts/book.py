"""The conflict book, on the ``Store`` protocol alone.

Design: each conflict is a state document under ``conflict:<id>`` (so ``get`` is one read), and every
recording and resolution is also appended to the audit log under the fixed key :data:`CONFLICTS_AUDIT_KEY`.
The store has no "list state documents" call, and a shared index document would lose entries when two
workers rewrite it at once; the audit log is append-only and atomic on both SQLite and DynamoDB, so
``pending`` replays it (recorded minus resolved). Resolving happens exactly once because it first claims
``conflict-claim:<id>`` with ``claim_key`` (a conditional write on DynamoDB, a unique row on SQLite): a
second resolve, from any replica, is refused before anything is applied. A resolution that fails to apply
releases its claim so it can be tried again.
"""

from __future__ import annotations

import time
from typing import Any

from ..store import AuditEntry, Store
from .model import Conflict

__all__ = ["CONFLICTS_AUDIT_KEY", "REPLAY_LIMIT", "AlreadyResolved", "ConflictBook", "UnknownConflict"]

CONFLICTS_AUDIT_KEY = "cosync:conflicts"
# Claims outlive any retention a deployment would configure for resolved conflicts (ten years).
CLAIM_TTL = 10 * 365 * 86_400.0
# How much history ``pending`` replays; both stores page through it in one call.
REPLAY_LIMIT = 100_000


class UnknownConflict(LookupError):
    """No conflict has this id."""


class AlreadyResolved(RuntimeError):
    """The conflict is resolved, or a resolution of it is already under way."""


def _doc_key(conflict_id: str) -> str:
    return f"conflict:{conflict_id}"


def _claim_key(conflict_id: str) -> str:
    return f"conflict-claim:{conflict_id}"


class ConflictBook:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(self, conflict: Conflict) -> Conflict:
        """Keep a new conflict (its id must be new) and list it as pending."""
        await self.store.put_state(_doc_key(conflict.id), conflict.model_dump(mode="json"))
        await self.store.append_audit(
            AuditEntry(
                object_key=CONFLICTS_AUDIT_KEY,
                system="cosync",
                action="conflict_recorded",
                detail={
                    "id": conflict.id,
                    "connector": conflict.connector,
                    "object_key": conflict.object_key,
                },
                at=time.time(),
            )
        )
        return conflict

    async def get(self, conflict_id: str) -> Conflict | None:
        data = await self.store.get_state(_doc_key(conflict_id))
        return None if data is None else Conflict.model_validate(data)

    async def pending(self, connector: str | None = None) -> list[Conflict]:
        """Unresolved conflicts, oldest first."""
        open_ids: dict[str, None] = {}
        for entry in await self.store.audit_trail(CONFLICTS_AUDIT_KEY, limit=REPLAY_LIMIT):
            ident = str(entry.detail.get("id"))
            if entry.action == "conflict_recorded":
                if connector is None or entry.detail.get("connector") == connector:
                    open_ids[ident] = None
            elif entry.action == "conflict_resolved":
                open_ids.pop(ident, None)
        found = [await self.get(ident) for ident in open_ids]
        return [c for c in found if c is not None and c.status == "PENDING"]

    async def claim(self, conflict_id: str) -> Conflict:
        """Reserve the right to resolve: :class:`UnknownConflict` or :class:`AlreadyResolved` otherwise."""
        conflict = await self.get(conflict_id)
        if conflict is None:
            raise UnknownConflict(conflict_id)
        if conflict.status == "RESOLVED" or not await self.store.claim_key(
            _claim_key(conflict_id), CLAIM_TTL
        ):
            raise AlreadyResolved(conflict_id)
        return conflict

    async def release(self, conflict_id: str) -> None:
        """Give a claim back after the resolution could not be applied."""
        await self.store.release_key(_claim_key(conflict_id))

    async def resolve(
        self,
        conflict_id: str,
        resolution: str,
        value: Any,
        reason: str | None = None,
        actor: str = "cosync",
    ) -> Conflict:
        """Mark a claimed (or automatically decided) conflict resolved with ``value`` applied."""
        conflict = await self.get(conflict_id)
        if conflict is None:
            raise UnknownConflict(conflict_id)
        if conflict.status == "RESOLVED":
            raise AlreadyResolved(conflict_id)
        await self.store.claim_key(_claim_key(conflict_id), CLAIM_TTL)
        done = conflict.model_copy(
            update={
                "status": "RESOLVED",
                "resolution": resolution,
                "resolved_value": value,
                "reason": reason,
                "resolved_at": time.time(),
            }
        )
        await self.store.put_state(_doc_key(conflict_id), done.model_dump(mode="json"))
        detail: dict[str, Any] = {
            "id": conflict_id,
            "connector": conflict.connector,
            "resolution": resolution,
        }
        await self.store.append_audit(
            AuditEntry(
                object_key=CONFLICTS_AUDIT_KEY,
                system="cosync",
                action="conflict_resolved",
                detail=detail,
                actor=actor,
                at=time.time(),
            )
        )
        return done
