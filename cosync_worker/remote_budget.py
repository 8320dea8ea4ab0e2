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
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cosync_worker.store.base import Store
from cosync_worker.store.budget import acquire, draw

__all__ = ["BucketShape", "LocalBuckets", "SharedBucket", "bucket_shape", "request_budget"]

_ARRIVAL_SKEW_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class BucketShape:
    rate_per_second: float
    capacity: float


def bucket_shape(limit: int, window_seconds: float) -> BucketShape:
    """Token-bucket parameters that never admit more than ``limit`` requests in any ``window_seconds``."""
    if limit < 1:
        raise ValueError(f"rate limit must be at least 1 request per window, got {limit}")
    if window_seconds <= 0:
        raise ValueError(f"rate window must be positive, got {window_seconds}")
    capacity = max(1, limit // 10)
    refill = max(limit - capacity, 1) / (window_seconds + _ARRIVAL_SKEW_SECONDS)
    return BucketShape(rate_per_second=refill, capacity=float(capacity))


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
    ) -> None:
        if not key:
            raise ValueError("rate budget name must not be empty")
        self.key = key
        self.shape = shape
        self._store = store
        self._local = LocalBuckets()
        self._sleep = sleep
        # One waiter per bucket per process polls the budget; the rest queue here in arrival order. That
        # keeps a crowd of throttled calls from hammering the store, and serves them first come, first served.
        self._turn = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until one request may be sent (``StoreUnavailable`` if the shared store is down)."""
        async with self._turn:
            if self._store is not None:
                await acquire(self._store, self.key, self.shape.rate_per_second, self.shape.capacity)
                return
            rate, capacity = self.shape.rate_per_second, self.shape.capacity
            while (wait := await self._local.take_tokens(self.key, rate, capacity)) > 0:
                await self._sleep(wait)


def request_budget(key: str, store: Store | None, limit: int, window_seconds: float) -> SharedBucket:
    """The budget of an API allowing ``limit`` requests per rolling ``window_seconds``."""
    return SharedBucket(key, bucket_shape(limit, window_seconds), store)
