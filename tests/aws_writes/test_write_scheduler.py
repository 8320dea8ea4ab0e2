"""The write scheduler (cosync_worker.write_scheduler): turns in priority-then-age order, no wait with an
idle budget, a change landing while its object waits shares its write, and one order across processes.

The budget is a gate the test opens token by token (``Budget``): nothing here depends on how fast the machine
is; a bound on a wait is only there so a broken scheduler fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cosync_worker.remote_budget import AnswerSpacing
from cosync_worker.store.base import StoreUnavailable
from cosync_worker.store.sqlite import SqliteStore
from cosync_worker.write_scheduler import WriteScheduler, turn_uncontested

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
def store(sqlite_store: SqliteStore) -> SqliteStore:
    return sqlite_store  # cosync_worker.testing's


async def _settle(sched: WriteScheduler | None = None, waiting: int = 0) -> None:
    """Until ``sched`` has given its turn and ``waiting`` objects wait (bounded: a broken scheduler fails)."""
    for _ in range(int(BOUND / 0.01)):
        await asyncio.sleep(0.01)
        if sched is None or (sched._holder is not None and sched.waiting == waiting):
            return
    raise AssertionError(f"scheduler never reached {waiting} waiting with a holder")


class Metered:
    """The store as one process sees it, counting the scheduler's index calls; ``down`` makes them fail as
    a store outage does (the budget's own calls are the ``Budget`` gate here)."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self.calls: Counter[str] = Counter()
        self.down = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _call(self, name: str) -> None:
        self.calls[name] += 1
        if self.down:
            raise StoreUnavailable("the store is down (injected)")

    async def index_add(self, index: str, member: str, value: dict[str, Any]) -> None:
        self._call("index_add")
        await self._store.index_add(index, member, value)

    async def index_remove(self, index: str, member: str) -> None:
        self._call("index_remove")
        await self._store.index_remove(index, member)

    async def index_members(self, index: str, limit: int = 10_000) -> list[tuple[str, dict[str, Any]]]:
        self._call("index_members")
        return await self._store.index_members(index, limit)


async def _until(check: Any, what: str) -> None:
    """Until ``check()`` holds (bounded: a broken scheduler fails instead of hanging)."""
    for _ in range(int(BOUND / 0.01)):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def _emptied(store: Any, index: str) -> None:
    async def empty() -> bool:
        return await store.index_members(index) == []

    await _until(empty, f"{index} emptied")


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


async def test_a_turn_asked_while_others_wait_is_contested(store: SqliteStore) -> None:
    """``turn_uncontested``: True only for a turn asked for while nothing else waited or held one (its
    object's own event is then the latest news of it); one that queued behind another is contested, and so
    is code outside any turn."""
    budget = Budget()
    sched = WriteScheduler(store, "acct", budget.draw)
    seen: dict[str, bool] = {}

    async def push(key: str) -> None:
        async with sched.turn(key, 1):
            seen[key] = turn_uncontested()
            await sched.admit(1)

    try:
        assert turn_uncontested() is False
        first = asyncio.create_task(push("deal-a"))
        await _settle(sched, 0)  # deal-a holds the turn, waiting for a token
        second = asyncio.create_task(push("deal-b"))
        await _settle(sched, 1)
        budget.give(2)
        await asyncio.wait_for(asyncio.gather(first, second), BOUND)
        budget.give()
        await asyncio.wait_for(push("deal-c"), BOUND)  # asked with nothing waiting
        assert seen == {"deal-a": True, "deal-b": False, "deal-c": True}
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
        await _emptied(stores[0], a.index)  # nothing left behind
    finally:
        await a.close()
        await b.close()
        for st in stores:
            await st.close()


async def test_a_dead_replicas_waiters_do_not_block_the_others(store: SqliteStore) -> None:
    """A replica killed while its objects waited leaves its record in the index; once the record's heartbeat
    is stale it is skipped and removed."""
    now = [1000.0]
    record = {"owner": "dead", "priority": 0, "since_ms": 1, "at": now[0] - 60, "waiting": [[0, 1]]}
    await store.index_add("acct:waiting", "dead", record)
    budget = Budget()
    budget.give()
    sched = WriteScheduler(store, "acct", budget.draw, clock=lambda: now[0])
    try:

        async def push() -> None:
            async with sched.turn("deal-1", 1):
                await sched.admit(1)

        await asyncio.wait_for(push(), BOUND)  # not held behind the dead replica's waiter
        await _emptied(store, sched.index)
        assert budget.drawn == 1
        assert [member for member, _ in await store.index_members(sched.index)] == []  # the dead one removed
    finally:
        await sched.close()


async def test_store_calls_per_write_are_a_few_and_a_process_behind_does_not_poll(tmp_path: Path) -> None:
    """Issue 22: the global order must cost the store a small fraction of the writes it orders. One process
    writing a backlog alone: about two index calls per write (the look before a grant, the record of its next
    waiter), never one per waiting object. A process behind another's turn looks once and then waits the time
    the writes ahead need (here longer than the test), unless a local change is worth a look."""
    shared = tmp_path / "shared.db"
    stores = [SqliteStore(shared), SqliteStore(shared)]
    for st in stores:
        await st.open()
    a_store, b_store = Metered(stores[0]), Metered(stores[1])
    budget = Budget()
    a = WriteScheduler(a_store, "acct", budget.draw)  # type: ignore[arg-type]
    b = WriteScheduler(b_store, "acct", budget.draw, interval_seconds=600.0, max_recheck_seconds=600.0)  # type: ignore[arg-type]
    try:
        writes = 20

        async def write(sched: WriteScheduler, priority: int) -> None:
            await sched.admit(priority)

        budget.give(writes)
        await asyncio.wait_for(asyncio.gather(*(write(a, 1) for _ in range(writes))), BOUND)
        await _emptied(stores[0], a.index)
        assert budget.drawn == writes
        assert sum(a_store.calls.values()) <= 2 * writes + 2, a_store.calls

        # A holds a turn (it never writes); B's write waits behind it.
        held = asyncio.Event()

        async def hold() -> None:
            async with a.turn("a-creation", 0):
                held.set()
                await asyncio.Event().wait()

        holder = asyncio.create_task(hold())
        await asyncio.wait_for(held.wait(), BOUND)
        b_write = asyncio.create_task(write(b, 1))

        async def looked() -> bool:
            return b_store.calls["index_members"] >= 1

        await _until(looked, "B looked at the index")
        for _ in range(50):  # many event-loop turns and store round trips: none of them is a look
            await a_store.index_members(a.index)
        assert b_store.calls["index_members"] == 1
        # A more urgent waiter of its own is worth a look at once.
        b_create = asyncio.create_task(write(b, 0))

        async def looked_again() -> bool:
            return b_store.calls["index_members"] >= 2

        await _until(looked_again, "B looked again for its more urgent waiter")
        assert not b_write.done() and not b_create.done() and budget.drawn == writes
        holder.cancel()
        b_write.cancel()
        b_create.cancel()
    finally:
        await a.close()
        await b.close()
        for st in stores:
            await st.close()


async def test_a_store_outage_degrades_to_local_order_and_the_record_is_fixed_after(tmp_path: Path) -> None:
    """A store error in the scheduler never stalls a write: while the store is down the scheduler orders by
    priority locally (the budget, drawn from the store in production, still bounds the writes), and once the
    store answers again the record it could not take out is taken out."""
    st = SqliteStore(tmp_path / "state.db")
    await st.open()
    store = Metered(st)
    budget = Budget()
    sched = WriteScheduler(store, "acct", budget.draw)  # type: ignore[arg-type]
    done: list[str] = []

    async def write(name: str, priority: int) -> None:
        await sched.admit(priority)
        done.append(name)

    try:
        first = asyncio.create_task(write("bg-1", 2))
        await _settle(sched, 0)  # its record is in the store
        assert [m for m, _ in await st.index_members(sched.index)] == [sched.owner]
        store.down = True
        tasks = [first]
        for n, (name, prio) in enumerate([("bg-2", 2), ("create", 0)]):
            tasks.append(asyncio.create_task(write(name, prio)))
            await _settle(sched, n + 1)
        budget.give(3)
        await asyncio.wait_for(asyncio.gather(*tasks), BOUND)
        assert done == ["bg-1", "create", "bg-2"]
        assert [m for m, _ in await st.index_members(sched.index)] == [sched.owner]  # could not be removed
        store.down = False
        await _emptied(st, sched.index)
    finally:
        await sched.close()
        await st.close()


async def test_answer_spacing_waits_an_interval_while_a_write_is_in_flight(store: SqliteStore) -> None:
    """The write budget's spacing (one write in flight across processes, the next one an interval after its
    answer): a process waiting while another's write is in flight looks again when that write can free the
    slot at the earliest (one interval after an answer that is at best now), not every quarter interval."""
    interval = 0.05
    answered = asyncio.Event()
    in_flight = AnswerSpacing(store, "acct:in-flight", interval)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:
            answered.set()  # the write in flight is answered while the waiter sleeps
        await asyncio.sleep(seconds)

    waiting = AnswerSpacing(store, "acct:in-flight", interval, sleep=sleep)

    holding = asyncio.Event()

    async def first_write() -> None:
        async with in_flight.slot():
            holding.set()
            await answered.wait()

    async def next_write() -> None:
        async with waiting.slot():
            pass

    first = asyncio.create_task(first_write())
    await asyncio.wait_for(holding.wait(), BOUND)
    await asyncio.wait_for(asyncio.gather(first, next_write()), BOUND)
    assert sleeps[0] == pytest.approx(waiting.interval)
    # then the answer's mark: the rest of the interval, and the slot is taken (no further looks)
    assert len(sleeps) <= 2 and all(0 < s <= waiting.interval for s in sleeps)


async def test_a_turn_held_too_long_passes_on_and_its_write_keeps_its_rank(store: SqliteStore) -> None:
    """A holder that neither writes nor leaves (waiting for its deal's lock) lets the next waiter go after
    ``hold_seconds`` (the test's clock, not the machine's); when it then writes, it goes before the changes
    that arrived while it waited, not behind them (issue 22: the stall at 5x pressure)."""
    budget = Budget()
    now = [0.0]
    sched = WriteScheduler(store, "acct", budget.draw, hold_clock=lambda: now[0], interval_seconds=1.0)
    lock = asyncio.Event()  # the deal lock deal-a's holder waits for
    order: list[str] = []

    async def push(key: str, blocked: asyncio.Event | None = None) -> None:
        async with sched.turn(key, 1):
            if blocked is not None:
                await blocked.wait()
            await sched.admit(1)
            order.append(key)

    try:
        a = asyncio.create_task(push("deal-a", lock))
        await _settle(sched, 0)
        b = asyncio.create_task(push("deal-b"))
        await _settle(sched, 1)
        now[0] += 4.9  # within 5 write intervals: deal-a keeps the turn
        sched._wake.set()
        await _settle(sched, 1)
        assert sched._holder is not None and sched._holder.key == "deal-a" and sched.expired_holds == 0
        now[0] += 0.2
        sched._wake.set()
        await _until(lambda: _holds(sched, "deal-b"), "deal-b's turn")
        assert sched.expired_holds == 1
        c = asyncio.create_task(push("deal-c"))  # arrives after deal-a was first granted
        await _settle(sched, 1)
        lock.set()  # deal-a is ready to write: its write ranks before deal-c's
        await _settle(sched, 2)
        budget.give(3)
        await asyncio.wait_for(asyncio.gather(a, b, c), BOUND)
        assert order == ["deal-b", "deal-a", "deal-c"]
        assert budget.drawn == 3
    finally:
        await sched.close()


async def _holds(sched: WriteScheduler, key: str) -> bool:
    return sched._holder is not None and sched._holder.key == key


async def test_the_record_follows_each_grant_when_waiters_tie(store: SqliteStore) -> None:
    """The events of one webhook batch wait with the same millisecond: a grant among equal ranks changes
    the most urgent waiter all the same, and the record says so (issue 22: the other replicas read a record
    still listing the writes already made, and all three slept while the budget sat idle)."""
    budget = Budget()
    sched = WriteScheduler(store, "acct", budget.draw, clock=lambda: 1_000.0)
    written: list[str] = []

    async def push(key: str) -> None:
        async with sched.turn(key, 1):
            await sched.admit(1)
            written.append(key)

    async def listed() -> list[list[int]]:
        records = await store.index_members(sched.index)
        return list(records[0][1]["waiting"]) if records else []

    try:
        tasks = [asyncio.create_task(push(f"deal-{n}")) for n in range(3)]
        await _settle(sched, 2)
        await _until(functools.partial(_listed_is, listed, 3), "three listed")
        for left in (2, 1):
            budget.give()
            await _until(functools.partial(_written, written, 3 - left), f"{3 - left} written")
            await _until(functools.partial(_listed_is, listed, left), f"{left} listed")
        budget.give()
        await asyncio.wait_for(asyncio.gather(*tasks), BOUND)
        await _emptied(store, sched.index)
    finally:
        await sched.close()
    assert sorted(written) == ["deal-0", "deal-1", "deal-2"]


async def _listed_is(listed: Any, n: int) -> bool:
    return len(await listed()) == n


async def _written(written: list[str], n: int) -> bool:
    return len(written) == n


async def test_the_runner_carries_none_of_the_first_callers_context(store: SqliteStore) -> None:
    # The runner is started by whichever caller comes first and then grants every later caller's turn: with that
    # caller's context it logged every grant under the first event's id and held its leases (shared_task.py).
    first_caller: contextvars.ContextVar[str] = contextvars.ContextVar("first_caller", default="none")
    seen: list[str] = []
    members = store.index_members

    async def index_members(*args: Any, **kwargs: Any) -> Any:  # the runner's look at the other processes
        seen.append(first_caller.get())
        return await members(*args, **kwargs)

    store.index_members = index_members  # type: ignore[method-assign]
    sched = WriteScheduler(store, "pc", Budget().draw)
    try:

        async def caller() -> None:
            first_caller.set("event-1")
            async with asyncio.timeout(BOUND), sched.turn("deal-1", 1):
                pass

        await caller()
        assert seen and set(seen) == {"none"}
    finally:
        await sched.close()
