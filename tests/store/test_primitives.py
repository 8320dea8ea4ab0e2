"""The primitives connectors build on, on both backends: versioned per-object state (compare-and-set and a
retried update), a lock that holds across replicas (an expiring lease with an owner), and cursors.

Replicas are second store connections, or real processes (``primitives_child.py``). Expiry and waiting are
driven by the test's :class:`FakeClock`, never by sleeping."""

from __future__ import annotations

import asyncio
import contextvars
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from cosync_worker.store import (
    ConflictError,
    FencedStore,
    LeaseLost,
    LockTimeout,
    Store,
    Versioned,
    fence,
    hold_lock,
    update_versioned,
)

from .conftest import Backend, FakeClock, MakeStore

_CHILD = Path(__file__).with_name("primitives_child.py")

# -- versioned state ----------------------------------------------------------------------------------


async def test_versioned_write_refuses_a_stale_version(store: Store, make_store: MakeStore) -> None:
    assert await store.read_versioned("deal:1") == Versioned(None, 0)
    assert await store.write_versioned("deal:1", {"stage": "a"}, 0) == 1
    other = await make_store()  # another replica
    seen = await other.read_versioned("deal:1")
    assert seen == Versioned({"stage": "a"}, 1)
    assert await other.write_versioned("deal:1", {"stage": "b"}, seen.version) == 2
    with pytest.raises(ConflictError, match=r"'deal:1' was written by someone else since version 1"):
        await store.write_versioned("deal:1", {"stage": "stale"}, 1)
    with pytest.raises(ConflictError):
        await store.write_versioned("deal:1", {"stage": "new?"}, 0)  # it exists already
    assert await store.read_versioned("deal:1") == Versioned({"stage": "b"}, 2)
    assert await store.get_state("deal:1") is None  # versioned records do not touch the legacy state


async def test_bad_versioned_and_lease_arguments_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="expected_version must be an int >= 0"):
        await store.write_versioned("k", {}, -1)
    with pytest.raises(ValueError, match="state key must not be empty"):
        await store.write_versioned("", {}, 0)
    with pytest.raises(ValueError, match="ttl_seconds must be positive"):
        await store.acquire_lease("L", "me", 0)
    with pytest.raises(ValueError, match="owner must not be empty"):
        await store.renew_lease("L", "", 5)


class _RacingStore:
    """A replica whose first read is followed, before it writes, by another replica's write."""

    def __init__(self, inner: Store, rival: Store) -> None:
        self.inner, self.rival, self.raced = inner, rival, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def read_versioned(self, key: str) -> Versioned:
        seen = await self.inner.read_versioned(key)
        if not self.raced:
            self.raced = True
            await update_versioned(self.rival, key, _bump)
        return seen


def _bump(value: dict[str, Any] | None) -> dict[str, Any]:
    return {"n": (value or {"n": 0})["n"] + 1}


async def test_update_reapplies_its_function_after_losing_a_race(store: Store, make_store: MakeStore) -> None:
    calls: list[dict[str, Any] | None] = []

    def bump(value: dict[str, Any] | None) -> dict[str, Any]:
        calls.append(value)
        return _bump(value)

    racing: Any = _RacingStore(store, await make_store())
    written = await update_versioned(racing, "counter", bump)
    assert calls == [None, {"n": 1}]  # the first result lost to the rival's write; re-applied on its value
    assert written == Versioned({"n": 2}, 2)
    assert await store.read_versioned("counter") == written

    loser: Any = _RacingStore(store, await make_store())
    with pytest.raises(ConflictError):
        await update_versioned(loser, "counter", _bump, retries=0)
    assert await store.read_versioned("counter") == Versioned({"n": 3}, 3)  # only the rival's write landed


# -- leases -------------------------------------------------------------------------------------------


