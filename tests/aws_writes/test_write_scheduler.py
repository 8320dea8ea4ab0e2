"""The write scheduler (cosync_worker.write_scheduler): turns in priority-then-age order, no wait with an
idle budget, a change landing while its object waits shares its write, and one order across processes.

The budget is a gate the test opens token by token (``Budget``): nothing here depends on how fast the machine
is; a bound on a wait is only there so a broken scheduler fails instead of hanging.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cosync_worker.store.sqlite import SqliteStore
from cosync_worker.write_scheduler import WriteScheduler

BOUND = 10.0  # generous upper bound on any single wait


class Budget:
    """A write budget the test refills by hand: each ``give()`` lets exactly one write through."""

    def __init__(self) -> None:
        self._tokens = asyncio.Semaphore(0)
        self.drawn = 0

    def give(self, n: int = 1) -> None:
        for _ in range(n):
            self._tokens.release()

    async def draw(self) -> None:
        await self._tokens.acquire()
        self.drawn += 1


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    st = SqliteStore(tmp_path / "state.db")
    await st.open()
    try:
        yield st
    finally:
        await st.close()


async def _settle(sched: WriteScheduler | None = None, waiting: int = 0) -> None:
    """Until ``sched`` has given its turn and ``waiting`` objects wait (bounded: a broken scheduler fails)."""
    for _ in range(int(BOUND / 0.01)):
        await asyncio.sleep(0.01)
        if sched is None or (sched._holder is not None and sched.waiting == waiting):
            return
    raise AssertionError(f"scheduler never reached {waiting} waiting with a holder")


async def test_idle_budget_writes_at_once(store: SqliteStore) -> None:
    budget = Budget()
    budget.give()
    sched = WriteScheduler(store, "acct", budget.draw)
    try:

        async def push() -> str:
            async with sched.turn("deal-1", 1):
                await sched.admit(1)
                return "written"

        assert await asyncio.wait_for(push(), BOUND) == "written"
        assert budget.drawn == 1
    finally:
        await sched.close()


async def test_most_urgent_dirty_object_goes_first_and_a_waiting_change_is_merged(store: SqliteStore) -> None:
    """Priority first (creation before edits before reconcile), then age; an object that changes again while
    it waits is read once when its turn comes: one write for both changes."""
    budget = Budget()
    sched = WriteScheduler(store, "acct", budget.draw)
    order: list[str] = []
    edits: dict[str, int] = {"deal-a": 1, "deal-b": 1, "deal-c": 1, "deal-new": 1}
    written: dict[str, int] = {}

    async def push(key: str, priority: int) -> None:
        async with sched.turn(key, priority):
            order.append(key)
            written[key] = edits[key]  # the read happens now, with the turn
            await sched.admit(priority)

    try:
        # deal-a holds the turn and waits for a token: the others queue behind it.
        first = asyncio.create_task(push("deal-a", 1))
        await _settle(sched, 0)
        edits["deal-bg"] = 1
        tasks = []
        for n, (key, prio) in enumerate([("deal-bg", 2), ("deal-b", 1), ("deal-c", 1), ("deal-new", 0)]):
            tasks.append(asyncio.create_task(push(key, prio)))
            await _settle(sched, n + 1)
        edits["deal-c"] = 2  # lands while deal-c waits: covered by its one read
        budget.give(5)
        await asyncio.wait_for(asyncio.gather(first, *tasks), BOUND)
        assert order == ["deal-a", "deal-new", "deal-b", "deal-c", "deal-bg"]
        assert written["deal-c"] == 2
        assert budget.drawn == 5  # one write per object
    finally:
        await sched.close()


async def test_a_turn_left_without_writing_passes_on(store: SqliteStore) -> None:
    """A push that finds nothing to write (its deal already synced) must not hold the account's budget."""
    budget = Budget()
    sched = WriteScheduler(store, "acct", budget.draw)
    try:

        async def noop() -> None:
            async with sched.turn("deal-1", 1):
                pass

        async def write() -> None:
            async with sched.turn("deal-2", 1):
                await sched.admit(1)

        budget.give()
        await asyncio.wait_for(asyncio.gather(noop(), write()), BOUND)
        assert budget.drawn == 1
    finally:
        await sched.close()


async def test_writes_without_a_turn_queue_by_priority(store: SqliteStore) -> None:
    """Every write goes through the scheduler (solutions, assignment, submission): a creation's write queued
    behind background writes is served first."""
    budget = Budget()
    sched = WriteScheduler(store, "acct", budget.draw)
    done: list[str] = []

    async def write(name: str, priority: int) -> None:
        await sched.admit(priority)
        done.append(name)

    try:
        tasks = [asyncio.create_task(write("bg-1", 2))]
        await _settle(sched, 0)
        for n, (name, prio) in enumerate([("bg-2", 2), ("bg-3", 2), ("create", 0)]):
            tasks.append(asyncio.create_task(write(name, prio)))
            await _settle(sched, n + 1)
        budget.give(4)
        await asyncio.wait_for(asyncio.gather(*tasks), BOUND)
        assert done == ["bg-1", "create", "bg-2", "bg-3"]
    finally:
        await sched.close()


async def test_the_order_is_global_across_processes(tmp_path: Path) -> None:
    """Two schedulers (two replicas) on one store: a replica whose best waiter is less urgent than another
    replica's does not take the next token, so the creation waiting in replica B goes before replica A's
    older edit."""
    stores = [SqliteStore(tmp_path / "shared.db"), SqliteStore(tmp_path / "shared.db")]
    for st in stores:
        await st.open()
    budget = Budget()  # one budget: the store's shared bucket in production
    a = WriteScheduler(stores[0], "acct", budget.draw)
    b = WriteScheduler(stores[1], "acct", budget.draw)
    order: list[str] = []

    async def push(sched: WriteScheduler, key: str, priority: int) -> None:
        async with sched.turn(key, priority):
            order.append(key)
            await sched.admit(priority)

    try:
        holder = asyncio.create_task(push(a, "a-first", 1))
        await _settle(a, 0)
        edit = asyncio.create_task(push(a, "a-edit", 1))
        await _settle(a, 1)
        create = asyncio.create_task(push(b, "b-create", 0))
        await _settle()
        budget.give(3)
        await asyncio.wait_for(asyncio.gather(holder, edit, create), BOUND)
        assert order == ["a-first", "b-create", "a-edit"]
        assert await stores[0].index_members(a.index) == []  # nothing left behind
    finally:
        await a.close()
        await b.close()
        for st in stores:
            await st.close()


async def test_a_dead_replicas_waiters_do_not_block_the_others(store: SqliteStore) -> None:
    """A replica killed while its objects waited leaves members in the index; once its heartbeat is stale
    they are skipped and removed."""
    now = [1000.0]
    await store.index_add(
        "acct:waiting", "dead:1", {"priority": 0, "since_ms": 1, "owner": "dead", "key": "x"}
    )
    await store.put_state("acct:alive:dead", {"at": now[0] - 60})
    budget = Budget()
    budget.give()
    sched = WriteScheduler(store, "acct", budget.draw, clock=lambda: now[0])
    try:

        async def push() -> None:
            async with sched.turn("deal-1", 1):
                await sched.admit(1)

        await asyncio.wait_for(push(), BOUND)
        assert [m for m, _ in await store.index_members(sched.index)] == []
    finally:
        await sched.close()
