"""A write scheduler for one remote account whose writes share one rate budget (e.g. 1 write/s).

Why not a coalescing wait: a fixed wait before every write delays a lone change for nothing when the budget is
idle, and under a backlog still lets one object be written many times. Here a change only marks its object
*waiting*; whenever the budget can take a write, the most urgent waiting object (best priority, then oldest)
gets the turn, reads its current state and writes it. With an idle budget that is at once; with a backlog a
change that lands while its object waits is covered by the one read made when its turn comes.

The order is global, and cheap to keep: each process with waiters keeps *one* record in the shared store's index
(its most urgent waiters, its heartbeat), rewritten only when its most urgent waiter changes (a grant, a more
urgent arrival) or every ``HEARTBEAT_SECONDS``, and removed when it has none. A process grants a turn only
while no live record of another process is more urgent; reading that is one query of a few records (one per
replica), never an index of every waiting object. A process behind others looks again after about the time
the writes ahead of it need (their count times the write interval), or at once when a local change makes it
worth looking (a more urgent waiter, a turn given back). Records of a process silent for ``STALE_SECONDS``
are ignored and removed (it crashed). A store error never stalls a write: the scheduler then orders by
priority locally (for ``STORE_RETRY_SECONDS``, doubling while it keeps failing) and the budget, which the
caller's ``draw`` takes from the store, stays exact. The budget itself is drawn by the caller's ``draw``.
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

from cosync_worker.logs import get_logger
from cosync_worker.shared_task import start_shared
from cosync_worker.store.base import Store

__all__ = ["WriteScheduler", "turn_uncontested"]

log = get_logger("cosync.write_scheduler")

Clock = Callable[[], float]
Draw = Callable[[], Awaitable[None]]

# A process rewrites its record at least this often while it has waiters; records of a process silent for
# STALE_SECONDS are skipped and removed (it crashed holding them).
HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 20.0
# The shortest wait between two looks at the index by a process behind another one, and the longest (a
# process far behind still sees a more urgent waiter arriving elsewhere within it).
RECHECK_SECONDS = 0.05
MAX_RECHECK_SECONDS = 2.0
MAX_RECHECK_INTERVALS = 2.0  # ... and at most this many write intervals
# After a store error the order is local for this long (doubling up to the maximum while errors go on).
STORE_RETRY_SECONDS = 1.0
MAX_STORE_RETRY_SECONDS = 30.0
# A holder that neither writes nor leaves within this many write intervals lets the next waiter go.
# HOLD_INTERVALS writes' worth, at least MIN_HOLD_SECONDS (a read takes that long on a busy machine).
HOLD_INTERVALS = 5.0
MIN_HOLD_SECONDS = 0.5
# A record lists this many of its process's most urgent waiters: enough to tell how far behind a reader is.
LISTED = 32


@dataclass(order=True)
class _Waiter:
    priority: int
    since_ms: int
    seq: int
    key: str = field(compare=False)
    granted: asyncio.Future[None] = field(compare=False)
    spent: bool = field(default=False, compare=False)
    granted_at: float = field(default=0.0, compare=False)
    expired: bool = field(default=False, compare=False)  # passed on after hold_seconds, before its write
    # Nothing of this process was waiting or holding a turn when it asked: the budget was idle, so the turn
    # came at once (or after one interval) and no change of another object was served before it.
    uncontested: bool = field(default=False, compare=False)

    @property
    def rank(self) -> tuple[int, int]:
        return (self.priority, self.since_ms)


_HOLDING: ContextVar[_Waiter | None] = ContextVar("cosync_write_turn", default=None)


def turn_uncontested() -> bool:
    """Inside a turn: True when nothing of this process waited for or held a turn when it was asked for, so
    the object did not wait behind others (a caller may then trust what its own event says instead of reading
    the object again; behind a backlog a read at turn time is what merges the changes made meanwhile)."""
    held = _HOLDING.get()
    return held is not None and held.uncontested


class WriteScheduler:
    """Global, priority-ordered turns at one write budget; ``name`` names the account (its store keys).

    ``interval_seconds`` is the budget's time between two writes (1 s at Partner Central's quota): a process
    behind ``n`` writes of other processes looks again after about ``n`` intervals.
    """

    def __init__(
        self,
        store: Store,
        name: str,
        draw: Draw,
        *,
        clock: Clock = time.time,
        hold_clock: Clock = time.monotonic,
        hold_seconds: float | None = None,
        interval_seconds: float = 1.0,
        recheck_seconds: float = RECHECK_SECONDS,
        max_recheck_seconds: float | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.owner = uuid.uuid4().hex[:12]
        self._draw = draw
        self._clock = clock
        self._hold_clock = hold_clock  # when turns were granted (tests drive it)
        # How long a holder may keep the budget idle (reading, waiting for a lock) before the next waiter
        # goes: HOLD_INTERVALS writes' worth, so about the same in the budget's time at any rate.
        if hold_seconds is None:
            hold_seconds = max(MIN_HOLD_SECONDS, HOLD_INTERVALS * interval_seconds)
        self._hold_seconds = hold_seconds
        self._interval = interval_seconds
        self._recheck = recheck_seconds
        if max_recheck_seconds is None:
            # In the budget's time, so a faster budget (a time-scaled bench) does not oversleep more writes.
            max_recheck_seconds = max(
                recheck_seconds, min(MAX_RECHECK_SECONDS, MAX_RECHECK_INTERVALS * interval_seconds)
            )
        self._max_recheck = max_recheck_seconds
        self._waiters: list[_Waiter] = []
        self._holder: _Waiter | None = None
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # What the store's record of this process says: the waiters listed (None: no record), and when.
        self._published: list[tuple[int, int]] | None = None
        self._published_first: _Waiter | None = None  # the waiter first in it (ranks tie: a batch's events)
        self._published_at = 0.0
        self._record_stale = False  # a write of the record failed: it says something else
        self._local_until = 0.0  # monotonic: order locally until then (the store failed)
        self._store_retry = STORE_RETRY_SECONDS
        self._others_looked = float("-inf")  # monotonic: contested()'s last look at the index
        self._others_busy = False
        self.grants = 0  # turns given by this process (tests and metrics)
        self.expired_holds = 0  # turns passed on because their holder neither wrote nor left in time
        self.store_calls = 0  # index reads and record writes (tests and metrics)

    @property
    def index(self) -> str:
        return f"{self.name}:waiting"

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
        since_ms = None
        if held is not None and held.expired:
            # Its turn passed on while it read or waited for a lock: its first write keeps the turn's rank (it
            # goes next once ready), instead of queueing behind every change that arrived meanwhile.
            held.expired = False
            priority, since_ms = held.priority, held.since_ms
        waiter = await self._wait(f"write:{next(self._seq)}", priority, since_ms)
        try:
            await self._draw()
        finally:
            self._release(waiter)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=1.0)
            self._task = None
        if self._published is not None or self._record_stale:
            with contextlib.suppress(Exception):
                await self.store.index_remove(self.index, self.owner)
            self._published = None

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @property
    def busy(self) -> bool:
        """A turn of this process is held or waited for: a change asking now would not be written at once."""
        return self._best() is not None

    async def contested(self) -> bool:
        """A change asking now would wait: a turn of this process is held or waited for, or, as the store's
        index said at most one write interval ago, one of another live process. One index read per interval
        at most; a store error answers False (the change then just waits for its turn)."""
        if self.busy:
            return True
        now = time.monotonic()
        if now - self._others_looked >= self._interval:
            self._others_looked = now
            try:
                self.store_calls += 1
                records = await self.store.index_members(self.index)
            except Exception:
                self._others_busy = False
            else:
                wall = self._clock()
                self._others_busy = any(
                    str(v.get("owner") or m) != self.owner and wall - float(v.get("at") or 0) < STALE_SECONDS
                    for m, v in records
                )
        return self._others_busy

    # -- waiting and granting -----------------------------------------------------------------------
    def _best(self) -> _Waiter | None:
        live = [w for w in (self._holder, *self._waiters) if w is not None and not w.spent]
        return min(live) if live else None

    async def _wait(self, key: str, priority: int, since_ms: int | None = None) -> _Waiter:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        since = int(self._clock() * 1000) if since_ms is None else since_ms
        waiter = _Waiter(int(priority), since, next(self._seq), key, fut)
        best = self._best()
        waiter.uncontested = best is None
        self._waiters.append(waiter)
        self._ensure_task()
        if best is None or waiter < best:  # a less urgent arrival changes nothing anyone must look at
            self._wake.set()
        try:
            await fut
        except asyncio.CancelledError:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            if fut.done() and not fut.cancelled():
                self._release(waiter)
            else:
                self._wake.set()
            raise
        return waiter

    def _release(self, waiter: _Waiter) -> None:
        if waiter.spent:
            return
        waiter.spent = True
        if self._holder is waiter:
            self._holder = None
        self._wake.set()

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._task = start_shared(self._run())

    async def _sleep(self, seconds: float | None) -> None:
        """Until ``seconds`` pass or a local change (an arrival, a release) wakes the loop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            await self._sync_record()
            holder = self._holder
            if holder is not None:
                left = self._hold_seconds - (self._hold_clock() - holder.granted_at)
                if left <= 0:
                    # Held too long without writing (waiting for a lock, a slow read): let the next one go;
                    # the holder's write then waits for a turn of its own.
                    self.expired_holds += 1
                    holder.expired = True
                    log.warning(
                        "write_turn_held_too_long",
                        budget=self.name,
                        key=holder.key,
                        priority=holder.priority,
                        held_seconds=round(self._hold_clock() - holder.granted_at, 2),
                    )
                    self._release(holder)
                    continue
                await self._sleep(min(left, HEARTBEAT_SECONDS))
                continue
            if not self._waiters:
                # Nothing waits; a record the store did not take out yet is taken out once it answers again.
                await self._sleep((self._local_left() or STORE_RETRY_SECONDS) if self._record_stale else None)
                continue
            best = min(self._waiters)
            behind = await self._behind(best)
            if behind > 0:
                pause = min(self._max_recheck, max(self._recheck, (behind - 0.5) * self._interval))
                log.debug(
                    "write_turn_behind", budget=self.name, key=best.key, behind=behind, pause=round(pause, 3)
                )
                await self._sleep(pause)
                continue
            if min(self._waiters) is not best:  # a more urgent one arrived while we looked
                continue
            self._waiters.remove(best)
            if best.granted.done():  # cancelled while we looked
                continue
            self._holder = best
            best.granted_at = self._hold_clock()
            self.grants += 1
            log.debug("write_turn_granted", budget=self.name, key=best.key, priority=best.priority)
            best.granted.set_result(None)

    # -- the store: this process's record and the others' -------------------------------------------
    def _local_left(self) -> float:
        return max(0.0, self._local_until - time.monotonic())

    def _store_failed(self, what: str, exc: Exception) -> None:
        log.warning(
            "write_scheduler_store_failed",
            budget=self.name,
            during=what,
            error=type(exc).__name__,
            local_order_seconds=self._store_retry,
        )
        self._local_until = time.monotonic() + self._store_retry
        self._store_retry = min(MAX_STORE_RETRY_SECONDS, 2 * self._store_retry)

    def _store_answered(self) -> None:
        self._store_retry = STORE_RETRY_SECONDS

    async def _sync_record(self) -> None:
        """Make the store's record of this process say what waits here now, if that changed (or its heartbeat
        is due). Never raises: while the store fails the record is left as it is and fixed later."""
        if self._local_left():
            return
        best = self._best()
        now = self._clock()
        try:
            if best is None:
                if self._published is not None or self._record_stale:
                    self.store_calls += 1
                    await self.store.index_remove(self.index, self.owner)
                    self._published, self._record_stale = None, False
                return
            ranks = sorted(w.rank for w in (self._holder, *self._waiters) if w is not None and not w.spent)
            listed = ranks[:LISTED]
            if (
                self._published is not None
                and not self._record_stale
                and self._published_first is best
                and now - self._published_at < HEARTBEAT_SECONDS
            ):
                # The same most urgent waiter (the same one, not an equal rank: the events of one webhook
                # batch wait with the same millisecond): the rest of the list only paces others' looks.
                return
            self.store_calls += 1
            await self.store.index_add(
                self.index,
                self.owner,
                {
                    "owner": self.owner,
                    "priority": best.priority,
                    "since_ms": best.since_ms,
                    "at": now,
                    "waiting": [list(r) for r in listed],
                    "count": len(ranks),
                },
            )
            self._published, self._published_at, self._record_stale = listed, now, False
            self._published_first = best
        except Exception as exc:
            self._record_stale = True
            self._store_failed("record", exc)
            return
        self._store_answered()

    async def _behind(self, best: _Waiter) -> int:
        """How many waiters of other live processes are more urgent than ``best`` (0: it goes now). While
        the store fails, 0: the order is local and the caller's budget still holds writes to the quota."""
        if self._local_left():
            return 0
        try:
            self.store_calls += 1
            records = await self.store.index_members(self.index)
            now = self._clock()
            ahead = 0
            for member, value in records:
                owner = str(value.get("owner") or member)
                if owner == self.owner:
                    continue
                if now - float(value.get("at") or 0) >= STALE_SECONDS:
                    self.store_calls += 1
                    await self.store.index_remove(self.index, member)  # its process is gone
                    continue
                listed = value.get("waiting") or [[value.get("priority", 0), value.get("since_ms", 0)]]
                ahead += sum(1 for p, since in listed if (int(p), int(since)) < best.rank)
        except Exception as exc:
            self._store_failed("order", exc)
            return 0
        self._store_answered()
        return ahead