async def test_a_lease_excludes_others_until_released_or_expired(
    store: Store, make_store: MakeStore, clock: FakeClock
) -> None:
    other = await make_store()
    held = await store.acquire_lease("deal:7", "a", 10)
    assert held is not None and held.owner == "a" and held.expires_at == clock.now + 10
    assert await other.acquire_lease("deal:7", "b", 10) is None
    assert await other.release_lease("deal:7", "b") is False  # only the owner may release
    assert await other.renew_lease("deal:7", "b", 10) is None
    assert await other.acquire_lease("deal:7", "b", 10) is None  # still a's

    clock.advance(8)
    renewed = await store.renew_lease("deal:7", "a", 10)
    assert renewed is not None and renewed.expires_at == clock.now + 10
    clock.advance(9)
    assert await other.acquire_lease("deal:7", "b", 10) is None  # renewal kept it
    clock.advance(1)  # a's lease has now expired: a killed holder frees the lock by itself
    taken = await other.acquire_lease("deal:7", "b", 10)
    assert taken is not None and taken.owner == "b"
    assert await store.renew_lease("deal:7", "a", 10) is None  # a learns it lost the lock
    assert await store.release_lease("deal:7", "a") is False
    assert await store.acquire_lease("deal:7", "a", 10) is None

    assert await other.acquire_lease("deal:7", "b", 30) is not None  # the owner re-acquiring extends
    clock.advance(20)
    assert await store.acquire_lease("deal:7", "a", 10) is None
    assert await other.release_lease("deal:7", "b") is True
    assert await store.acquire_lease("deal:7", "a", 10) is not None


async def test_hold_lock_waits_with_a_bound(store: Store, make_store: MakeStore, clock: FakeClock) -> None:
    other = await make_store()
    assert await store.acquire_lease("deal:9", "a", 30)
    with pytest.raises(LockTimeout, match=r"lock 'deal:9' is held by another worker; gave up after 5 s"):
        async with hold_lock(other, "deal:9", 10, wait_seconds=5, clock=clock, sleep=clock.sleep):
            pytest.fail("entered a lock someone else holds")
    assert sum(clock.slept) == pytest.approx(5)

    # a's lease runs out while b waits: b gets the lock then, well inside its bound
    clock.slept.clear()
    entered = False
    async with hold_lock(other, "deal:9", 10, wait_seconds=60, clock=clock, sleep=clock.sleep) as lease:
        entered = True
        assert 25 - 0.5 <= sum(clock.slept) < 60
        assert await store.acquire_lease("deal:9", "a", 10) is None
    assert entered and lease.name == "deal:9"
    assert await store.acquire_lease("deal:9", "a", 10) is not None  # released on exit


async def test_hold_lock_releases_when_the_body_fails(store: Store, make_store: MakeStore) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with hold_lock(store, "job", 30, wait_seconds=0):
            raise RuntimeError("boom")
    assert await (await make_store()).acquire_lease("job", "next", 30) is not None


async def _never(_: float) -> None:
    """A heartbeat that never beats: the holder's renewals stop, as under a store it cannot reach."""
    await asyncio.Event().wait()


async def test_a_held_lease_is_renewed_past_its_ttl(
    store: Store, make_store: MakeStore, clock: FakeClock
) -> None:
    # Each heartbeat moves the clock a third of the TTL on: the body outlives three TTLs, and nobody gets in.
    other = await make_store()
    async with hold_lock(
        store,
        "deal:3",
        10,
        wait_seconds=0,
        clock=clock,
        heartbeat_sleep=clock.sleep,
        max_hold_seconds=math.inf,
    ) as held:
        start = clock()
        async with asyncio.timeout(60):  # a generous bound: the heartbeat, not the machine, moves time
            while clock() < start + 30:
                await asyncio.sleep(0.01)
        assert await other.acquire_lease("deal:3", "b", 10) is None
        await fence()  # still ours: no LeaseLost
        assert not held.lost
    assert await other.acquire_lease("deal:3", "b", 10) is not None  # released on exit


