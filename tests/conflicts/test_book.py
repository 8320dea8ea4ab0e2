"""The conflict book on both stores: record, pending, get, claim exactly once, resolve."""

from __future__ import annotations

import asyncio

import pytest

from cosync_worker.conflicts import (
    CONFLICTS_AUDIT_KEY,
    AlreadyResolved,
    Conflict,
    ConflictBook,
    UnknownConflict,
)
from cosync_worker.store import Store

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
