"""A write scheduler for one remote account whose writes share one rate budget (e.g. 1 write/s).

Why not a coalescing wait: a fixed wait before every write delays a lone change for nothing when the budget is
idle, and under a backlog still lets one object be written many times. Here a change only marks its object
*waiting*; whenever the budget can take a write, the most urgent waiting object (best priority, then oldest)
gets the turn, reads its current state and writes it. With an idle budget that is at once; with a backlog a
change that lands while its object waits is covered by the one read made when its turn comes.

The order is global: every waiter is a member of an index in the shared store, and a process takes the next
token only while its best waiter is the best live member of that index (a crashed process's members are
ignored once its heartbeat is stale). The budget itself is drawn by the caller's ``draw`` (the shared buckets).

Usage::

    async with scheduler.turn(object_key, priority):   # waits for the object's turn, read inside
        ...                                            # each write calls ``await scheduler.admit(priority)``

The turn passes to the next waiter as soon as the holder's first write has drawn its token (its reads overlap
the previous write's spacing), or when the holder leaves without writing, or after ``hold_seconds`` (a
holder stuck behind a lock must not stall the account).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from cosync_worker.logs import get_logger
from cosync_worker.store.base import Store

__all__ = ["WriteScheduler"]

log = get_logger("cosync.write_scheduler")

Clock = Callable[[], float]
Draw = Callable[[], Awaitable[None]]

# A process refreshes its heartbeat this often while it has waiters; members of a process silent for
# STALE_SECONDS are skipped and removed (it crashed holding them).
HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 20.0
# How often a process whose best waiter is not the global best looks again.
RECHECK_SECONDS = 0.05


@dataclass(order=True)
class _Waiter:
    priority: int
    since_ms: int
    seq: int
    key: str = field(compare=False)
    member: str = field(compare=False)
    granted: asyncio.Future[None] = field(compare=False)
    spent: bool = field(default=False, compare=False)
    granted_at: float = field(default=0.0, compare=False)


_HOLDING: ContextVar[_Waiter | None] = ContextVar("cosync_write_turn", default=None)


class WriteScheduler:
    """Global, priority-ordered turns at one write budget; ``name`` names the account (its store keys)."""

    def __init__(
        self,
        store: Store,
        name: str,
        draw: Draw,
        *,
        clock: Clock = time.time,
        hold_seconds: float = 5.0,
        recheck_seconds: float = RECHECK_SECONDS,
    ) -> None:
        self.store = store
        self.name = name
        self.owner = uuid.uuid4().hex[:12]
        self._draw = draw
        self._clock = clock
        self._hold_seconds = hold_seconds
        self._recheck = recheck_seconds
        self._waiters: list[_Waiter] = []
        self._holder: _Waiter | None = None
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._beat_at = 0.0
        self.grants = 0  # turns given by this process (tests and metrics)

    @property
    def index(self) -> str:
        return f"{self.name}:waiting"

    def _alive_key(self, owner: str) -> str:
        return f"{self.name}:alive:{owner}"

    # -- public -------------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def turn(self, key: str, priority: int) -> AsyncIterator[None]:
        """Wait until ``key`` is the most urgent waiting object and the budget can take its write; the body
        reads and writes it. Nested turns (a flow calling another under its turn) reuse the outer one."""
        if _HOLDING.get() is not None:
            yield
            return
        waiter = await self._wait(key, priority)
        token = _HOLDING.set(waiter)
        try:
            yield
        finally:
            _HOLDING.reset(token)
            self._release(waiter)

    async def admit(self, priority: int) -> None:
        """Before each write attempt: the first write of a held turn draws at once (then the turn passes);
        any other write waits for its own turn at ``priority``, as an object of its own."""
        held = _HOLDING.get()
        if held is not None and not held.spent and self._holder is held:
            try:
                await self._draw()
            finally:
                self._release(held)
            return
        waiter = await self._wait(f"write:{next(self._seq)}", priority)
        try:
            await self._draw()
        finally:
            self._release(waiter)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=1.0)
            self._task = None
        for waiter in list(self._waiters):
            with contextlib.suppress(Exception):
                await self.store.index_remove(self.index, waiter.member)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    # -- waiting and granting -----------------------------------------------------------------------
    async def _wait(self, key: str, priority: int) -> _Waiter:
        now_ms = int(self._clock() * 1000)
        seq = next(self._seq)
        member = f"{self.owner}:{seq}"
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(int(priority), now_ms, seq, key, member, fut)
        await self._beat(force=not self._waiters)
        await self.store.index_add(
            self.index,
            member,
            {"priority": int(priority), "since_ms": now_ms, "owner": self.owner, "key": key},
        )
        self._waiters.append(waiter)
        self._ensure_task()
        self._wake.set()
        try:
            await fut
        except asyncio.CancelledError:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            if fut.done() and not fut.cancelled():
                self._release(waiter)
            else:
                self._forget(waiter)
            raise
        return waiter

    def _release(self, waiter: _Waiter) -> None:
        if waiter.spent:
            return
        waiter.spent = True
        if self._holder is waiter:
            self._holder = None
        self._forget(waiter)
        self._wake.set()

    def _forget(self, waiter: _Waiter) -> None:
        """Take the member out of the shared index in the background: the next grant must not wait for it."""
        task = asyncio.ensure_future(self._remove(waiter.member))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _remove(self, member: str) -> None:
        try:
            await self.store.index_remove(self.index, member)
        except Exception as exc:  # a stale member is skipped by its age once our heartbeat stops
            log.warning("write_scheduler_remove_failed", budget=self.name, error=type(exc).__name__)

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            if not self._waiters and self._holder is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            holder = self._holder
            if holder is not None:
                self._wake.clear()
                left = self._hold_seconds - (asyncio.get_running_loop().time() - holder.granted_at)
                if left > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), left)
                elif self._holder is holder:
                    # Held too long without writing (waiting for a lock, a slow read): let the next one go;
                    # the holder's write then waits for a turn of its own.
                    self._release(holder)
                continue
            try:
                await self._beat()
                best = min(self._waiters)
                if not await self._globally_first(best):
                    await asyncio.sleep(self._recheck)
                    continue
                if min(self._waiters) is not best:  # a more urgent one arrived while we looked
                    continue
            except Exception as exc:  # the store is down: grant locally rather than stall every write
                log.warning("write_scheduler_store_failed", budget=self.name, error=type(exc).__name__)
                best = min(self._waiters)
            self._waiters.remove(best)
            if best.granted.done():  # cancelled while we looked
                continue
            self._holder = best
            best.granted_at = asyncio.get_running_loop().time()
            self.grants += 1
            best.granted.set_result(None)

    async def _beat(self, *, force: bool = False) -> None:
        now = self._clock()
        if force or now - self._beat_at >= HEARTBEAT_SECONDS:
            self._beat_at = now
            await self.store.put_state(self._alive_key(self.owner), {"at": now})

    async def _globally_first(self, best: _Waiter) -> bool:
        """Whether no live member of another process is more urgent than ``best``."""
        members = await self.store.index_members(self.index)
        alive: dict[str, bool] = {self.owner: True}
        now = self._clock()
        for member, value in members:
            owner = str(value.get("owner") or "")
            if owner == self.owner:
                continue
            if (int(value.get("priority", 0)), int(value.get("since_ms", 0))) >= (
                best.priority,
                best.since_ms,
            ):
                continue
            if owner not in alive:
                beat: dict[str, Any] = await self.store.get_state(self._alive_key(owner)) or {}
                alive[owner] = now - float(beat.get("at") or 0) < STALE_SECONDS
            if alive[owner]:
                return False
            await self.store.index_remove(self.index, member)  # its process is gone
        return True