async def test_a_holder_that_lost_its_lease_stops_before_writing(
    store: Store, make_store: MakeStore, clock: FakeClock
) -> None:
    other = await make_store()
    fenced = FencedStore(store)
    async with hold_lock(store, "deal:4", 10, wait_seconds=0, clock=clock, heartbeat_sleep=_never) as held:
        await fenced.write_versioned("deal-state:4", {"by": "a"}, 0)  # ours: written
        clock.advance(11)  # a's renewals never landed: its lease expires under it

        async def second_holder() -> None:
            async with hold_lock(other, "deal:4", 10, wait_seconds=0, clock=clock, heartbeat_sleep=_never):
                await FencedStore(other).write_versioned("deal-state:4", {"by": "b"}, 1)

        # Another replica: its own context, holding none of this task's leases
        await asyncio.create_task(second_holder(), context=contextvars.Context())
        with pytest.raises(LeaseLost, match=r"lock 'deal:4' was lost while held"):
            await fenced.put_state("deal-other:4", {"by": "a"})
        assert held.lost
    assert (await store.read_versioned("deal-state:4")).value == {"by": "b"}
    assert await store.get_state("deal-other:4") is None


async def test_a_task_started_under_a_lease_is_not_fenced_by_it_once_released(
    store: Store, make_store: MakeStore, clock: FakeClock
) -> None:
    # The fault suite's loop: the Partner Central write scheduler's runner was started by the first write, made
    # under an invitation's lease, and copied that lease with its context. Once the invitation was done and the
    # lease released, every later write of every event was refused as "lock ... was lost while held".
    other = await make_store()
    go = asyncio.Event()

    async def shared_runner() -> None:
        await go.wait()
        await FencedStore(store).put_state("runner-record", {"by": "runner"})

    async with hold_lock(store, "invitation:7", 10, wait_seconds=0, clock=clock, heartbeat_sleep=_never):
        runner = asyncio.ensure_future(shared_runner())
    clock.advance(11)  # past the released lease's TTL: renewing it now would be refused
    assert await other.acquire_lease("invitation:7", "b", 10) is not None  # and another replica took the lock
    go.set()
    await runner
    assert await store.get_state("runner-record") == {"by": "runner"}


async def test_a_lease_taken_over_is_seen_lost_at_the_next_write(
    store: Store, make_store: MakeStore, clock: FakeClock
) -> None:
    other = await make_store()
    async with hold_lock(store, "deal:6", 10, wait_seconds=0, clock=clock, heartbeat_sleep=_never) as held:
        clock.advance(11)
        assert await other.acquire_lease("deal:6", "b", 10) is not None
        clock.advance(-5)  # even where a's own clock still trusts it, the store says it is b's
        with pytest.raises(LeaseLost):
            await fence()
        assert held.lost
    assert await store.acquire_lease("deal:6", "a", 10) is None  # a's exit did not free b's lease


# -- cursors: the existing bookmark, shared by replicas -------------------------------------------------


async def test_cursor_is_shared_by_replicas(store: Store, make_store: MakeStore) -> None:
    assert await store.get_cursor("loop") is None
    await store.set_cursor("loop", "2026-01-01T00:00:00+00:00")
    assert await (await make_store()).get_cursor("loop") == "2026-01-01T00:00:00+00:00"


# -- indexes: a listing whose members are written independently -----------------------------------------


async def test_index_members_are_listed_in_order_and_removed_by_any_replica(
    store: Store, make_store: MakeStore
) -> None:
    assert await store.index_members("pending") == []
    other = await make_store()  # another replica
    await asyncio.gather(
        *(
            (store if n % 2 else other).index_add("pending", f"c{n:02d}", {"n": n, "at": 1.5})
            for n in range(30)
        )
    )
    await store.index_add("elsewhere", "c00", {"n": -1})
    listed = await other.index_members("pending")
    assert listed == [(f"c{n:02d}", {"n": n, "at": 1.5}) for n in range(30)]  # none lost to a race
    assert await store.index_members("pending", limit=3) == listed[:3]
    await store.index_add("pending", "c05", {"n": 500})  # replaces, never duplicates
    await other.index_remove("pending", "c00")
    await other.index_remove("pending", "never-added")
    after = dict(await store.index_members("pending"))
    assert len(after) == 29 and "c00" not in after and after["c05"] == {"n": 500}
    assert await store.index_members("elsewhere") == [("c00", {"n": -1})]
    assert await store.index_members("pending", limit=0) == []


