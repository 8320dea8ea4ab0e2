"""The conflict book, on the ``Store`` protocol alone.

Design: each conflict is a versioned record under ``conflict:<id>`` (so ``get`` is one read and resolving is
a compare-and-set), and the pending ones are members of the store index :data:`PENDING_INDEX`: one item per
conflict, so replicas recording or resolving different conflicts never rewrite a shared document, and
``pending`` reads only what is pending (a resolved conflict leaves the index). Every recording and resolution
is still appended to the audit log under :data:`CONFLICTS_AUDIT_KEY`, the trail people read; the recording's
sequence number there orders ``pending``.

Resolving happens exactly once because it first claims ``conflict-claim:<id>`` with ``claim_key`` (a
conditional write on DynamoDB, a unique row on SQLite): a second resolve, from any replica, is refused before
anything is applied. A resolution that fails to apply releases its claim so it can be tried again.

A crash between two of these writes leaves at worst a resolved conflict still indexed (``pending`` drops it
from the index when it reads it) or a recorded one not indexed yet (as a crash before ``append_audit`` did).
Conflicts recorded before the index existed (plain state documents, listed only by the audit log) are
indexed once, by the first ``pending`` after an upgrade (:meth:`ConflictBook._import_legacy`).
"""

from __future__ import annotations

import time
from typing import Any

from ..audit import current_scope
from ..store import AuditEntry, ConflictError, Store, update_versioned
from .model import Conflict

__all__ = [
    "CONFLICTS_AUDIT_KEY",
    "PENDING_INDEX",
    "AlreadyResolved",
    "ConflictBook",
    "UnknownConflict",
]

CONFLICTS_AUDIT_KEY = "cosync:conflicts"
PENDING_INDEX = "conflicts:pending"
# Claims outlive any retention a deployment would configure for resolved conflicts (ten years).
CLAIM_TTL = 10 * 365 * 86_400.0
# Set once the conflicts of the audit-log era are in the index; its value is only informative.
LEGACY_IMPORTED_CURSOR = "conflicts:legacy-imported"
_LEGACY_REPLAY_LIMIT = 100_000


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
        await self.store.write_versioned(_doc_key(conflict.id), conflict.model_dump(mode="json"), 0)
        seq = await self.store.append_audit(
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
        await self._index(conflict, seq)
        return conflict

    async def _index(self, conflict: Conflict, seq: int) -> None:
        entry = {"seq": seq, "connector": conflict.connector, "at": conflict.detected_at}
        await self.store.index_add(PENDING_INDEX, conflict.id, entry)

    async def get(self, conflict_id: str) -> Conflict | None:
        record = await self.store.read_versioned(_doc_key(conflict_id))
        data = record.value
        if data is None:  # recorded before the book moved to versioned records
            data = await self.store.get_state(_doc_key(conflict_id))
        return None if data is None else Conflict.model_validate(data)

    async def pending(self, connector: str | None = None) -> list[Conflict]:
        """Unresolved conflicts, oldest first."""
        if await self.store.get_cursor(LEGACY_IMPORTED_CURSOR) is None:
            await self._import_legacy()
        members = await self.store.index_members(PENDING_INDEX)
        wanted = [
            (float(entry.get("seq", 0)), float(entry.get("at", 0)), ident)
            for ident, entry in members
            if connector is None or entry.get("connector") == connector
        ]
        found = []
        for *_, ident in sorted(wanted):
            conflict = await self.get(ident)
            if conflict is None or conflict.status != "PENDING":
                # Resolved (or gone) but still indexed: a resolution stopped before its last write.
                await self.store.index_remove(PENDING_INDEX, ident)
                continue
            found.append(conflict)
        return found

    async def _import_legacy(self) -> None:
        """Index the pending conflicts the audit log alone listed, once per store (idempotent: replicas that
        run it together index the same members with the same values)."""
        recorded: dict[str, int] = {}
        for entry in await self.store.audit_trail(CONFLICTS_AUDIT_KEY, limit=_LEGACY_REPLAY_LIMIT):
            ident = str(entry.detail.get("id"))
            if entry.action == "conflict_recorded":
                recorded[ident] = entry.seq
            elif entry.action == "conflict_resolved":
                recorded.pop(ident, None)
        for ident, seq in recorded.items():
            if (await self.store.read_versioned(_doc_key(ident))).value is not None:
                continue  # recorded by this book, so indexed by it
            data = await self.store.get_state(_doc_key(ident))
            if data is None:
                continue
            conflict = Conflict.model_validate(data)
            if conflict.status != "PENDING":
                continue
            try:
                await self.store.write_versioned(_doc_key(ident), conflict.model_dump(mode="json"), 0)
            except ConflictError:
                pass  # another replica imported it first
            await self._index(conflict, seq)
        await self.store.set_cursor(LEGACY_IMPORTED_CURSOR, str(time.time()))

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
        """Mark a claimed (or automatically decided) conflict resolved with ``value`` applied.

        Resolved inside the handling of an API request (``cosync_worker.audit.audit_scope``), the person who
        asked is who resolved it, whatever ``actor`` the connector passes; the record and its audit entry
        say so (``resolved_by``)."""
        asked_by = current_scope().actor
        actor = asked_by if asked_by != "cosync" else actor
        conflict = await self.get(conflict_id)
        if conflict is None:
            raise UnknownConflict(conflict_id)
        if conflict.status == "RESOLVED":
            raise AlreadyResolved(conflict_id)
        await self.store.claim_key(_claim_key(conflict_id), CLAIM_TTL)
        resolved_at = time.time()

        def mark(current: dict[str, Any] | None) -> dict[str, Any]:
            # A record missing here is one of the audit-log era, not imported yet: resolve what get() read.
            base = conflict if current is None else Conflict.model_validate(current)
            if base.status == "RESOLVED":
                raise AlreadyResolved(conflict_id)
            update = {
                "status": "RESOLVED",
                "resolution": resolution,
                "resolved_value": value,
                "reason": reason,
                "resolved_at": resolved_at,
                "resolved_by": actor,
            }
            return base.model_copy(update=update).model_dump(mode="json")

        written = await update_versioned(self.store, _doc_key(conflict_id), mark)
        done = Conflict.model_validate(written.value)
        detail: dict[str, Any] = {
            "id": conflict_id,
            "connector": conflict.connector,
            "resolution": resolution,
            "resolved_by": actor,
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
        await self.store.index_remove(PENDING_INDEX, conflict_id)
        return done
