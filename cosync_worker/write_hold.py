"""Changes held while their object's write waits for a busy budget, written by one drain per process.

Why: an event that waits for its write turn (``WriteScheduler``) holds a worker slot and, since the events of
one object run in order, hides the object's later changes behind it. So under a backlog the scheduler cannot
see that an object is still being edited, and it spends writes of a quota-bound service (Partner Central: 1
write/s) on objects the next edit dirties again. Here such a change only *marks* its object held in the store
(its first and newest change) and its event is settled; the object's later events then arrive at once and
move its mark. One drain per process writes the held objects, one at a time: it takes the scheduler's turn
first and chooses the object when the turn comes (so the drains of several replicas pick one object per write
the budget allows, each with the listing as it is at that moment):

* without pressure (fewer than ``pressure`` objects held) the most urgent held object is written as soon as
  its turn comes, as before;
* under pressure an object is written only once it has been quiet for ``settle_intervals`` write intervals
  (or held for ``max_hold_intervals``, so an object edited without end is still written): with that many
  objects waiting, a write that the object's next edit would repeat is worth more to a quiet object.

Nothing is lost: a mark is in the store before its event is settled, and cleared only by compare-and-set once
a write covered its newest change. A process that stops leaves its marks; every process looks at the listing
every ``poll_seconds`` (and at start) and drains what it finds, claiming an object with a lease so replicas do
not write the same one at once. A write that fails is handed back to the caller's ``hand_off`` (the connector
queues it as an event, with the queue's retries and dead letters); if that fails too the mark stays and the
object is tried again later.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from . import metrics
from .logs import get_logger
from .shared_task import start_shared
from .store.base import ConflictError, Store
from .trailing import start_trailing

__all__ = ["Held", "HeldWrites", "choose"]

log = get_logger("cosync.write_hold")

Clock = Callable[[], float]
# ``write(key, changed_ms)``: write the object's current state; every change up to ``changed_ms`` must be in it.
Write = Callable[[str, int], Awaitable[None]]
# ``turn(key, priority)``: the budget's write turn (``WriteScheduler.turn``); ``write`` inside reuses it.
Turn = Callable[[str, int], AbstractAsyncContextManager[None]]

SETTLE_INTERVALS = 3.0
MAX_HOLD_INTERVALS = 60.0
PRESSURE = 10
# Every process looks for marks left by others (a replica that stopped, one that crashed) this often: at
# most POLL_SECONDS, or POLL_INTERVALS write intervals of a faster (time-scaled) budget, but at least
# MIN_POLL_SECONDS (an idle process pays one listing per poll).
POLL_SECONDS = 5.0
POLL_INTERVALS = 10.0
MIN_POLL_SECONDS = 1.0
CLAIM_SECONDS = 60.0  # how long a crashed drain's claim keeps others from the object
CLAIM_TRIES = 5  # objects a drain asks to claim in one turn before it gives the turn back
RETRY_SECONDS = 5.0  # an object whose write and hand-off both failed waits this long (doubling, to the max)
MAX_RETRY_SECONDS = 120.0
MARK_ATTEMPTS = 8
CLOSE_SECONDS = 10.0  # how long a stop waits for the drain's write under way


@dataclass(frozen=True, slots=True)
class Held:
    """One held object as its mark says: when it was first and last marked (the marking process's clock, ms),
    the newest change's own time (``changed_ms``, the remote's clock: what a write must cover, and when the
    object was last edited) and its priority (lower first)."""

    key: str
    first_ms: int
    marked_ms: int
    changed_ms: int
    priority: int

    @classmethod
    def of(cls, key: str, value: Mapping[str, Any]) -> Held:
        return cls(
            key,
            int(value.get("first_ms") or 0),
            int(value.get("marked_ms") or 0),
            int(value.get("changed_ms") or 0),
            int(value.get("priority") or 0),
        )

    def value(self) -> dict[str, Any]:
        return {
            "held": True,
            "first_ms": self.first_ms,
            "marked_ms": self.marked_ms,
            "changed_ms": self.changed_ms,
            "priority": self.priority,
        }


def choose(
    held: Mapping[str, Held],
    now_ms: int,
    *,
    settle_ms: int,
    max_hold_ms: int,
    pressure: int,
    blocked: Mapping[str, int] | None = None,
) -> tuple[Held | None, int | None]:
    """Pure: the object to write now (best priority, then held longest) and, when none may go yet, the time
    (ms) the first one may; ``(None, None)`` when nothing is held. ``blocked``: objects not to try before the
    time given (claimed elsewhere, or failed)."""
    blocked = blocked or {}
    under_pressure = len(held) >= pressure
    ready: list[Held] = []
    wake: int | None = None
    for h in held.values():
        at = blocked.get(h.key, 0)
        if under_pressure:
            # Quiet since the newest change was made (its own time: a worker that fell behind does not make a
            # deal look busy), never later than it was marked here (a remote clock ahead of ours).
            quiet = min(h.changed_ms, h.marked_ms)
            at = max(at, min(quiet + settle_ms, h.first_ms + max_hold_ms))
        if at <= now_ms:
            ready.append(h)
        else:
            wake = at if wake is None else min(wake, at)
    if ready:
        return min(ready, key=lambda h: (h.priority, h.first_ms, h.key)), None
    return None, wake


class HeldWrites:
    """The held objects of one write budget (``name``, the scheduler's) and this process's drain of them.

    ``write`` writes one object; ``turn`` (the scheduler's) is taken before the object is chosen, and
    ``write`` runs inside it, so the drains of every process pick one object per write the budget allows, in
    the scheduler's global order; ``hand_off`` takes a failed one elsewhere (the connector queues it). ``interval_seconds`` is the budget's
    time between writes: the settle and the hold are counted in it, so a time-scaled budget scales them."""

    def __init__(
        self,
        store: Store,
        name: str,
        write: Write,
        hand_off: Write,
        *,
        interval_seconds: float,
        clock: Clock = time.time,
        settle_intervals: float = SETTLE_INTERVALS,
        max_hold_intervals: float = MAX_HOLD_INTERVALS,
        pressure: int = PRESSURE,
        poll_seconds: float | None = None,
        turn: Turn | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.owner = uuid.uuid4().hex[:12]
        self._write = write
        self._hand_off = hand_off
        self._turn = turn
        self._clock = clock
        self._interval = interval_seconds
        self._settle_ms = int(settle_intervals * interval_seconds * 1000)
        self._max_hold_ms = int(max_hold_intervals * interval_seconds * 1000)
        self._pressure = pressure
        if poll_seconds is None:
            poll_seconds = max(MIN_POLL_SECONDS, min(POLL_SECONDS, POLL_INTERVALS * interval_seconds))
        self._poll = poll_seconds
        self._held: dict[str, Held] = {}  # what this process knows is held (its marks, the last listing)
        self._blocked: dict[str, int] = {}  # key -> not before (ms): claimed by another process, or failed
        self._failures: dict[str, int] = {}
        self._listed_at = float("-inf")  # monotonic: the last read of the listing
        self._wake = asyncio.Event()
        self._drain: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._stopping = False
        self.written = 0  # objects written by this process's drain (tests and metrics)
        self.handed_off = 0

    @property
    def index(self) -> str:
        return f"{self.name}:held"

    def _record(self, key: str) -> str:
        return f"{self.name}:held:{key}"

    @property
    def pending(self) -> int:
        """Objects this process knows are held (its own marks and what its last look at the listing found)."""
        return len(self._held)

    async def holding(self) -> bool:
        """Anything held, by any process: what this one knows, else the listing (read at most once per write
        interval; what it finds is drained here too). A store error answers False."""
        if self._held:
            return True
        if time.monotonic() - self._listed_at >= self._interval:
            try:
                await self._list()
            except Exception:
                return False
            if self._held:
                self._ensure_drain()
        return bool(self._held)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- marking ------------------------------------------------------------------------------------
    async def mark(self, key: str, changed_ms: int, priority: int = 1) -> None:
        """Hold ``key`` for the drain: durable in the store when this returns (the caller may then settle the
        event that changed it). Raises if the store does not take it, so the event is retried instead."""
        now = self._now_ms()
        record = self._record(key)
        for _ in range(MARK_ATTEMPTS):
            read = await self.store.read_versioned(record)
            old = read.value or {}
            if old.get("held"):
                was = Held.of(key, old)
                held = Held(
                    key, was.first_ms, now, max(was.changed_ms, changed_ms), min(was.priority, priority)
                )
            else:
                held = Held(key, now, now, changed_ms, priority)
            try:
                await self.store.write_versioned(record, held.value(), read.version)
            except ConflictError:
                continue  # the drain cleared it, or another process marked it: read again
            break
        else:
            raise ConflictError(record, -1)
        await self.store.index_add(self.index, key, held.value())
        self._held[key] = held
        metrics.HELD_WRITES.set(len(self._held))
        self._wake.set()
        self._ensure_drain()

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Look for marks (left by a stopped or crashed process) now and every ``poll_seconds``."""
        self._stopping = False
        if self._poller is None or self._poller.done():
            self._poller = start_shared(self._poll_loop(), name=f"held:{self.name}:poll")

    async def close(self) -> None:
        """Stop looking and draining; what is still held stays in the store for the next process."""
        self._hurry()
        if self._drain is not None and not self._drain.done():
            # The write under way finishes (its stamp included); the drain stops before the next one.
            await asyncio.wait({self._drain}, timeout=CLOSE_SECONDS)
        for task in (self._poller, self._drain):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, 5.0)
        self._poller = self._drain = None

    def _hurry(self) -> None:
        # A graceful stop: the marks are durable, so the drain stops at once rather than writing them all.
        self._stopping = True
        self._wake.set()

    def _ensure_drain(self) -> None:
        if self._stopping or (self._drain is not None and not self._drain.done()):
            return
        # Trailing work: the worker is not idle while it runs, and a graceful stop hurries it.
        self._drain = start_trailing(self._drain_loop(), what="held_writes", hurry=self._hurry)

    async def _poll_loop(self) -> None:
        while not self._stopping:
            if self._drain is None or self._drain.done():
                try:
                    await self._list()
                except Exception as exc:
                    log.warning("held_writes_list_failed", budget=self.name, error=type(exc).__name__)
                if self._held:
                    self._ensure_drain()
            await asyncio.sleep(self._poll)

    async def _list(self) -> None:
        members = await self.store.index_members(self.index)
        self._listed_at = time.monotonic()
        self._held = {member: Held.of(member, value) for member, value in members}
        metrics.HELD_WRITES.set(len(self._held))

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(0.0, seconds))

    # -- draining -----------------------------------------------------------------------------------
    async def _drain_loop(self) -> None:
        while not self._stopping:
            wait = await self.step()
            if wait is None:
                if self._wake.is_set():
                    continue  # a mark landed while the listing was read: look again
                return  # nothing held: a later mark starts the drain again
            if wait > 0:
                await self._sleep(wait)

    async def step(self) -> float | None:
        """One turn of the drain: write the object that may go now, if any. Returns None when nothing is
        held, else how long (seconds) to wait before the next step (0: go on at once)."""
        self._wake.clear()  # a mark from now on wakes the wait this step asks for
        since = time.monotonic() - self._listed_at
        if since >= self._interval:
            # Once per write interval at most: others' marks and clears (a write cannot come sooner anyway).
            await self._list()
        if not self._held:
            return None
        now = self._now_ms()
        held, wake = self._choose(now)
        if held is None:
            return max(0.0, (wake - now) / 1000) if wake is not None else self._interval
        if self._turn is None:
            await self._write_best()
            return 0.0
        # The object is chosen again once the budget's turn is this drain's: with several processes draining,
        # each picks at the moment a write can go, with the listing as it is then, so they do not commit
        # several objects at once to writes that the next moments' edits may make worth less.
        async with self._turn(f"{self.name}:drain:{self.owner}", held.priority):
            await self._list()
            await self._write_best()
        return 0.0

    async def _write_best(self) -> None:
        """Write the best object that may go now and that no other process has claimed: one claimed elsewhere
        is passed over for ``CLAIM_SECONDS`` (written there, or its claimer died and the claim runs out), so a
        dead replica's claim never makes every drain spend its turns asking for the same object again."""
        for _ in range(CLAIM_TRIES):
            held, _ = self._choose(self._now_ms())
            if held is None or await self._claim_and_write(held):
                return

    def _choose(self, now: int) -> tuple[Held | None, int | None]:
        self._blocked = {k: t for k, t in self._blocked.items() if t > now and k in self._held}
        return choose(
            self._held,
            now,
            settle_ms=self._settle_ms,
            max_hold_ms=self._max_hold_ms,
            pressure=self._pressure,
            blocked=self._blocked,
        )

    async def _claim_and_write(self, held: Held) -> bool:
        """False when another process holds the object's claim (then it is passed over for a while)."""
        claim = f"{self.name}:held-claim:{held.key}"
        if await self.store.acquire_lease(claim, self.owner, CLAIM_SECONDS) is None:
            self._blocked[held.key] = self._now_ms() + int(CLAIM_SECONDS * 1000)
            return False
        try:
            await self._write_one(held)
        finally:
            with contextlib.suppress(Exception):
                await self.store.release_lease(claim, self.owner)
        return True

    async def _write_one(self, held: Held) -> None:
        started_ms = self._now_ms()
        try:
            await self._write(held.key, held.changed_ms)
            self.written += 1
            metrics.HELD_WRITES_DONE.labels(outcome="written").inc()
        except Exception as exc:
            log.warning("held_write_failed", budget=self.name, key=held.key, error=type(exc).__name__)
            try:
                await self._hand_off(held.key, held.changed_ms)
                self.handed_off += 1
                metrics.HELD_WRITES_DONE.labels(outcome="queued").inc()
            except Exception as exc2:
                failures = self._failures.get(held.key, 0) + 1
                self._failures[held.key] = failures
                pause = min(MAX_RETRY_SECONDS, RETRY_SECONDS * 2 ** (failures - 1))
                self._blocked[held.key] = self._now_ms() + int(pause * 1000)
                log.warning(
                    "held_write_kept",
                    budget=self.name,
                    key=held.key,
                    error=type(exc2).__name__,
                    retry_seconds=pause,
                )
                return
        self._failures.pop(held.key, None)
        await self._clear(held, started_ms)

    async def _clear(self, held: Held, written_ms: int) -> None:
        """Take the mark out if no change newer than the one just covered landed meanwhile (then it stays, and
        the next write of it costs the caller a cheap "covered" check or a real write)."""
        record = self._record(held.key)
        read = await self.store.read_versioned(record)
        value = read.value or {}
        if value.get("held"):
            now = Held.of(held.key, value)
            if now.changed_ms > held.changed_ms:
                # Edited again since the write read it: it stays held, but its hold starts from this write
                # (kept, an object edited without end would pass its longest hold and go first every time).
                restarted = Held(held.key, written_ms, now.marked_ms, now.changed_ms, now.priority)
                with contextlib.suppress(ConflictError):
                    await self.store.write_versioned(record, restarted.value(), read.version)
                    await self.store.index_add(self.index, held.key, restarted.value())
                    now = restarted
                self._held[held.key] = now
                return
            try:
                await self.store.write_versioned(record, {"held": False}, read.version)
            except ConflictError:
                return  # marked again just now: it stays held (the listing shows the new mark)
        await self.store.index_remove(self.index, held.key)
        # A mark that landed between the clear and the removal is put back in the listing.
        again = (await self.store.read_versioned(record)).value or {}
        if again.get("held"):
            await self.store.index_add(self.index, held.key, again)
            self._held[held.key] = Held.of(held.key, again)
        else:
            self._held.pop(held.key, None)
        metrics.HELD_WRITES.set(len(self._held))
