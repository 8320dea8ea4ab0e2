"""The conflict book on both stores: record, pending, get, claim exactly once, resolve."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from cosync_worker.conflicts import (
    CONFLICTS_AUDIT_KEY,
    PENDING_INDEX,
    AlreadyResolved,
    Conflict,
    ConflictBook,
    UnknownConflict,
)
from cosync_worker.store import AuditEntry, Store

from ..store.conftest import MakeStore


def _conflict(n: int, connector: str = "aws") -> Conflict:
    return Conflict(
        connector=connector,
        object_key=f"partnercentral:opportunity:O{n}",
        remote_id=f"O{n}",
        deal_id=str(100 + n),
        field="amount",
        hubspot_value="20000",
        hubspot_timestamp=1000.0,
        remote_value="30000",
        remote_timestamp=1002.0,
    )


async def test_record_pending_get_and_resolve(store: Store) -> None:
    book = ConflictBook(store)
    a, b, c = _conflict(1), _conflict(2), _conflict(3, connector="microsoft")
    for conflict in (a, b, c):
        await book.record(conflict)
    assert [x.id for x in await book.pending()] == [a.id, b.id, c.id]
    assert [x.id for x in await book.pending("aws")] == [a.id, b.id]
    got = await book.get(b.id)
    assert got is not None and got.remote_value == "30000" and got.status == "PENDING"
    assert await book.get("conf-missing") is None

    claimed = await book.claim(a.id)
    assert claimed.id == a.id
    done = await book.resolve(a.id, "USE_HUBSPOT_VALUE", "20000", "rep confirmed", actor="api")
    assert (done.status, done.resolution, done.resolved_value, done.reason) == (
        "RESOLVED",
        "USE_HUBSPOT_VALUE",
        "20000",
        "rep confirmed",
    )
    assert [x.id for x in await book.pending()] == [b.id, c.id]
    stored = await book.get(a.id)
    assert stored is not None and stored.status == "RESOLVED" and stored.resolved_at is not None
    with pytest.raises(AlreadyResolved):
        await book.claim(a.id)
    with pytest.raises(AlreadyResolved):
        await book.resolve(a.id, "USE_HUBSPOT_VALUE", "20000")
    with pytest.raises(UnknownConflict):
        await book.claim("conf-missing")
    actions = [e.action for e in await store.audit_trail(CONFLICTS_AUDIT_KEY)]
    assert actions == ["conflict_recorded"] * 3 + ["conflict_resolved"]


async def test_claim_is_exclusive_across_stores_and_releasable(make_store: MakeStore) -> None:
    first, second = await make_store(), await make_store()
    conflict = await ConflictBook(first).record(_conflict(7))

    async def try_claim(store: Store) -> bool:
        try:
            await ConflictBook(store).claim(conflict.id)
        except AlreadyResolved:
            return False
        return True

    results = await asyncio.gather(*(try_claim(s) for s in (first, second, first, second)))
    assert sorted(results) == [False, False, False, True]
    # a resolution that could not be applied gives its claim back
    await ConflictBook(second).release(conflict.id)
    assert await try_claim(first) is True
    assert [c.id for c in await ConflictBook(second).pending()] == [conflict.id]


class _TrailReads:
    """The store as the book sees it, counting reads of the audit trail."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.trail_reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def audit_trail(self, object_key: str, limit: int = 100) -> list[AuditEntry]:
        self.trail_reads += 1
        return await self.inner.audit_trail(object_key, limit)


async def test_pending_reads_the_index_not_the_audit_trail_and_resolved_leave_it(store: Store) -> None:
    counting = _TrailReads(store)
    book = ConflictBook(cast(Store, counting))
    await book.pending()  # a new store: the one-time import of the audit-log era finds nothing
    counting.trail_reads = 0
    a, b, c = [await book.record(_conflict(n)) for n in (1, 2, 3)]
    await book.resolve(b.id, "USE_HUBSPOT_VALUE", "20000")
    assert [x.id for x in await book.pending()] == [a.id, c.id]
    assert counting.trail_reads == 0
    assert [member for member, _ in await store.index_members(PENDING_INDEX)] == sorted([a.id, c.id])
    resolved = await book.get(b.id)
    assert resolved is not None and resolved.status == "RESOLVED"  # kept, and in the audit trail
    trail = [(e.action, e.detail["id"]) for e in await store.audit_trail(CONFLICTS_AUDIT_KEY)]
    assert trail[-1] == ("conflict_resolved", b.id)


async def test_a_resolution_stopped_before_leaving_the_index_is_not_pending(store: Store) -> None:
    book = ConflictBook(store)
    a, b = await book.record(_conflict(1)), await book.record(_conflict(2))
    await book.resolve(a.id, "USE_HUBSPOT_VALUE", "20000")
    await store.index_add(PENDING_INDEX, a.id, {"seq": 0, "connector": "aws"})  # as if the removal crashed
    assert [x.id for x in await book.pending()] == [b.id]
    assert [member for member, _ in await store.index_members(PENDING_INDEX)] == [b.id]


async def test_conflicts_of_the_audit_log_era_are_imported_once(store: Store, make_store: MakeStore) -> None:
    """A store written by the earlier book: state documents, listed only by the audit log."""
    old = [_conflict(n) for n in (1, 2, 3)]
    for conflict in old:
        await store.put_state(f"conflict:{conflict.id}", conflict.model_dump(mode="json"))
        detail = {"id": conflict.id, "connector": conflict.connector, "object_key": conflict.object_key}
        await store.append_audit(AuditEntry(CONFLICTS_AUDIT_KEY, "cosync", "conflict_recorded", detail))
    done = old[1].model_copy(update={"status": "RESOLVED", "resolution": "USE_HUBSPOT_VALUE"})
    await store.put_state(f"conflict:{done.id}", done.model_dump(mode="json"))
    await store.append_audit(AuditEntry(CONFLICTS_AUDIT_KEY, "cosync", "conflict_resolved", {"id": done.id}))

    replicas = [ConflictBook(store), ConflictBook(await make_store())]
    listed = await asyncio.gather(*(book.pending() for book in replicas))
    assert [[x.id for x in found] for found in listed] == [[old[0].id, old[2].id]] * 2
    newer = await replicas[0].record(_conflict(4))
    with pytest.raises(AlreadyResolved):
        await replicas[1].claim(done.id)  # the resolved one is still known
    await replicas[1].claim(old[0].id)
    await replicas[1].resolve(old[0].id, "USE_HUBSPOT_VALUE", "20000")
    assert [x.id for x in await replicas[0].pending()] == [old[2].id, newer.id]