async def test_bad_index_arguments_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="index name must not be empty"):
        await store.index_add("", "m", {})
    with pytest.raises(ValueError, match="index 'pending': member must not be empty"):
        await store.index_remove("pending", "")


# -- real processes -----------------------------------------------------------------------------------


async def _run_children(
    backend: Backend, tmp_path: Path, specs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Start one child per spec, release them together once all are connected, and return their results."""
    outs = [tmp_path / f"child-{i}.json" for i in range(len(specs))]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(_CHILD),
            json.dumps({"kind": backend.kind, "store": backend.spec, **spec}),
            str(out),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for spec, out in zip(specs, outs, strict=True)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() == b"ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        codes = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs)), 120)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert codes == [0] * len(procs)
    return [json.loads(out.read_text()) for out in outs]


async def test_two_processes_updating_one_object_lose_no_update(
    backend: Backend, store: Store, tmp_path: Path
) -> None:
    rounds = 15
    results = await _run_children(backend, tmp_path, [{"mode": "update", "rounds": rounds}] * 2)
    final = await store.read_versioned("counter")
    assert final.version == 2 * rounds
    assert final.value is not None and final.value["n"] == 2 * rounds
    assert sorted(final.value["by"]) == sorted([r["pid"] for r in results] * rounds)


async def test_two_processes_under_one_lock_lose_no_update(
    backend: Backend, store: Store, tmp_path: Path
) -> None:
    rounds = 10
    await _run_children(backend, tmp_path, [{"mode": "lock", "rounds": rounds}] * 2)
    assert await store.get_state("plain") == {"n": 2 * rounds}
    assert await store.acquire_lease("counter-lock", "parent", 5) is not None  # both released it


async def test_a_replica_takes_over_a_lease_only_once_it_expired(
    backend: Backend, store: Store, tmp_path: Path
) -> None:
    # The children read the real clock; the parent's lease lasts 10 minutes from about now. The replica whose
    # clock runs an hour ahead sees it expired and takes it; the other sees it held (by the parent, or by the
    # first replica if that one was quicker), whichever order they run in.
    assert await store.acquire_lease("shared", "parent", 600) is not None
    on_time, ahead = await _run_children(
        backend,
        tmp_path,
        [{"mode": "try_lease", "clock_offset": 0}, {"mode": "try_lease", "clock_offset": 3600}],
    )
    assert not on_time["acquired"]
    assert ahead["acquired"]


class Beats:
    """A heartbeat that moves the driven clock only up to ``until``, so the test says how far time goes."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock, self.until = clock, 0.0

    async def sleep(self, seconds: float) -> None:
        while self.clock() + seconds > self.until:
            await asyncio.sleep(0.005)
        await self.clock.sleep(seconds)


async def test_a_stuck_holder_frees_the_lock_after_its_longest_hold(
    store: Store, make_store: MakeStore, clock: FakeClock
) -> None:
    # A live holder stuck in its body (the SQS fault suite saw one keep a deal 8 minutes): renewals stop after
    # max_hold, the lease runs out one TTL later, another replica gets in, and the stuck one writes nothing.
    other = await make_store()
    fenced = FencedStore(store)
    beats = Beats(clock)
    start = clock()
    beats.until = start + 25
    async with hold_lock(
        store, "deal:7", 10, wait_seconds=0, clock=clock, heartbeat_sleep=beats.sleep, max_hold_seconds=30
    ) as held:
        async with asyncio.timeout(60):  # a generous bound: the heartbeat, not the machine, moves time
            while clock() + 10 / 3 <= beats.until:
                await asyncio.sleep(0.01)
        assert await other.acquire_lease("deal:7", "b", 10) is None  # within max_hold: still renewed
        assert not held.lost
        beats.until = start + 45
        async with asyncio.timeout(60):
            while not held.lost:
                await asyncio.sleep(0.01)
        assert await other.acquire_lease("deal:7", "b", 10) is not None
        with pytest.raises(LeaseLost):
            await fenced.put_state("deal-state:7", {"by": "a"})
    assert await store.get_state("deal-state:7") is None
