"""Held writes (cosync_worker.write_hold): which held object goes when (pure ``choose``), and the drain's steps
against a real SQLite store with the clock driven by the test: merging, the pressure hold, a mark landing
during its object's write, a failed write handed off, a hand-off that fails too, and two processes sharing
the listing. Nothing here depends on the machine's speed: every step is called by the test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from cosync_worker import trailing
from cosync_worker.store.sqlite import SqliteStore
from cosync_worker.write_hold import Held, HeldWrites, choose


def held(key: str, first: int, marked: int, priority: int = 1, changed: int = 0) -> Held:
    return Held(key, first, marked, changed or marked, priority)


def test_without_pressure_the_most_urgent_goes_at_once() -> None:
    entries = {
        k: h for k, h in (("a", held("a", 10, 90)), ("b", held("b", 5, 95)), ("c", held("c", 1, 99, 2)))
    }
    chosen, wake = choose(entries, 100, settle_ms=50, max_hold_ms=1000, pressure=10)
    assert chosen is not None and chosen.key == "b" and wake is None  # priority first, then held longest


def test_under_pressure_only_a_quiet_object_goes() -> None:
    entries = {f"d{i}": held(f"d{i}", 0, 100 + i) for i in range(10)}
    chosen, wake = choose(entries, 120, settle_ms=50, max_hold_ms=1000, pressure=10)
    assert chosen is None and wake == 150  # d0 is quiet for 50 ms then
    chosen, _ = choose(entries, 151, settle_ms=50, max_hold_ms=1000, pressure=10)
    assert chosen is not None and chosen.key == "d0"
    # One object fewer is no pressure: the same marks go at once.
    entries.pop("d9")
    chosen, _ = choose(entries, 120, settle_ms=50, max_hold_ms=1000, pressure=10)
    assert chosen is not None and chosen.key == "d0"


def test_quiet_is_counted_from_the_change_itself_not_from_when_it_was_handled() -> None:
    # Marked late (a worker that fell behind) but edited long ago: quiet, it goes.
    late = {f"d{i}": Held(f"d{i}", 100, 100, 10 + i, 1) for i in range(10)}
    chosen, _ = choose(late, 101, settle_ms=50, max_hold_ms=1000, pressure=10)
    assert chosen is not None and chosen.key == "d0"
    # A remote clock ahead of ours holds no longer than from when the change was marked.
    ahead = {f"d{i}": Held(f"d{i}", 100, 100, 10_000, 1) for i in range(10)}
    assert choose(ahead, 120, settle_ms=50, max_hold_ms=1000, pressure=10) == (None, 150)


def test_an_object_edited_without_end_is_written_after_the_longest_hold() -> None:
    entries = {f"d{i}": held(f"d{i}", i, 5000) for i in range(12)}  # every one just marked again
    chosen, wake = choose(entries, 5001, settle_ms=50, max_hold_ms=1000, pressure=10)
    assert chosen is not None and chosen.key == "d0"  # held since 0: past the longest hold
    assert wake is None


def test_blocked_objects_wait_for_their_time() -> None:
    entries = {"a": held("a", 0, 0), "b": held("b", 1, 1)}
    chosen, _ = choose(entries, 10, settle_ms=5, max_hold_ms=100, pressure=10, blocked={"a": 50})
    assert chosen is not None and chosen.key == "b"
    chosen, wake = choose(
        {"a": entries["a"]}, 10, settle_ms=5, max_hold_ms=100, pressure=10, blocked={"a": 50}
    )
    assert chosen is None and wake == 50
    assert choose({}, 10, settle_ms=5, max_hold_ms=100, pressure=10) == (None, None)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Writes:
    """What the drain asked to write, and what it handed off; ``fail`` makes the write (or the hand-off) raise."""

    def __init__(self) -> None:
        self.written: list[tuple[str, int]] = []
        self.handed: list[tuple[str, int]] = []
        self.fail_write = False
        self.fail_hand_off = False
        self.during_write: HeldWrites | None = None  # marks its object again while it is written

    async def write(self, key: str, changed_ms: int) -> None:
        if self.during_write is not None:
            await self.during_write.mark(key, changed_ms + 5)
            self.during_write = None
        if self.fail_write:
            raise RuntimeError("remote refused")
        self.written.append((key, changed_ms))

    async def hand_off(self, key: str, changed_ms: int) -> None:
        if self.fail_hand_off:
            raise RuntimeError("queue down")
        self.handed.append((key, changed_ms))


@pytest.fixture
def store(sqlite_store: SqliteStore) -> SqliteStore:
    return sqlite_store  # cosync_worker.testing's


def drain_of(store: SqliteStore, writes: Writes, clock: Clock, **kw: float) -> HeldWrites:
    # settle 3 intervals of 1 s, a hold of 60; the drain's own task is not used: the test calls ``step``.
    hold = HeldWrites(store, "pc", writes.write, writes.hand_off, interval_seconds=1.0, clock=clock, **kw)  # type: ignore[arg-type]
    hold._stopping = True  # marks do not start the drain task: every step is the test's
    return hold


async def listed(store: SqliteStore, hold: HeldWrites) -> dict[str, int]:
    return {k: int(v["changed_ms"]) for k, v in await store.index_members(hold.index)}


async def test_marks_merge_and_one_write_covers_the_newest_change(store: SqliteStore) -> None:
    clock, writes = Clock(), Writes()
    hold = drain_of(store, writes, clock)
    await hold.mark("deal-1", 100)
    await hold.mark("deal-1", 300)
    await hold.mark("deal-1", 200)  # an older change arriving late does not move the newest back
    assert await listed(store, hold) == {"deal-1": 300}
    assert await hold.step() == 0.0
    assert writes.written == [("deal-1", 300)]
    assert await listed(store, hold) == {} and hold.pending == 0
    assert await hold.step() is None  # nothing held: the drain ends


async def test_under_pressure_the_drain_waits_until_an_object_is_quiet(store: SqliteStore) -> None:
    clock, writes = Clock(), Writes()
    hold = drain_of(store, writes, clock)
    for i in range(10):
        await hold.mark(f"deal-{i}", int(clock.now * 1000))  # edited now
        clock.now += 0.1
    wait = await hold.step()
    assert writes.written == [] and wait is not None and wait == pytest.approx(3.0 - 1.0, abs=0.01)
    await hold.mark("deal-0", int(clock.now * 1000))  # the rep edits deal-0 again: deal-1 is now the quietest
    clock.now += 2.15  # deal-1 marked at +0.1 s is quiet for 3 s; deal-2 (at +0.2 s) not yet
    await hold.step()
    assert writes.written == [("deal-1", 1_000_100)]
    # Nine held: no pressure any more, the rest go one per step, the longest held first.
    for _ in range(9):
        await hold.step()
    assert [k for k, _ in writes.written] == ["deal-1", *(f"deal-{i}" for i in (0, 2, 3, 4, 5, 6, 7, 8, 9))]
    assert dict(writes.written)["deal-0"] == 1_001_000


async def test_a_mark_landing_during_its_write_keeps_the_object_held(store: SqliteStore) -> None:
    clock, writes = Clock(), Writes()
    hold = drain_of(store, writes, clock)
    await hold.mark("deal-1", 100)
    clock.now += 100.0  # held past its longest hold (60 s) when its write starts
    writes.during_write = hold
    await hold.step()
    # Its hold starts again from that write: an object edited during every write would otherwise stay past
    # its longest hold and go first at every step, ahead of quieter ones.
    [(_, value)] = await store.index_members(hold.index)
    assert value["first_ms"] == 1_100_000
    assert writes.written == [("deal-1", 100)]
    assert await listed(store, hold) == {"deal-1": 105}  # the change made meanwhile is not taken for written
    await hold.step()
    assert writes.written == [("deal-1", 100), ("deal-1", 105)]
    assert await listed(store, hold) == {}


async def test_a_failed_write_is_handed_off_and_a_failed_hand_off_keeps_the_mark(store: SqliteStore) -> None:
    clock, writes = Clock(), Writes()
    hold = drain_of(store, writes, clock)
    await hold.mark("deal-1", 100)
    writes.fail_write = True
    await hold.step()
    assert writes.handed == [("deal-1", 100)] and await listed(store, hold) == {}

    await hold.mark("deal-2", 200)
    writes.fail_hand_off = True
    wait = await hold.step()
    assert writes.handed == [("deal-1", 100)] and await listed(store, hold) == {"deal-2": 200}
    assert wait == 0.0
    wait = await hold.step()  # not tried again before its pause
    assert writes.written == [] and wait == pytest.approx(5.0, abs=0.01)
    writes.fail_write = writes.fail_hand_off = False
    clock.now += 5.0
    await hold.step()
    assert writes.written == [("deal-2", 200)] and await listed(store, hold) == {}


async def test_another_process_finds_the_marks_and_does_not_write_what_is_claimed(store: SqliteStore) -> None:
    clock, writes, theirs = Clock(), Writes(), Writes()
    mine = drain_of(store, writes, clock)
    other = drain_of(store, theirs, clock)  # a replica: its own owner, the same store
    await mine.mark("deal-1", 100)
    await mine.mark("deal-2", 200)
    # deal-1 is being written by this process (its claim held): the other takes deal-2.
    assert await store.acquire_lease("pc:held-claim:deal-1", mine.owner, 60) is not None
    await other.step()  # one step: deal-1's claim is refused, deal-2 is written in the same turn
    assert theirs.written == [("deal-2", 200)]
    assert await listed(store, mine) == {"deal-1": 100}
    # A claimed object is passed over for the claim's time (its claimer writes it, or died and the claim
    # runs out), not asked for again at every step.
    assert await other.step() == pytest.approx(60.0, abs=0.01)
    assert theirs.written == [("deal-2", 200)]
    await store.release_lease("pc:held-claim:deal-1", mine.owner)
    await mine.step()
    assert writes.written == [("deal-1", 100)] and await listed(store, mine) == {}


async def test_the_drain_runs_as_trailing_work_and_stops_when_nothing_is_held(store: SqliteStore) -> None:
    writes = Writes()
    hold = HeldWrites(store, "pc", writes.write, writes.hand_off, interval_seconds=0.001, poll_seconds=60)
    await hold.mark("deal-1", 100)
    assert trailing.pending() == 1  # the worker is not idle while it drains
    assert hold._drain is not None
    await hold._drain
    assert writes.written == [("deal-1", 100)] and trailing.pending() == 0
    await hold.close()


async def test_the_object_is_chosen_once_the_turn_is_the_drains(store: SqliteStore) -> None:
    """With a turn (the scheduler's), what the drain writes is decided when the turn comes, not before: an
    object edited again while the drain waited for it is no longer the quiet one."""
    clock, writes = Clock(), Writes()
    gate, asking = asyncio.Lock(), asyncio.Event()

    @contextlib.asynccontextmanager
    async def turn(key: str, priority: int) -> AsyncIterator[None]:
        asking.set()
        async with gate:
            yield

    hold = HeldWrites(
        store, "pc", writes.write, writes.hand_off, interval_seconds=1.0, clock=clock, turn=turn
    )
    hold._stopping = True
    for i in range(10):
        await hold.mark(f"deal-{i}", int(clock.now * 1000))
        clock.now += 0.1
    clock.now += 3.0  # deal-0 .. deal-2 quiet for 3 s by now (the settle), deal-0 the longest
    await gate.acquire()  # another write holds the budget
    step = asyncio.ensure_future(hold.step())
    await asyncio.wait_for(asking.wait(), 5)  # it chose deal-0 and waits for the turn
    assert writes.written == []
    await hold.mark("deal-0", int(clock.now * 1000))  # edited again while the drain waits for its turn
    gate.release()
    await asyncio.wait_for(step, 5)
    assert [k for k, _ in writes.written] == ["deal-1"]
