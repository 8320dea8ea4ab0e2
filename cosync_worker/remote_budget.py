"""Request budgets for remote APIs: token buckets that never admit more than an API's limit in any window.

Why the bucket is not simply ``rate = limit / window, capacity = limit``: APIs count requests in a *rolling*
window (HubSpot: https://developers.hubspot.com/docs/api/usage-details). A token bucket admits at most
``capacity + rate * W`` requests in any interval of length ``W``: it may start that interval full and keeps
refilling during it. With ``capacity = limit`` and ``rate = limit / window``, a full bucket spent at once and
then refilled lets through ``2 * limit`` in one window, which the API answers with 429s. So we choose

    capacity = max(1, limit // 10)                       (a tenth of the window as burst)
    rate     = (limit - capacity) / (window + skew)       (skew = 0.1 s)

so ``capacity + rate * window < limit`` for *every* window position. The ``skew`` term is the arrival
reordering we tolerate: a request drawn earlier may reach the API up to 100 ms after one drawn later (event
loop load, connection set-up), which squeezes more requests into one server-side window than were drawn in
it. Sustained throughput is ~89 % of a 10-second limit: the price of never seeing a 429 in steady state.

With a ``Store`` the bucket lives in it, so every process using the same store draws from one budget; without
one an in-process bucket does the same maths.

:class:`AnswerSpacing` is for a quota too small for any slack (Partner Central's 1 write/s): a token bucket
spaces the *draws*, but the API counts *arrivals*, and a request drawn earlier can arrive later than one drawn
after it (an event loop busy for 50 ms on either side is enough to put two writes 1 ms apart at the server).
The only instant known to be after a request's arrival is its answer, so there the next request may leave
one interval after the previous one's answer, and only one is in flight, across every process.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from cosync_worker.logs import get_logger
from cosync_worker.store.base import Store
from cosync_worker.store.budget import draw

__all__ = ["AnswerSpacing", "BucketShape", "LocalBuckets", "SharedBucket", "bucket_shape", "request_budget"]

log = get_logger("cosync.remote_budget")

_ARRIVAL_SKEW_SECONDS = 0.1
# Processes told the same wait spread out a little instead of contending for the same refill.
_JITTER_FRACTION = 0.1
# How long a request in flight holds the spacing: past it a holder that crashed (or a request the API never
# answers) no longer blocks the account; a request that slow has long arrived.
_IN_FLIGHT_HOLD_SECONDS = 10.0
# Replicas on different hosts compare their wall clocks through the store (NTP keeps them this close).
_CLOCK_SKEW_SECONDS = 0.002


@dataclass(frozen=True, slots=True)
class BucketShape:
    rate_per_second: float
    capacity: float
    # Tokens a process may take from the store in one draw, and how long they stay spendable (see below).
    block: int = 1
    lease_seconds: float = 0.0


def bucket_shape(limit: int, window_seconds: float) -> BucketShape:
    """Token-bucket parameters that never admit more than ``limit`` requests in any ``window_seconds``.

    Where the burst allows it (``capacity`` of 2 or more), a process leases up to ``block`` tokens in one
    store draw and spends them within ``lease_seconds`` (a tenth of the window), so a shared budget costs a
    store call per block, not per request. The bound stays exact: a request sent in a window spent a token
    leased at most ``lease_seconds`` before it, so the window's requests are bounded by the leases of
    ``window + lease_seconds``, which the refill rate is chosen for.
    """
    if limit < 1:
        raise ValueError(f"rate limit must be at least 1 request per window, got {limit}")
    if window_seconds <= 0:
        raise ValueError(f"rate window must be positive, got {window_seconds}")
    capacity = max(1, limit // 10)
    lease = window_seconds / 10 if capacity >= 2 else 0.0
    refill = max(limit - capacity, 1) / (window_seconds + _ARRIVAL_SKEW_SECONDS + lease)
    block = max(1, min(capacity, int(refill * lease))) if lease else 1
    return BucketShape(refill, float(capacity), block, lease)


class LocalBuckets:
    """In-process token buckets with the same maths as ``Store.take_tokens`` (used when no store is given)."""

    def __init__(self) -> None:
        self._levels: dict[str, tuple[float | None, float]] = {}

    async def take_tokens(
        self, budget: str, rate_per_second: float, capacity: float, tokens: float = 1.0
    ) -> float:
        now = time.monotonic()
        level, updated = self._levels.get(budget, (None, now))
        new_level, wait = draw(level, updated, now, rate_per_second, capacity, tokens)
        self._levels[budget] = (new_level, now)
        return wait


class SharedBucket:
    """One bucket ``key`` of shape ``shape``: in ``store`` when given (shared by every process), else local."""

    def __init__(
        self,
        key: str,
        shape: BucketShape,
        store: Store | None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not key:
            raise ValueError("rate budget name must not be empty")
        self.key = key
        self.shape = shape
        self._store = store
        self._local = LocalBuckets()
        self._sleep = sleep
        self._clock = clock
        # The current lease of store tokens: how many are left and until when they may be spent.
        self._left = 0
        self._until = 0.0
        self._leased = 0
        self._next_block = 1
        self.store_draws = 0  # leases taken from the store (tests and metrics)
        # One waiter per bucket per process polls the budget; the rest queue here in arrival order. That
        # keeps a crowd of throttled calls from hammering the store, and serves them first come, first served.
        self._turn = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until one request may be sent (``StoreUnavailable`` if the shared store is down)."""
        async with self._turn:
            if self._store is not None:
                await self._lease(self._store)
                return
            rate, capacity = self.shape.rate_per_second, self.shape.capacity
            while (wait := await self._local.take_tokens(self.key, rate, capacity)) > 0:
                await self._sleep(wait)

    async def _lease(self, store: Store) -> None:
        if self._left > 0 and self._clock() < self._until:
            self._left -= 1
            return
        # Grow the block while leases are used up, shrink it to what was used when one expired unspent: an
        # idle process does not hold tokens its peers could have sent.
        spent = self._leased - self._left
        self._next_block = min(self.shape.block, 2 * self._next_block) if self._left == 0 else max(1, spent)
        block = self._next_block if self.shape.lease_seconds else 1
        rate, capacity = self.shape.rate_per_second, self.shape.capacity
        while True:
            started = self._clock()  # before the draw that succeeds: the lease never outlives its draw time
            self.store_draws += 1
            wait = await store.take_tokens(self.key, rate, capacity, float(block))
            if wait <= 0:
                break
            await self._sleep(wait * (1 + random.random() * _JITTER_FRACTION))
        self._leased, self._left = block, block - 1
        self._until = started + self.shape.lease_seconds


def request_budget(key: str, store: Store | None, limit: int, window_seconds: float) -> SharedBucket:
    """The budget of an API allowing ``limit`` requests per rolling ``window_seconds``."""
    return SharedBucket(key, bucket_shape(limit, window_seconds), store)


class AnswerSpacing:
    """At most one request in flight across every process sharing ``store``, each sent at least
    ``interval_seconds`` after the previous one was answered: no two arrive closer than the interval.

    The in-flight request holds the store lease ``key``; its answer renews that lease for one interval (so the
    next holder cannot take it earlier) and records when it frees up, so waiters sleep until then instead of
    polling; while a request is in flight they look again one interval later (the earliest it can free up).
    """

    def __init__(
        self,
        store: Store,
        key: str,
        interval_seconds: float,
        *,
        hold_seconds: float = _IN_FLIGHT_HOLD_SECONDS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not key:
            raise ValueError("spacing name must not be empty")
        if not interval_seconds > 0:
            raise ValueError(f"spacing {key!r}: interval must be positive, got {interval_seconds}")
        self.key = key
        self.interval = interval_seconds + _CLOCK_SKEW_SECONDS
        self._store = store
        self._hold = max(hold_seconds, self.interval)
        self._clock = clock
        self._sleep = sleep
        # One owner per request: a lease taken again by its owner is extended, not waited for. The tasks of
        # this process take turns here first, so they do not poll the store side by side.
        self._local = asyncio.Lock()

    @property
    def _mark(self) -> str:
        return f"{self.key}:free-at"

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold the slot for one request: ``async with spacing.slot(): await send()``."""
        async with self._local:
            owner = uuid.uuid4().hex
            await self._take(owner)
            try:
                yield
            finally:
                await self._answered(owner)

    async def _take(self, owner: str) -> None:
        while await self._store.acquire_lease(self.key, owner, self._hold) is None:
            mark = await self._store.get_state(self._mark) or {}
            wait = float(mark.get("at") or 0.0) - self._clock()
            # A mark in the past: a request is in flight and its answer, at the earliest now, frees the slot
            # one interval later; looking sooner would only cost the store calls.
            await self._sleep(wait if wait > 0 else self.interval)

    async def _answered(self, owner: str) -> None:
        try:
            if await self._store.renew_lease(self.key, owner, self.interval) is not None:
                await self._store.put_state(self._mark, {"at": self._clock() + self.interval})
        except Exception as exc:  # the lease then expires after the hold: slower, never over the quota
            log.warning("answer_spacing_release_failed", budget=self.key, error=type(exc).__name__)
